"""Before stock push goes on: an owner sees the drift on the reconcile page, pushes the differences, reads the push
on the item's page and switches stock push on from the connections page (Playwright + chromium, live_server).
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
