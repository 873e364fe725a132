"""Stock problems stand out: negative available and drift highlighted in the stock list and counted in the
navigation, the list filtered to them; the whole ledger and the unmatched items searchable; bad days named."""

from decimal import Decimal

import pytest
from django.db.models import F
from django.urls import reverse

from inventory.models import InventoryItem, StockMovement
from inventory.selectors import stock_problem_counts
from inventory.services import inventory_upsert_lots
from marketsync.sync.records import LotRecord, OrderItemRecord, OrderRecord
from orders.services import brick_order_upsert_page
from tests.factories import make_connection, make_organization, make_user
from tests.pages import walk

pytestmark = pytest.mark.django_db


def _shop(slug="shop"):
    org = make_organization(slug)
    connection = make_connection(org, "bricklink")
    inventory_upsert_lots(connection=connection, records=[
        LotRecord(external_id=f"{slug}-1", part_number="3001", item_type="PART", color_id="5", color_name="Red", condition="new",
                  quantity=40, location="B07", name="Brick 2 x 4"),
        LotRecord(external_id=f"{slug}-2", part_number="3023", item_type="PART", color_id="11", color_name="Black",
                  condition="used", quantity=10, location="A02", name="Plate 1 x 2"),
        LotRecord(external_id=f"{slug}-3", part_number="3003", item_type="PART", color_id="1", color_name="White",
                  condition="new", quantity=5, location="C01", name="Brick 2 x 2"),
    ])
    brick_order_upsert_page(connection=connection, records=[OrderRecord(
        external_id=f"{slug}-777", status="new", marketplace_status="PAID", customer_name="Ada", items=[
            OrderItemRecord(external_id="777:1", status="new", quantity=3, listing_ref=f"{slug}-1", part_number="3001",
                            color_id="5", color_name="Red", condition="new", location="B07", title="Brick 2 x 4",
                            unit_price=Decimal("0.1")),
            OrderItemRecord(external_id="777:3", status="new", quantity=1, listing_ref="gone", part_number="9999",
                            color_id="1", condition="new", location="Z99", title="Mystery part"),
        ])])
    # The plate is oversold: 24 more reserved than on hand (what a merchant saw as "available -24").
    InventoryItem.objects.filter(organization=org, part_number="3023").update(quantity_reserved=F("quantity_on_hand") + 24)
    return org, connection


def test_negative_available_is_highlighted_filtered_and_counted_in_the_navigation(client):
    org, _ = _shop()
    _shop("rival")
    client.force_login(make_user("ada", org))
    body = client.get(reverse("inventory:inventory_list")).content.decode()
    assert 'class="stock-negative' in body and ">-24</strong>" in body
    assert "1 with negative available" in body
    negative = client.get(reverse("inventory:inventory_list"), {"negative": "1"})
    assert [i.part_number for i in negative.context["page"].rows] == ["3023"]
    # The navigation counts this organization's problems only, on any page.
    counts = stock_problem_counts(organization=org)
    assert (counts.negative, counts.unmatched) == (1, 1)
    orders_page = client.get(reverse("orders:order_list")).content.decode()
    assert 'Negative available <span class="count count-bad">1</span>' in orders_page
    assert 'Unmatched order items <span class="count count-warn">1</span>' in orders_page


def test_the_problems_filter_shows_negative_or_drifting_items_and_the_marketplace_filter_fits(client):
    org, _ = _shop()
    client.force_login(make_user("ada", org))
    drifting = client.get(reverse("inventory:inventory_list"), {"drift": "1"}).context["page"].rows
    # 3001: 40 listed, 37 available here; 3023: 10 listed, -24 available; 3003 shows what is here
    assert {i.part_number for i in drifting} == {"3001", "3023"}
    problems = client.get(reverse("inventory:inventory_list"), {"problems": "1"}).context["page"].rows
    assert {i.part_number for i in problems} == {"3001", "3023"}
    both = client.get(reverse("inventory:inventory_list"), {"negative": "1", "drift": "1"}).context["page"].rows
    assert [i.part_number for i in both] == ["3023"]
    assert len(client.get(reverse("inventory:inventory_list"), {"marketplace": "bricklink"}).context["page"].rows) == 3
    assert client.get(reverse("inventory:inventory_list"), {"marketplace": "refurbed"}).context["page"].rows == []
    junk = client.get(reverse("inventory:inventory_list"), {"marketplace": "x" * 400})
    assert junk.status_code == 200 and "Select a valid choice" in junk.content.decode() and "x" * 201 not in junk.content.decode()
    assert len(junk.context["page"].rows) == 3


def test_the_whole_ledger_pages_searches_and_names_impossible_days(client):
    org, connection = _shop()
    _shop("rival")
    client.force_login(make_user("ada", org))
    rows, queries = walk(client, reverse("inventory:ledger"))
    assert rows == list(StockMovement.objects.filter(organization=org).order_by("-id")) and rows
    found = client.get(reverse("inventory:ledger"), {"q": "3001"}).context["page"].rows
    assert found and {m.item.part_number for m in found} == {"3001"}
    bad = client.get(reverse("inventory:ledger"), {"date_from": "2026-13-45"})
    assert bad.status_code == 200 and "Give it as YYYY-MM-DD" in bad.content.decode()
    assert len(bad.context["page"].rows) == len(rows)  # shown back, the rest of the list still shows
    crossed = client.get(reverse("inventory:ledger"), {"date_from": "2026-11-30", "date_to": "2026-11-01"})
    assert "The end date is before the start date." in crossed.content.decode() and len(crossed.context["page"].rows) == len(rows)
    assert client.get(reverse("inventory:ledger"), {"date_to": "2000-01-01"}).context["page"].rows == []


def test_unmatched_items_are_searchable_and_filtered_by_marketplace(client):
    org, _ = _shop()
    client.force_login(make_user("ada", org))
    assert [i.part_number for i in client.get(reverse("inventory:inventory_unmatched"), {"q": "9999"}).context["page"].rows] == ["9999"]
    assert client.get(reverse("inventory:inventory_unmatched"), {"q": "3001"}).context["page"].rows == []
    assert client.get(reverse("inventory:inventory_unmatched"), {"marketplace": "backmarket"}).context["page"].rows == []
    body = client.get(reverse("inventory:inventory_unmatched")).content.decode()
    assert 'class="stock-unmatched"' in body and "Mystery part" in body
