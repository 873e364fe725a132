"""``manage.py orders ship --org SLUG FILE.csv`` run as an operator runs it: the file checked whole first, shipped in
the foreground with one outcome line per order, nothing shipped twice on a second run, exit 1 when an order failed."""

from __future__ import annotations

import json
import re

import pytest

from marketsync.simulator.core import simulator_token
from tests.manage_cli import operator_shell
from tests.marketplaces.bricklink.helpers import SEED, bricklink_credentials
from tests.marketplaces.bricklink.helpers import simulator as brick_simulator
from tests.marketplaces.refurbed.sim import LoopbackServer


def connect(shell, org: str, marketplace: str, base_url: str, credentials: dict, options: dict | None = None) -> None:
    args = ["connection", "create", "--org", org, "--marketplace", marketplace, "--base-url", base_url]
    if options:
        args += ["--options", json.dumps(options)]
    created = shell.ok(*args, stdin=json.dumps(credentials))
    shell.ok("sync", "--connection", re.search(r"Created connection (\d+)", created).group(1), "--entity", "orders")


@pytest.mark.slow
def test_an_operator_ships_a_file_of_brick_orders(tmp_path):
    shell = operator_shell(tmp_path)
    app = brick_simulator(orders=10)
    bricklink, brickowl = app["bricklink"], app["brickowl"]
    paid = bricklink.control("new_order", {})["order_id"]
    bricklink.control("set_status", {"order_id": paid, "status": "PAID"})
    doomed = bricklink.control("new_order", {})["order_id"]
    bricklink.control("set_status", {"order_id": doomed, "status": "PAID"})
    owl = brickowl.orders[brickowl.control("new_order", {})["order_id"]]["order_id"]
    brickowl.control("set_status", {"order_id": owl, "status_id": 2})
    with LoopbackServer(app) as server:
        shell.ok("organization", "create", "parcels", "--name", "Parcels")
        connect(shell, "parcels", "bricklink", f"{server.base}/bricklink/api/store/v1", bricklink_credentials())
        connect(shell, "parcels", "brickowl", f"{server.base}/brickowl/v1",
                {"api_key": simulator_token("brickowl", SEED)}, {"store_id": "1"})
        bad = tmp_path / "bad.csv"
        bad.write_text(f"marketplace,order_id,carrier,tracking_number\nbricklink,{paid},,BL1\nbricklink,424242,,X\n"
                       f"brickowl,{owl},,\n")
        result = shell.run("orders", "ship", "--org", "parcels", str(bad))
        assert result.returncode == 1
        assert "Line 3: no BrickLink order 424242" in result.stderr and "Line 4: Give a tracking number or a tracking URL" in result.stderr
        assert "nothing was sent" in result.stderr and bricklink.orders[paid]["status"] == "PAID"

        day = tmp_path / "day.csv"
        day.write_text(f"marketplace,order_id,carrier,tracking_number,tracking_url\nbricklink,{paid},,BL1,\n"
                       f"brickowl,{owl},,OWL1,\n")
        dry = shell.ok("orders", "ship", "--org", "parcels", str(day), "--dry-run")
        assert "Dry run: 2 order(s) would ship" in dry and bricklink.orders[paid]["status"] == "PAID"

        out = shell.ok("orders", "ship", "--org", "parcels", str(day))
        assert f"[1/2] Line 2 BrickLink order {paid}: shipped: BrickLink: SHIPPED" in out
        assert f"[2/2] Line 3 Brick Owl order {owl}: shipped" in out and "2 shipped" in out
        assert bricklink.orders[paid]["status"] == "SHIPPED" and brickowl.orders[str(owl)]["status_id"] == 5

        again = shell.ok("orders", "ship", "--org", "parcels", str(day))
        assert again.count("not sent again, already in ship batch") == 2 and "2 skipped" in again

        # Cancelled at BrickLink after the last sync: BrickLink refuses, the command says so and exits 1.
        bricklink.control("set_status", {"order_id": doomed, "status": "CANCELLED"})
        late = tmp_path / "late.csv"
        late.write_text(f"marketplace,order_id,carrier,tracking_number\nbricklink,{doomed},,BL9\n")
        failed = shell.run("orders", "ship", "--org", "parcels", str(late))
        assert failed.returncode == 1 and f"BrickLink order {doomed}: failed" in failed.stdout
        assert "1 order(s) failed" in failed.stderr
