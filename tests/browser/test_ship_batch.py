"""A day's parcels in a real browser: tick a Refurbed, a BrickLink and a Brick Owl order in the order list, give each
its tracking on one form, and watch the batch ship them (the job runs eagerly inside the live server, against the
simulators on loopback). Skips outside CI when chromium or Playwright is missing (see test_workspace.py)."""

from __future__ import annotations

import os

import pytest

from tests.browser.test_ship_orders import three_orders  # noqa: F401 (the fixture: three paid orders, three marketplaces)
from tests.browser.test_workspace import SCREENSHOTS, _login, _page, browser  # noqa: F401 (the browser fixture)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_three_orders_from_three_marketplaces_are_selected_and_shipped_at_once(browser, live_server, three_orders,  # noqa: F811
                                                                               eager_celery):
    app, orders = three_orders
    context, page = _page(browser, live_server)
    _login(page, live_server)
    page.goto(f"{live_server.url}/orders/?status=ready")
    for order in orders:
        page.locator(f"tr[data-order='{order.pk}'] input[type=checkbox]").check()
    page.click("#ship-selected")
    page.wait_for_selector("#ship-form")
    rf, bl, bo = orders
    page.fill(f"input[name=carrier_{rf.pk}]", "dhl")
    page.fill(f"input[name=tracking_number_{rf.pk}]", "00340434161094042557")
    page.fill(f"input[name=tracking_number_{bl.pk}]", "1Z999AA10123456784")
    page.fill(f"input[name=tracking_number_{bo.pk}]", "LX123456789DE")
    page.screenshot(path=str(SCREENSHOTS / "ship-batch-form.png"), full_page=True)
    page.click("#ship-submit")
    page.wait_for_selector("#batch-rows")
    page.wait_for_function("document.querySelectorAll('#batch-rows tr[data-state=shipped]').length === 3")
    page.screenshot(path=str(SCREENSHOTS / "ship-batch-result.png"), full_page=True)
    assert page.locator("#batch-summary").inner_text().startswith("Done.")
    assert app["refurbed"].item_states[app["refurbed"].index_of[int(rf.external_id)]] == ["SHIPPED"]
    assert app["bricklink"].orders[int(bl.external_id)]["status"] == "SHIPPED"
    assert app["brickowl"].orders[bo.external_id]["status_id"] == 5
    context.close()
