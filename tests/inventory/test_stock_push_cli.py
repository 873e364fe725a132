"""Reconcile, push and the stock push switch, from a shell as an operator runs them (a process of its own)."""

from __future__ import annotations

import json
import re
import threading

import pytest
from werkzeug.serving import make_server

from marketsync.simulator.core import simulator_token
from tests.manage_cli import operator_shell
from tests.marketplaces.bricklink.helpers import SEED, bricklink_credentials, simulator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_sim():
    app = simulator(orders=0)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_an_operator_reconciles_applies_the_differences_and_turns_stock_push_on(tmp_path, live_sim):
    app, url = live_sim
    shell = operator_shell(tmp_path)
    shell.ok("organization", "create", "acme", "--name", "Acme Bricks")
    ids = {}
    for marketplace, base, credentials, options in [
        ("bricklink", f"{url}/bricklink/api/store/v1", bricklink_credentials(), {}),
        ("brickowl", f"{url}/brickowl/v1", {"api_key": simulator_token("brickowl", SEED)}, {"store_id": "1"}),
    ]:
        created = shell.ok("connection", "create", "--org", "acme", "--marketplace", marketplace, "--base-url", base,
                           "--options", json.dumps(options), stdin=json.dumps(credentials))
        ids[marketplace] = re.search(r"Created connection (\d+)", created).group(1)
        shell.ok("sync", "--connection", ids[marketplace], "--entity", "inventory")

    # Brick Owl lots joined BrickLink lots' items: their quantities differ from the items' available.
    rows = [json.loads(line) for line in shell.ok("inventory", "reconcile", "--org", "acme", "--json").splitlines()]
    assert rows and {r["marketplace"] for r in rows} == {"brickowl"}
    assert all(r["marketplace_quantity"] != r["available"] and r["stock_push"] is False for r in rows)
    before = {lot_id: lot["qty"] for lot_id, lot in app["brickowl"].lots.items()}

    applied = shell.ok("inventory", "reconcile", "--org", "acme", "--apply")
    assert f"{len(rows)} linked listing(s) differ from local available." in applied and f"{len(rows)} sent" in applied
    for r in rows:
        assert int(app["brickowl"].lots[r["id"]]["qty"]) == r["available"] != int(before[r["id"]])
    assert "0 linked listing(s) differ" in shell.ok("inventory", "reconcile", "--org", "acme")

    off = shell.ok("connection", "toggles", ids["brickowl"])
    assert re.search(r"stock_push\s+off", off)
    on = shell.ok("connection", "toggles", ids["brickowl"], "--enable", "stock_push")
    assert "Changed 1 entity sync(s)." in on and re.search(r"stock_push\s+on", on)
    pushed = shell.ok("inventory", "push", "--org", "acme")
    assert pushed.strip().endswith("0 sent, 0 unchanged, 0 failed, 0 retrying, 0 waiting, 0 skipped.")

    unknown = shell.run("inventory", "push", "--org", "nope")
    assert unknown.returncode != 0 and "No organization with slug 'nope'." in unknown.stderr and "Traceback" not in unknown.stderr
