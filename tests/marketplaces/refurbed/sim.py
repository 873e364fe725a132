"""Builders shared by the Refurbed, engine, offers and e2e tests: the simulator in-process and a connection to it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from connections.models import EntitySync
from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
from tests.factories import make_connection, make_organization

SEED = 42
START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_sim(**overrides):
    config = SimulatorConfig(marketplaces=("refurbed",), speed=0, seed=SEED, orders=300, new_order_every_seconds=0,
                             start=overrides.pop("start", None))
    for key, value in overrides.items():
        setattr(config, key, value)
    return build_simulator(config)


def token(purpose: str = "api_key", seed: int = SEED) -> str:
    return simulator_token("refurbed", seed, purpose)


def transport(app) -> httpx.WSGITransport:
    return httpx.WSGITransport(app=app)


def refurbed_connection(organization=None, *, api_key: str | None = None, base_url: str = "http://sim/refurbed"):
    organization = organization or make_organization("refurb")
    return make_connection(organization, "refurbed", credentials={"api_key": api_key or token()}, base_url=base_url)


def entity_sync(connection, entity: str) -> EntitySync:
    return EntitySync.objects.get(connection=connection, entity=entity)
