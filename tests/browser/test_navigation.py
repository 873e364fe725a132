"""A merchant walks the workspace through the top bar: every area's menu opens on hover, each page answers, the
offers page past the first hundred, the negative-stock highlight and its count, a bad filter date named.
Screenshots of each page go to ``tests/screenshots/``."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.browser.test_workspace import PASSWORD, SCREENSHOTS, _login, _page, browser  # noqa: F401  (the fixture)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop():
    from django.db.models import F
    from django.utils import timezone

    from inventory.models import InventoryItem
    from inventory.services import inventory_upsert_lots
    from marketsync.sync.records import LotRecord, OrderItemRecord, OrderRecord
    from offers.models import MarketOffer, Offer
    from orders.services import brick_order_upsert_page
    from tests.factories import make_connection, make_organization, make_user

    org = make_organization("demo", "Demo Shop")
    make_user("ada", org, role="owner", password=PASSWORD)
    refurbed = make_connection(org, "refurbed")
    now = timezone.now()
    Offer.objects.bulk_create(
        Offer(organization=org, connection=refurbed, external_id=str(600000 + n), sku=f"RF-{600000 + n}", state="OK",
              grading="A", stock=n % 5, instance_name=f"iPhone {12 + n % 3} 128 GB", reference_price=Decimal("199.00"),
              reference_currency_code="EUR", marketplace_created_at=now - timedelta(minutes=n))
        for n in range(120)
    )
    MarketOffer.objects.bulk_create(
        MarketOffer(organization=org, connection=refurbed, external_id=f"{n}-{code}", offer_external_id=str(600000 + n),
                    sku=f"RF-{600000 + n}", market_code=code, market_name=name, currency="EUR", price=Decimal("211.65"),
                    visibility="FULL")
        for n in range(30) for code, name in (("DE", "Germany"), ("AT", "Austria"))
    )
    bricklink = make_connection(org, "bricklink")
    inventory_upsert_lots(connection=bricklink, records=[
        LotRecord(external_id="1", part_number="3001", item_type="PART", color_id="5", color_name="Red", condition="new",
                  quantity=40, location="B07", name="Brick 2 x 4"),
        LotRecord(external_id="2", part_number="3023", item_type="PART", color_id="11", color_name="Black",
                  condition="used", quantity=10, location="A02", name="Plate 1 x 2"),
    ])
    brick_order_upsert_page(connection=bricklink, records=[OrderRecord(
        external_id="777", status="new", marketplace_status="PAID", customer_name="Ada", items=[
            OrderItemRecord(external_id="777:1", status="new", quantity=3, listing_ref="1", part_number="3001", color_id="5",
                            color_name="Red", condition="new", location="B07", title="Brick 2 x 4"),
            OrderItemRecord(external_id="777:2", status="new", quantity=1, listing_ref="gone", part_number="9999",
                            color_id="1", condition="new", location="Z99", title="Mystery part"),
        ])])
    InventoryItem.objects.filter(organization=org, part_number="3023").update(quantity_reserved=F("quantity_on_hand") + 24)
    return org


MENU = [
    ("Orders", "All orders", "/orders/", "orders"),
    ("Stock", "Inventory", "/inventory/", "nav-inventory"),
    ("Stock", "Stock ledger", "/inventory/ledger/", "nav-ledger"),
    ("Stock", "Reconcile", "/inventory/reconcile/", "nav-reconcile"),
    ("Listings & offers", "Back Market listings", "/listings/", "nav-listings"),
    ("Listings & offers", "Refurbed offers", "/offers/", "nav-offers"),
    ("Listings & offers", "Refurbed market offers", "/offers/markets/", "nav-market-offers"),
    ("Shipments", "BackShip deliveries", "/backship/deliveries/", "nav-deliveries"),
    ("Connections", "Connections & sync health", "/connections/", "nav-connections"),
    ("Activity", "Changes sent (audit log)", "/connections/audit/", "nav-audit-log"),
    ("Activity", "Returns", "/backship/returns/", "nav-returns"),
    ("Activity", "Unmatched order items", "/inventory/unmatched/", "nav-unmatched"),
]


def test_a_merchant_reaches_every_area_from_the_top_bar(browser, live_server, shop):  # noqa: F811
    context, page = _page(browser, live_server)
    _login(page, live_server)
    nav = page.locator("nav.mainnav")
    heads = [text.strip() for text in nav.locator("a.navhead").all_inner_texts()]
    assert [h.split(" ")[0] for h in heads] == ["Orders", "Stock", "Listings", "Shipments", "Connections", "Activity"]
    assert "Admin" not in nav.inner_text()

    for area, label, path, shot in MENU:
        group = nav.locator(".navgroup", has=page.locator(f"a.navhead:text-is('{area}')")) if area != "Stock" else \
            nav.locator(".navgroup").nth(1)
        group.locator("a.navhead").hover()
        link = group.locator(".navmenu a", has_text=label).first
        assert link.is_visible(), (area, label)
        if area == "Stock" and label == "Inventory":
            page.screenshot(path=str(SCREENSHOTS / "nav-stock-menu.png"))
        link.click()
        page.wait_for_url(f"**{path}")
        assert page.locator("h1").first.is_visible()
        assert "Traceback" not in page.content()
        page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)

    # The Stock head counts the problem, the inventory highlights it and filters to it.
    assert page.locator(".navgroup").nth(1).locator("a.navhead .count-bad").inner_text() == "1"
    page.goto(f"{live_server.url}/inventory/")
    negative = page.locator("tr.stock-negative")
    assert negative.count() == 1 and "-24" in negative.inner_text() and "3023" in negative.inner_text()
    page.click("text=1 with negative available")
    page.wait_for_url("**negative=1**")
    assert page.locator("table.inventory tbody tr").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "inventory-negative.png"), full_page=True)

    # The offers page past the first hundred (the demo's 120 were cut at 100).
    page.goto(f"{live_server.url}/offers/")
    assert page.locator("#offer-table tbody tr").count() == 100
    page.click("a[rel=next]")
    page.wait_for_url("**after=**")
    assert page.locator("#offer-table tbody tr").count() == 20
    assert "600119" in page.locator("#offer-table").inner_text()
    page.fill("input[name=q]", "RF-600042")
    page.click("#offer-filters button[type=submit]")
    page.wait_for_url("**q=RF-600042**")
    assert page.locator("#offer-table tbody tr").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "offers-search.png"), full_page=True)

    # An impossible day is named beside its field, and the list still shows.
    page.goto(f"{live_server.url}/inventory/ledger/?date_from=2026-13-45")
    assert page.locator(".field.has-error").inner_text().count("Enter a valid date.") == 1
    assert page.locator("#ledger tbody tr").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "ledger-bad-date.png"), full_page=True)
    context.close()


def test_staff_see_the_admin_link(browser, live_server, shop):  # noqa: F811
    from django.contrib.auth.models import User

    User.objects.filter(username="ada").update(is_staff=True)
    context, page = _page(browser, live_server)
    _login(page, live_server)
    page.click("nav.mainnav >> text=Admin")
    page.wait_for_url("**/admin/**")
    assert "Site administration" in page.content() or "administration" in page.title().lower()
    context.close()
