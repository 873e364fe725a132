"""Shared builders for the Back Market tests: the simulator in-process and a connection on it."""

from __future__ import annotations

import httpx

from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
from tests.factories import make_connection

SEED = 42


def build_sim(**overrides):
    config = SimulatorConfig(marketplaces=("backmarket",), speed=0, seed=SEED, **overrides)
    return build_simulator(config)


class CountingTransport(httpx.WSGITransport):
    """The simulator in-process, counting the requests that reach it."""

    def __init__(self, app) -> None:
        super().__init__(app=app)
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


def bm_connection(organization, **fields):
    return make_connection(
        organization, "backmarket", credentials={"api_key": simulator_token("backmarket", SEED)},
        base_url="http://sim/backmarket", platform="eu", options={"locale": "fr-fr"}, **fields,
    )
