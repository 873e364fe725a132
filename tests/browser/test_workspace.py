"""The workspace in a real browser: Playwright driving Debian's chromium (headless) against live_server.

The Refurbed simulator is served on loopback and the connection points at it, so "Sync now" runs the real
sync (Celery eager, inside the live server) over HTTP. Screenshots go to ``tests/screenshots/``.
Outside CI these tests skip when chromium or Playwright is missing; in CI that is a failure.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import threading
from pathlib import Path

import pytest

from conftest import require_server

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
SEED = 7
PASSWORD = "browser-test-pw-1"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        require_server("chromium is not installed (apt-get install chromium); the browser tests need it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_server("the playwright Python package is not installed")
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def simulator():
    """The Refurbed simulator on a free loopback port, in a thread."""
    from werkzeug.serving import make_server

    from marketsync.simulator.core import SimulatorConfig, build_simulator

    app = build_simulator(SimulatorConfig(marketplaces=("refurbed",), seed=SEED, orders=40, speed=0, new_order_every_seconds=0))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def workspace(simulator, eager_celery, settings):
    from connections.models import EntitySync
    from marketsync.simulator.core import simulator_token
    from tests.factories import make_connection, make_organization, make_user

    settings.ORDER_POLL_SECONDS = 1
    app, base = simulator
    org = make_organization("demo", "Demo Shop")
    make_user("ada", org, role="owner", password=PASSWORD)
    connection = make_connection(
        org, "refurbed", credentials={"api_key": simulator_token("refurbed", SEED)}, base_url=f"{base}/refurbed"
    )
    # Offers and market offers are not what these tests look at: keep "Sync now" quick.
    EntitySync.objects.filter(connection=connection).exclude(entity="orders").update(enabled=False)
    return {"org": org, "connection": connection, "sim": app}


def _page(browser, live_server):
    context = browser.new_context(accept_downloads=True, timezone_id="Europe/Berlin", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    page = context.new_page()
    return context, page


def _login(page, live_server):
    page.goto(f"{live_server.url}/orders/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/orders/")


def test_merchant_syncs_filters_opens_and_exports_orders(browser, live_server, workspace):
    from orders.models import Order

    context, page = _page(browser, live_server)
    _login(page, live_server)
    assert page.locator("#no-orders").is_visible()

    # Sync now on the health dashboard fills the order book from the simulator.
    page.click("text=Connections")
    page.click("button.sync-now")
    page.wait_for_selector("text=Sync of Refurbed started")
    row = page.locator("tr[data-entity=orders]")
    assert "40 seen · 40 new" in row.locator("td.counts").inner_text()
    assert "never" not in row.locator("td.last-success").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "sync-health.png"), full_page=True)

    page.click("nav.mainnav >> text=Orders")
    rows = page.locator("table.orders tbody tr")
    assert rows.count() == 40
    page.screenshot(path=str(SCREENSHOTS / "order-book.png"), full_page=True)

    # Filter by a status tab, then search by an order id.
    ready = Order.objects.filter(organization=workspace["org"], status__in=["new", "accepted"]).count()
    page.click("nav.tabs >> [data-tab=ready]")
    page.wait_for_url("**status=ready**")
    assert page.locator("table.orders tbody tr").count() == min(ready, 50) if ready else page.locator("#no-orders").is_visible()
    target = Order.objects.filter(organization=workspace["org"]).order_by("id")[3]
    page.goto(f"{live_server.url}/orders/")
    page.fill("input[name=q]", target.external_id)
    page.click("#order-filters button[type=submit]")
    page.wait_for_url(f"**q={target.external_id}**")
    assert page.locator("table.orders tbody tr").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "order-search.png"), full_page=True)

    # Open the order.
    page.click(f"table.orders >> text={target.external_id}")
    page.wait_for_url(f"**/orders/{target.pk}/")
    assert page.locator("h1").inner_text().endswith(target.external_id)
    assert page.locator("table.items tbody tr").count() == target.items.count()
    page.click("details.raw summary")
    assert target.external_id in page.locator("#raw-payload").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "order-detail.png"), full_page=True)

    # Export the whole list as CSV and check its rows.
    page.goto(f"{live_server.url}/orders/")
    with page.expect_download() as info:
        page.click("text=Export CSV")
    text = Path(info.value.path()).read_text()
    exported = list(csv.DictReader(io.StringIO(text)))
    expected = list(Order.objects.filter(organization=workspace["org"]).order_by("-placed_at", "-id").values_list("external_id", flat=True))
    assert [r["order_id"] for r in exported] == expected
    assert all(r["marketplace"] == "refurbed" for r in exported)
    context.close()


def test_new_orders_appear_live_behind_a_cue(browser, live_server, workspace):
    from connections.models import EntitySync
    from marketsync.sync.runner import run_entity_sync
    from orders.models import Order

    orders_sync = EntitySync.objects.get(connection=workspace["connection"], entity="orders")
    assert run_entity_sync(orders_sync.pk).status == "ok"
    before = Order.objects.count()
    context, page = _page(browser, live_server)
    _login(page, live_server)
    first_row = page.locator("table.orders tbody tr").first.get_attribute("data-order")
    assert page.locator("#new-orders-cue").count() == 0

    workspace["sim"]["refurbed"].control("add_orders", {"count": 3})
    assert run_entity_sync(orders_sync.pk, force=True).status == "ok"
    assert Order.objects.count() == before + 3
    page.wait_for_selector("#new-orders-cue", timeout=10000)
    assert "3 new orders" in page.locator("#new-orders-cue").inner_text()
    # Rows did not jump under the cursor: the list is unchanged until the merchant asks.
    assert page.locator("table.orders tbody tr").first.get_attribute("data-order") == first_row
    page.screenshot(path=str(SCREENSHOTS / "order-book-live-cue.png"), full_page=False)
    page.click("#new-orders-cue")
    page.wait_for_load_state()
    newest = Order.objects.order_by("-placed_at", "-id").first()
    page.wait_for_selector(f"tr[data-order='{newest.pk}']")
    context.close()


def test_phone_layout_and_time_zone(browser, live_server, workspace):
    from connections.models import EntitySync
    from marketsync.sync.runner import run_entity_sync

    run_entity_sync(EntitySync.objects.get(connection=workspace["connection"], entity="orders").pk)
    context = browser.new_context(timezone_id="Asia/Tokyo", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    _login(page, live_server)
    page.reload()  # the tz cookie is set by the first page
    assert "Asia/Tokyo" in page.locator("footer").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "order-book-phone.png"), full_page=False)
    context.close()


def test_merchant_pages_through_the_stock_list_and_back(browser, live_server, workspace):
    from inventory.models import InventoryItem

    org = workspace["org"]
    InventoryItem.objects.bulk_create(
        InventoryItem(organization=org, part_number=f"30{n % 9:02d}", item_type=f"T{n}", color_id=str(n % 5), condition="new",
                      location=f"B{n % 12:02d}", name=f"Brick {n}", quantity_on_hand=n) for n in range(230)
    )
    shelf = list(InventoryItem.objects.filter(organization=org).order_by("location", "part_number", "color_id", "id")
                 .values_list("pk", flat=True))
    context, page = _page(browser, live_server)
    _login(page, live_server)
    page.goto(f"{live_server.url}/inventory/")

    def shown() -> list[int]:
        links = page.locator("table.inventory tbody td[data-label=Part] a")
        return [int(href.rstrip("/").rsplit("/", 1)[-1]) for href in links.evaluate_all("els => els.map(e => e.getAttribute('href'))")]

    seen = shown()
    assert page.locator("nav.pager a[rel=prev]").count() == 0
    page.click("nav.pager >> text=Next")
    page.wait_for_url("**after=**")
    seen += shown()
    page.screenshot(path=str(SCREENSHOTS / "inventory-filters.png"), full_page=False)
    page.locator("nav.pager").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "inventory-pager.png"), full_page=False)
    page.click("nav.pager >> text=Next")
    page.wait_for_url("**after=**")
    seen += shown()
    assert seen == shelf and page.locator("nav.pager a[rel=next]").count() == 0
    page.click("nav.pager >> text=Previous")
    page.wait_for_url("**before=**")
    assert shown() == shelf[100:200]
    page.click("nav.pager >> text=First")
    assert shown() == shelf[:100]
    context.close()


def test_owner_sees_a_skipped_order_on_the_health_page_and_dismisses_it(browser, live_server, workspace):
    """An order the database cannot hold is skipped by a real sync; the next (incremental) run does not read it
    again, yet the owner still finds it named on the connections page until they dismiss it."""
    from connections.models import EntitySync
    from marketsync.sync.runner import run_entity_sync
    from tests.sync.test_bad_records import raw, refurbed_order_value

    app, connection = workspace["sim"], workspace["connection"]
    bad_id = str(app["refurbed"].order_ids[3])
    transport = refurbed_order_value(app, bad_id, "total_charged", raw('"99999999999.00"'))
    sync = EntitySync.objects.get(connection=connection, entity="orders")
    assert run_entity_sync(sync.pk, transport=transport).bad_records
    assert not run_entity_sync(sync.pk, transport=transport).bad_records  # not read again

    context, page = _page(browser, live_server)
    _login(page, live_server)
    page.click("text=Connections")
    kept = page.locator("tr[data-entity=orders] details.skipped-records")
    assert "1 record skipped, not stored yet" in kept.locator("summary").inner_text()
    kept.locator("summary").click()
    assert bad_id in kept.inner_text() and "total_amount 99999999999.00" in kept.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "sync-health-skipped.png"), full_page=True)
    kept.locator("button.dismiss-skipped").click()
    page.wait_for_selector("text=skipped records dismissed")
    assert page.locator("tr[data-entity=orders] details.skipped-records").count() == 0
    context.close()
