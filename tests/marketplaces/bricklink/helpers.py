"""Shared builders for the BrickLink and Brick Owl tests: a simulator on an in-process transport, connections on it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from connections.models import Connection, EntitySync
from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
from marketsync.sync.runner import run_entity_sync
from tests.factories import make_connection, make_organization

SEED = 11
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


class CountingTransport(httpx.BaseTransport):
    """The simulator in process, counting every request that reaches it."""

    def __init__(self, app) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def simulator(orders: int = 30, **overrides):
    config = SimulatorConfig(seed=SEED, orders=orders, speed=0, start=START, new_order_every_seconds=0,
                             marketplaces=("bricklink", "brickowl"))
    for key, value in overrides.items():
        setattr(config, key, value)
    return build_simulator(config)


def bricklink_credentials(seed: int = SEED) -> dict[str, str]:
    return {p: simulator_token("bricklink", seed, p) for p in ("consumer_key", "consumer_secret", "token_value", "token_secret")}


def bricklink_connection(organization=None, **fields) -> Connection:
    organization = organization or make_organization("bricks")
    return make_connection(organization, "bricklink", credentials=bricklink_credentials(),
                           base_url="http://sim/bricklink/api/store/v1", **fields)


def brickowl_connection(organization=None, **fields) -> Connection:
    organization = organization or make_organization("owls")
    fields.setdefault("options", {"store_id": "1"})
    return make_connection(organization, "brickowl", credentials={"api_key": simulator_token("brickowl", SEED)},
                           base_url="http://sim/brickowl/v1", **fields)


def entity_sync(connection: Connection, entity: str) -> EntitySync:
    return EntitySync.objects.get(connection=connection, entity=entity)


def sync(connection: Connection, entity: str, transport):
    """One forced sync of ``entity`` through the transport; it must succeed."""
    outcome = run_entity_sync(entity_sync(connection, entity).pk, transport=transport, force=True)
    assert outcome.status == "ok", outcome.error
    return outcome


def synced_bricklink(orders: int = 30):
    """A BrickLink store on the simulator with its inventory and orders imported; the transport's log cleared."""
    sim = simulator(orders=orders)
    transport = CountingTransport(sim)
    connection = bricklink_connection()
    sync(connection, "inventory", transport)
    sync(connection, "orders", transport)
    transport.requests.clear()
    return sim, transport, connection
