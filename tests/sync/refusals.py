"""Builders for the refused-call tests: one simulator of the four marketplaces in process, a connection to each,
and how each marketplace refuses a call with a known key (403, or BrickLink's IP check) and then answers again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from connections.models import Connection
from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
from tests.factories import make_connection

SEED = 7
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
BACKMARKET_403 = {"error": {"code": "forbidden", "message": "ingestion channel could be disabled"}}


def build_sim():
    return build_simulator(SimulatorConfig(seed=SEED, orders=12, speed=0, start=START, new_order_every_seconds=0))


class SimTransport(httpx.BaseTransport):
    """The simulator in process. Back Market's simulator has no JSON 403 (its ``forbidden`` fault is the WAF page,
    a transient error): while ``backmarket_refuses`` is set, Back Market calls get the documented JSON 403 here."""

    def __init__(self, app) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.backmarket_refuses = False
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.backmarket_refuses and request.url.path.startswith("/backmarket/"):
            return httpx.Response(403, json=BACKMARKET_403)
        return self.inner.handle_request(request)


def connect(organization, marketplace: str, base: str = "http://sim") -> Connection:
    """A connection of ``organization`` to the simulator's ``marketplace``, with the keys the simulator accepts."""
    if marketplace == "refurbed":
        return make_connection(organization, "refurbed", credentials={"api_key": simulator_token("refurbed", SEED)},
                               base_url=f"{base}/refurbed")
    if marketplace == "backmarket":
        return make_connection(organization, "backmarket", credentials={"api_key": simulator_token("backmarket", SEED)},
                               base_url=f"{base}/backmarket", platform="eu", options={"locale": "fr-fr"})
    if marketplace == "bricklink":
        credentials = {p: simulator_token("bricklink", SEED, p) for p in ("consumer_key", "consumer_secret", "token_value", "token_secret")}
        return make_connection(organization, "bricklink", credentials=credentials, base_url=f"{base}/bricklink/api/store/v1")
    return make_connection(organization, "brickowl", credentials={"api_key": simulator_token("brickowl", SEED)},
                           base_url=f"{base}/brickowl/v1", options={"store_id": "1"})


@dataclass(frozen=True)
class Refusal:
    """How one marketplace refuses a known key's calls, what it says about it, and how it answers again."""

    marketplace: str
    says: str  # a phrase of the message the owner reads

    def start(self, app, transport: SimTransport | None = None) -> None:
        if self.marketplace == "bricklink":
            app["bricklink"].control("ip_mismatch", {"on": True})
        elif self.marketplace == "backmarket":
            transport.backmarket_refuses = True
        else:
            app[self.marketplace].faults.force("forbidden", 1000)

    def stop(self, app, transport: SimTransport | None = None) -> None:
        if self.marketplace == "bricklink":
            app["bricklink"].control("ip_mismatch", {"on": False})
        elif self.marketplace == "backmarket":
            transport.backmarket_refuses = False
        else:
            app[self.marketplace].faults.forced.clear()


REFUSALS = [
    Refusal("refurbed", "lacks the permission for this call (403)"),
    Refusal("backmarket", "ingestion channel could be disabled"),
    Refusal("bricklink", "BrickLink refuses calls from this server's IP address (127.0.0.1)"),
    Refusal("brickowl", "(403): check that the API key is the right one and has the order and inventory permissions"),
]
