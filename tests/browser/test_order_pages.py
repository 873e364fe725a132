"""An order of each marketplace, opened in a real browser (Playwright driving Debian's chromium, headless): what a
merchant reads — the address as a label with a copy button, words not codes, times in the browser's zone, the
ship-by column with a late order highlighted — and that a 4-line pick list prints on one page.

Orders come from the simulator, synced in-process before the browser opens. Requests that would leave loopback
(catalog images at BrickLink and Brick Owl) are answered by an empty image, so nothing reaches the internet.
Screenshots go to ``tests/screenshots/``.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest

from tests.browser.test_workspace import PASSWORD, SCREENSHOTS, browser  # noqa: F401 - the shared fixture

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A 1×1 transparent PNG: what an image outside loopback is answered with.
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
COUNTRY_NAMES = {"CH": "SWITZERLAND", "FR": "FRANCE", "DE": "GERMANY", "NL": "NETHERLANDS", "AT": "AUSTRIA",
                 "GB": "UNITED KINGDOM", "BE": "BELGIUM", "IT": "ITALY", "ES": "SPAIN", "PL": "POLAND"}


@pytest.fixture
def store():
    from django.utils import timezone

    from orders.models import Order
    from tests.factories import make_organization, make_user
    from tests.orders.sim_store import sim_store

    org = make_organization("demo", "Demo Shop")
    make_user("ada", org, role="owner", password=PASSWORD)
    sim_store(org)
    late = Order.objects.filter(marketplace="backmarket", status__in=["new", "accepted"]).order_by("id").first()
    Order.objects.filter(pk=late.pk).update(ship_by=timezone.now() - timedelta(hours=5))
    return {"org": org, "late": late}


def _context(browser, live_server):  # noqa: F811 - the fixture's value
    context = browser.new_context(timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    def route(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            route.fulfill(status=200, content_type="image/png", body=PIXEL)

    context.route("**/*", route)
    page = context.new_page()
    page.goto(f"{live_server.url}/orders/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/orders/")
    page.reload()  # the time zone cookie is set by the first page
    return context, page


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


@pytest.mark.parametrize("marketplace", ["refurbed", "backmarket", "bricklink", "brickowl"])
def test_merchant_opens_an_order_of_each_marketplace_and_reads_it(browser, live_server, store, marketplace):  # noqa: F811
    from orders.models import Order

    order = Order.objects.filter(marketplace=marketplace).exclude(shipping_address={}).order_by("id").first()
    context, page = _context(browser, live_server)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    address = page.locator("#shipping-address address").inner_text()
    country = (order.shipping_address.get("country_code") or order.shipping_address.get("country")).upper()
    assert COUNTRY_NAMES[country] in address
    assert ":" not in address.replace("Tel.", "")  # no "first_name: …" lines
    page.click("#copy-shipping")
    page.wait_for_function("document.querySelector('#copy-shipping').textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert COUNTRY_NAMES[country] in copied
    summary = page.locator(".card.wide").first.inner_text()
    if marketplace != "brickowl":  # Brick Owl's stored status is its own text ("Processing"), the others' a code
        assert f"{order.get_marketplace_display()}: {order.marketplace_status}\n" not in summary + "\n"
    assert page.locator(".marketplace-state").get_attribute("title")  # the marketplace's code, on hover
    assert "Asia/Tokyo" in page.locator("footer").inner_text()
    visible = page.locator("main").inner_text()
    raw = page.locator("#raw-payload").inner_text()
    for key in ("date_payment", "psp_reference", "list_fingerprint", "status_id", "first_name", "gender"):
        assert key not in visible.replace(raw, ""), key
    conditions = [c.strip() for c in page.locator("table.items td.item-condition").all_inner_texts()]
    assert conditions and all(c and not c.isdigit() and c not in ("new", "used") for c in conditions)
    page.screenshot(path=str(SCREENSHOTS / f"order-{marketplace}.png"), full_page=True)
    context.close()


def test_order_book_sorted_by_ship_by_with_the_late_order_first_and_highlighted(browser, live_server, store):  # noqa: F811
    context, page = _context(browser, live_server)
    page.click("#sort-ship-by")
    page.wait_for_url("**sort=ship_by**")
    first = page.locator("table.orders tbody tr").first
    assert first.get_attribute("data-order") == str(store["late"].pk)
    assert "ship-late" in first.get_attribute("class") and "LATE" in first.inner_text().upper()
    page.screenshot(path=str(SCREENSHOTS / "order-book-ship-by.png"), full_page=False)
    context.close()


def test_a_four_line_pick_list_prints_on_one_page(browser, live_server, store):  # noqa: F811
    from orders.models import Order, OrderItem

    order = Order.objects.filter(marketplace="brickowl").order_by("id").first()
    template = order.items.first()
    for n, (location, part) in enumerate([("A01", "3001"), ("B02", "3003"), ("C03", "3004"), ("D04", "3005")]):
        if n < order.items.count():
            continue
        OrderItem.objects.create(organization=order.organization, connection=order.connection, order=order,
                                 external_id=f"{template.external_id}-{n}", title=f"Brick {part}", part_number=part,
                                 item_type="PART", color_name="Red", condition="new", quantity=2, location=location,
                                 status=template.status, marketplace_status=template.marketplace_status)
    assert order.items.count() == 4
    context, page = _context(browser, live_server)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    assert page.locator("#picklist tbody tr").count() == 4
    page.evaluate("document.body.classList.add('print-picklist')")
    page.emulate_media(media="print")
    page.screenshot(path=str(SCREENSHOTS / "order-pick-list-print.png"), full_page=True)
    assert _pdf_pages(page.pdf(format="A4")) == 1
    page.emulate_media(media="screen")
    ids = "&".join(f"ids={pk}" for pk in [order.pk, *Order.objects.filter(marketplace="bricklink")
                                                              .values_list("pk", flat=True)[:2]])
    from django.urls import reverse

    page.goto(f"{live_server.url}{reverse('orders:pick_list')}?{ids}")
    lines = page.locator("#pick-list tbody tr").count()
    assert 4 <= lines <= 12
    page.emulate_media(media="print")
    page.screenshot(path=str(SCREENSHOTS / "pick-list-combined-print.png"), full_page=True)
    assert _pdf_pages(page.pdf(format="A4")) == 1
    context.close()
