"""The simulator's accounts (many merchants per marketplace) and its latency knob."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from marketsync.marketplaces.backmarket.client import BackMarketClient
from marketsync.marketplaces.bricklink.client import BrickLinkClient
from marketsync.marketplaces.brickowl.client import BrickOwlClient
from marketsync.marketplaces.refurbed.client import RefurbedClient
from marketsync.simulator.core import build_simulator, simulator_token
from marketsync.sync.errors import AuthError

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SEED = 42
MARKETS = ("refurbed", "backmarket", "bricklink", "brickowl")


def client(market: str, http: httpx.Client, seed: int):
    """Our own client of ``market`` with the simulator's credentials for the merchant seeded with ``seed``."""
    host = "http://sim"
    if market == "refurbed":
        return RefurbedClient(http=http, token=simulator_token(market, seed), base_url=f"{host}/refurbed")
    if market == "backmarket":
        return BackMarketClient(http=http, api_key=simulator_token(market, seed), base_url=f"{host}/backmarket")
    if market == "bricklink":
        credentials = {p: simulator_token(market, seed, p) for p in ("consumer_key", "consumer_secret", "token_value",
                                                                      "token_secret")}
        return BrickLinkClient(http=http, credentials=credentials, base_url=f"{host}/bricklink/api/store/v1")
    return BrickOwlClient(http=http, api_key=simulator_token(market, seed), base_url=f"{host}/brickowl/v1")


@pytest.mark.parametrize("market", MARKETS)
def test_a_merchants_credentials_reach_its_own_account_only(market):
    app = build_simulator(accounts=3, orders=2, speed=0, start=START)
    with httpx.Client(transport=httpx.WSGITransport(app=app)) as http:
        client(market, http, SEED + 2).probe()
        assert app.account(market, 2).request_log and not app[market].request_log
        assert app.accounts[market]._built.keys() == {0, 2}  # account 1 was never asked for: never built
        client(market, http, SEED).probe()  # account 0: the simulator as it always was
        assert len(app[market].request_log) == 1 and len(app.account(market, 2).request_log) == 1
        with pytest.raises(AuthError):
            client(market, http, SEED + 3).probe()  # beyond the accounts: refused like any unknown key


def test_accounts_hold_their_own_data_and_share_the_marketplaces_faults():
    app = build_simulator(accounts=2, orders=5, speed=0, start=START, latency_ms=7, marketplaces=("brickowl",))
    first, second = app.account("brickowl", 0), app.account("brickowl", 1)
    assert (first.key, second.key) == (simulator_token("brickowl", SEED), simulator_token("brickowl", SEED + 1))
    assert first.orders.keys() != second.orders.keys() or first.orders != second.orders
    assert second.faults is first.faults and first.faults.latency_ms == 7
    with pytest.raises(IndexError):
        app.account("brickowl", 2)


def test_one_account_by_default():
    app = build_simulator(orders=1, speed=0, start=START, marketplaces=("refurbed",))
    assert app.accounts == {} and app.account("refurbed", 0) is app["refurbed"]
    assert app["refurbed"].faults.latency_ms == 0


def test_runsimulator_latency_ms_delays_every_marketplace_request(tmp_path):
    """``manage.py runsimulator --latency-ms`` as a bench starts it: a marketplace answers after the round trip, the
    control endpoints at once."""
    import socket
    import subprocess
    import sys
    import time

    from tests.manage_cli import ROOT, operator_shell

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    shell = operator_shell(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runsimulator", "--port", str(port), "--orders", "3", "--speed", "0",
         "--marketplaces", "refurbed", "--latency-ms", "400"],
        cwd=ROOT, env=shell.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                started = time.monotonic()
                httpx.get(f"{base}/_sim/state", timeout=2).raise_for_status()
                control = time.monotonic() - started
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.2)
        with httpx.Client() as http:
            refurbed = RefurbedClient(http=http, token=simulator_token("refurbed", SEED), base_url=f"{base}/refurbed")
            started = time.monotonic()
            refurbed.call("OrderService", "ListOrders", {"pagination": {"limit": 1}})
            answered = time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert answered >= 0.4, answered
    assert control < 0.4, control
