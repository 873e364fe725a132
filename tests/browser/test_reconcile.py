"""Before stock push goes on: an owner sees the drift on the reconcile page, pushes the differences, reads the push
on the item's page and switches stock push on from the connections page; and the main flow end to end: link an
offer on the unlinked page, see its drift, reconcile, the simulator's offer shows local available (Playwright +
chromium, live_server; screenshots reconcile-drift.png and reconcile-pushed.png).
Skips outside CI when chromium or Playwright is missing (see test_workspace.py)."""

from __future__ import annotations

import os

import pytest

from tests.browser.test_workspace import PASSWORD, _login, _page, browser  # noqa: F401 (the browser fixture)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_owner_reconciles_then_switches_stock_push_on(browser, live_server):  # noqa: F811
    from connections.models import Connection
    from inventory.models import StockPush
    from tests.factories import make_user
    from tests.inventory.test_pages import _shop

    org, connection = _shop("demo")
    make_user("ada", org, role="owner", password=PASSWORD)
    context, page = _page(browser, live_server)
    _login(page, live_server)
    page.goto(f"{live_server.url}/inventory/")
    page.click("main >> text=Reconcile")  # the top bar's Stock menu holds one too (hidden until hovered)
    page.wait_for_url(f"{live_server.url}/inventory/reconcile/")
    rows = page.locator("#reconcile-rows tbody tr")
    assert rows.count() == 2
    assert "+3" in page.locator("#reconcile-rows").inner_text()
    page.click("#reconcile-push button")
    page.wait_for_selector("text=Queued 2 push(es)")
    assert StockPush.objects.filter(organization=org, forced=True).count() == 2
    page.locator("#reconcile-rows a").first.click()
    assert "reconcile" in page.locator("#stock-pushes").inner_text()
    page.goto(f"{live_server.url}/connections/")
    page.click(f"#connection-{connection.pk} .stock-push-toggle")
    page.wait_for_selector("text=stock push switched on")
    assert Connection.objects.get(pk=connection.pk).stock_push
    context.close()


def test_an_owner_links_an_offer_sees_its_drift_and_reconciles_it(browser, live_server):  # noqa: F811
    """The main flow: link an unlinked offer to a stock item on the unlinked page, see its drift on the reconcile
    page, push the difference, and after the drain the offer at Refurbed (the simulator) shows local available."""
    import httpx

    from connections.models import EntitySync
    from inventory.models import InventoryItem, StockPush
    from inventory.push import stock_push_drain
    from inventory.services import stock_unlink
    from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
    from marketsync.sync.runner import run_entity_sync
    from offers.models import Offer
    from tests.browser.test_workspace import SCREENSHOTS
    from tests.factories import make_connection, make_organization, make_user

    sim = build_simulator(SimulatorConfig(marketplaces=("refurbed",), seed=3, orders=0, speed=0, new_order_every_seconds=0))
    transport = httpx.WSGITransport(app=sim)
    org = make_organization("phones")
    refurbed = make_connection(org, "refurbed", credentials={"api_key": simulator_token("refurbed", 3)},
                               base_url="http://sim/refurbed")
    run_entity_sync(EntitySync.objects.get(connection=refurbed, entity="offers").pk, transport=transport, force=True)
    offers = list(Offer.objects.filter(connection=refurbed, stock_item__isnull=False).order_by("pk"))
    keep = next(o for o in offers if o.stock >= 1)
    moved = next(o for o in offers if o.pk != keep.pk and o.stock != keep.stock)
    stock_unlink(organization=org, connection_id=refurbed.pk, external_id=moved.external_id)  # waits under Unlinked
    item = InventoryItem.objects.get(pk=keep.stock_item_id)
    make_user("ada", org, role="owner", password=PASSWORD)
    context, page = _page(browser, live_server)
    _login(page, live_server)

    # Link it: the offer now sells the other offer's item.
    page.goto(f"{live_server.url}/inventory/unlinked/?kind=offer")
    row = page.locator("#unlinked tbody tr", has_text=moved.external_id)
    row.locator("input[name=item]").fill(str(item.pk))
    row.locator("button", has_text="Link").click()
    page.wait_for_load_state()
    assert Offer.objects.get(pk=moved.pk).stock_item_id == item.pk

    # See the drift: exactly that offer differs from local available.
    page.goto(f"{live_server.url}/inventory/reconcile/")
    table = page.locator("#reconcile-rows").inner_text()
    assert page.locator("#reconcile-rows tbody tr").count() == 1 and moved.external_id in table
    drift = moved.stock - item.quantity_available
    assert f"{drift:+d}" in table
    page.screenshot(path=str(SCREENSHOTS / "reconcile-drift.png"), full_page=True)

    # Reconcile: queue the push, let the worker drain it, and the page has nothing left to reconcile.
    page.click("#reconcile-push button")
    page.wait_for_selector("text=Queued 1 push(es)")
    assert StockPush.objects.filter(organization=org, forced=True, target_id=moved.pk).count() == 1
    result = stock_push_drain(organization_id=org.pk, transport=transport)
    assert result.sent == 1 and result.failed == 0
    assert sim["refurbed"].offers[int(moved.external_id)]["stock"] == item.quantity_available
    page.goto(f"{live_server.url}/inventory/reconcile/")
    assert page.locator("#reconcile-rows tbody tr").count() == 0
    page.goto(f"{live_server.url}/inventory/{item.pk}/")
    pushes = page.locator("#stock-pushes").inner_text()
    assert "reconcile" in pushes and moved.external_id in pushes
    page.screenshot(path=str(SCREENSHOTS / "reconcile-pushed.png"), full_page=True)
    context.close()
