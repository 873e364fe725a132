"""``manage.py orders ship`` ships an order of any marketplace, run as an operator runs it (a process of its own)."""

from __future__ import annotations

import json
import re

import pytest

from marketsync.simulator.core import simulator_token
from tests.manage_cli import operator_shell
from tests.marketplaces.bricklink.helpers import SEED as BRICK_SEED
from tests.marketplaces.bricklink.helpers import simulator as brick_simulator
from tests.marketplaces.refurbed.sim import SEED as REFURBED_SEED
from tests.marketplaces.refurbed.sim import LoopbackServer, make_sim


def connection_of(shell, org: str, marketplace: str, base_url: str, credentials: dict, options: dict | None = None) -> str:
    shell.ok("organization", "create", org, "--name", org.title())
    args = ["connection", "create", "--org", org, "--marketplace", marketplace, "--base-url", base_url]
    if options:
        args += ["--options", json.dumps(options)]
    created = shell.ok(*args, stdin=json.dumps(credentials))
    connection_id = re.search(r"Created connection (\d+)", created).group(1)
    shell.ok("sync", "--connection", connection_id, "--entity", "orders")
    return connection_id


@pytest.mark.slow
def test_an_operator_ships_a_brickowl_and_a_refurbed_order_from_the_shell(tmp_path):
    shell = operator_shell(tmp_path)
    bricks = brick_simulator(orders=20)
    owl = bricks["brickowl"]
    paid = owl.orders[owl.control("new_order", {})["order_id"]]  # held: no plan moves it on
    owl.control("set_status", {"order_id": paid["order_id"], "status_id": 2})
    unpaid = owl.orders[owl.control("new_order", {})["order_id"]]
    owl.control("set_status", {"order_id": unpaid["order_id"], "status_id": 1})
    refurbed_app = make_sim(orders=40)
    refurbed = refurbed_app["refurbed"]
    index = next(i for i, s in enumerate(refurbed.item_states) if len(s) == 1)
    refurbed.item_states[index] = ["ACCEPTED"]
    with LoopbackServer(bricks) as brick_server, LoopbackServer(refurbed_app) as refurbed_server:
        owl_id = connection_of(shell, "owls", "brickowl", f"{brick_server.base}/brickowl/v1",
                               {"api_key": simulator_token("brickowl", BRICK_SEED)}, {"store_id": "1"})
        refused = shell.run("orders", "ship", str(unpaid["order_id"]), "--connection", owl_id, "--tracking-number", "LX1")
        assert refused.returncode == 1 and "ships paid orders" in refused.stderr and refused.stdout == ""
        out = shell.ok("orders", "ship", str(paid["order_id"]), "--connection", owl_id, "--tracking-number", "LX42DE")
        assert out == f"Order {paid['order_id']} shipped: state Shipped, tracking LX42DE.\n"
        assert owl.orders[str(paid["order_id"])]["status_id"] == 5

        refurbed_id = connection_of(shell, "refurb", "refurbed", f"{refurbed_server.base}/refurbed",
                                    {"api_key": simulator_token("refurbed", REFURBED_SEED)})
        order_id = refurbed.order_ids[index]
        out = shell.ok("orders", "ship", str(order_id), "--connection", refurbed_id, "--carrier", "dhl",
                       "--tracking-number", "00340434")
        assert out.startswith(f"Order {order_id} shipped: state SHIPPED")
        assert refurbed.item_states[index] == ["SHIPPED"]
