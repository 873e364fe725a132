"""Shipping a Refurbed, a BrickLink and a Brick Owl order from their pages in a real browser (Playwright + Debian's
chromium against live_server); the simulators are served on loopback and the connections point at them.
Skips outside CI when chromium or Playwright is missing (see test_workspace.py)."""

from __future__ import annotations

import os

import pytest

from tests.browser.test_workspace import PASSWORD, SCREENSHOTS, _login, _page, browser  # noqa: F401 (the browser fixture)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SEED = 11


@pytest.fixture
def three_orders():
    from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
    from marketsync.sync.refresh import record_refresh
    from orders.models import Order
    from tests.factories import make_connection, make_organization, make_user
    from tests.marketplaces.bricklink.helpers import bricklink_credentials
    from tests.marketplaces.refurbed.sim import LoopbackServer

    app = build_simulator(SimulatorConfig(marketplaces=("refurbed", "bricklink", "brickowl"), seed=SEED, orders=20, speed=0,
                                          new_order_every_seconds=0))
    with LoopbackServer(app) as server:
        org = make_organization("demo", "Demo Shop")
        make_user("ada", org, role="owner", password=PASSWORD)
        refurbed = make_connection(org, "refurbed", credentials={"api_key": simulator_token("refurbed", SEED)},
                                   base_url=f"{server.base}/refurbed")
        bricklink = make_connection(org, "bricklink", credentials=bricklink_credentials(SEED),
                                    base_url=f"{server.base}/bricklink/api/store/v1")
        brickowl = make_connection(org, "brickowl", credentials={"api_key": simulator_token("brickowl", SEED)},
                                   base_url=f"{server.base}/brickowl/v1", options={"store_id": "1"})
        rf = app["refurbed"]
        index = next(i for i, s in enumerate(rf.item_states) if len(s) == 1)
        rf.item_states[index] = ["ACCEPTED"]
        bl_id = app["bricklink"].control("new_order", {})["order_id"]
        app["bricklink"].control("set_status", {"order_id": bl_id, "status": "PAID"})
        bo = app["brickowl"].orders[app["brickowl"].control("new_order", {})["order_id"]]
        app["brickowl"].control("set_status", {"order_id": bo["order_id"], "status_id": 2})
        orders = []
        for connection, external_id in ((refurbed, rf.order_ids[index]), (bricklink, bl_id), (brickowl, bo["order_id"])):
            record_refresh(connection=connection, entity="orders", external_id=str(external_id))
            orders.append(Order.objects.get(connection=connection, external_id=str(external_id)))
        yield app, orders


def test_a_refurbed_a_bricklink_and_a_brickowl_order_are_shipped_from_their_pages(browser, live_server, three_orders):  # noqa: F811
    app, orders = three_orders
    context, page = _page(browser, live_server)
    _login(page, live_server)
    for order, fields in zip(orders, [
        {"carrier": "dhl", "tracking_number": "00340434161094042557"},
        {"tracking_number": "1Z999AA10123456784", "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784"},
        {"tracking_number": "LX123456789DE"},
    ], strict=True):
        page.goto(f"{live_server.url}/orders/{order.pk}/")
        form = page.locator("form.ship-form")
        for name, value in fields.items():
            form.locator(f"input[name={name}]").fill(value)
        form.locator("button[data-action=ship]").click()
        page.wait_for_selector(f"text=Order {order.external_id} marked shipped.")
        assert page.locator("form.ship-form").count() == 0  # shipped: nothing more to ship
        page.screenshot(path=str(SCREENSHOTS / f"shipped-{order.marketplace}.png"), full_page=True)
    rf, bl, bo = orders
    assert app["refurbed"].item_states[app["refurbed"].index_of[int(rf.external_id)]] == ["SHIPPED"]
    assert app["bricklink"].orders[int(bl.external_id)]["status"] == "SHIPPED"
    assert app["brickowl"].orders[bo.external_id]["status_id"] == 5
    context.close()
