from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from inventory.models import InventoryItem
from inventory.services import inventory_upsert_lots
from marketsync.sync.records import LotRecord, OrderItemRecord, OrderRecord
from orders.models import Order
from orders.services import brick_order_upsert_page
from tests.factories import make_connection, make_organization, make_user
from tests.pages import JUNK_CURSORS, shows_the_top, walk

pytestmark = pytest.mark.django_db


def _shop(slug="shop"):
    org = make_organization(slug)
    connection = make_connection(org, "bricklink")
    inventory_upsert_lots(connection=connection, records=[
        LotRecord(external_id=f"{slug}-1", part_number="3001", item_type="PART", color_id="5", color_name="Red", condition="new",
                  quantity=40, location="B07", name="Brick 2 x 4"),
        LotRecord(external_id=f"{slug}-2", part_number="3023", item_type="PART", color_id="11", color_name="Black",
                  condition="used", quantity=10, location="A02", name="Plate 1 x 2"),
    ])
    brick_order_upsert_page(connection=connection, records=[OrderRecord(
        external_id="777", status="new", marketplace_status="PAID", customer_name="Ada", items=[
            OrderItemRecord(external_id="777:1", status="new", quantity=3, listing_ref=f"{slug}-1", part_number="3001",
                            color_id="5", color_name="Red", condition="new", location="B07", title="Brick 2 x 4",
                            unit_price=Decimal("0.1")),
            OrderItemRecord(external_id="777:2", status="new", quantity=2, listing_ref=f"{slug}-2", part_number="3023",
                            color_id="11", color_name="Black", condition="used", location="A02", title="Plate 1 x 2"),
            OrderItemRecord(external_id="777:3", status="new", quantity=1, listing_ref="gone", part_number="9999",
                            color_id="1", condition="new", location="Z99", title="Mystery part"),
        ])])
    return org, connection


def test_inventory_page_searches_and_is_scoped_to_the_organization(client):
    org, _ = _shop("shop")
    _shop("rival")
    client.force_login(make_user("ada", org))
    page = client.get("/inventory/", {"part": "3001"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "B07" in body and "3023" not in body and "rival-1" not in body
    assert "shop-1: 40" in body and "drift +3" in body  # 40 listed, 37 available here
    assert "A02" in client.get("/inventory/", {"location": "a0"}).content.decode()
    rival_item = InventoryItem.objects.get(organization__slug="rival", part_number="3001")
    assert client.get(f"/inventory/{rival_item.pk}/").status_code == 404


def test_item_ledger_and_unmatched_pages(client):
    org, _ = _shop()
    client.force_login(make_user("ada", org))
    item = InventoryItem.objects.get(organization=org, part_number="3001")
    body = client.get(f"/inventory/{item.pk}/").content.decode()
    assert "Reserve" in body and "0 → 3" in body and "first seen" in body
    unmatched = client.get("/inventory/unmatched/").content.decode()
    assert "9999" in unmatched and "Z99" in unmatched and "3001" not in unmatched


def test_owner_adjusts_stock_on_the_item_page(client):
    org, _ = _shop()
    client.force_login(make_user("ada", org, role="owner"))
    item = InventoryItem.objects.get(organization=org, part_number="3023")
    response = client.post(f"/inventory/{item.pk}/adjust/", {"delta": "-4", "reason": "damaged"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.quantity_on_hand == 6
    client.post(f"/inventory/{item.pk}/adjust/", {"delta": "x", "reason": "typo"})
    item.refresh_from_db()
    assert item.quantity_on_hand == 6


def test_pick_list_on_the_order_page_and_from_the_command(client):
    org, connection = _shop()
    client.force_login(make_user("ada", org))
    order = Order.objects.get(connection=connection, external_id="777")
    body = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'id="picklist"' in body and 'id="print-picklist"' in body  # printed alone (marketsync.css)
    assert body.index(">A02<") < body.index(">B07<") < body.index(">Z99<")  # sorted by location
    out = StringIO()
    call_command("orders", "picklist", str(order.pk), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[2].startswith("A02") and "[unmatched]" in lines[4] and "6 piece(s)" in lines[-1]


def test_owners_see_the_push_notification_addresses_members_do_not(client):
    org, connection = _shop()
    client.force_login(make_user("owner", org, role="owner"))
    assert f"/webhooks/bricklink/{connection.webhook_token}/" in client.get("/inventory/").content.decode()
    client.force_login(make_user("member", org, role="member"))
    assert connection.webhook_token not in client.get("/inventory/").content.decode()


def test_the_top_navigation_leads_to_the_inventory_pages(client):
    org, _ = _shop()
    client.force_login(make_user("ada", org))
    body = client.get(reverse("orders:order_list")).content.decode()
    assert reverse("inventory:inventory_list") == "/inventory/"
    assert '<a href="/inventory/">Inventory</a>' in body


@pytest.mark.parametrize("old, new", [
    ("/listings/inventory/", "/inventory/"),
    ("/listings/inventory/?part=3001&drift=1", "/inventory/?part=3001&drift=1"),
    ("/listings/inventory/unmatched/?page=2", "/inventory/unmatched/?page=2"),
    ("/listings/inventory/42/", "/inventory/42/"),
    ("/listings/inventory/42/?page=3", "/inventory/42/?page=3"),
])
def test_old_listings_inventory_addresses_redirect_permanently_with_their_query(client, old, new):
    response = client.get(old)
    assert response.status_code == 301
    assert response["Location"] == new


def test_an_adjust_posted_to_the_old_address_is_redirected_as_a_post_and_applied(client):
    org, _ = _shop()
    client.force_login(make_user("ada", org, role="owner"))
    item = InventoryItem.objects.get(organization=org, part_number="3023")
    response = client.post(f"/listings/inventory/{item.pk}/adjust/", {"delta": "-4", "reason": "damaged"})
    assert response.status_code == 308 and response["Location"] == f"/inventory/{item.pk}/adjust/"
    client.post(f"/listings/inventory/{item.pk}/adjust/", {"delta": "-4", "reason": "damaged"}, follow=True)
    item.refresh_from_db()
    assert item.quantity_on_hand == 6


# --- keyset pages, junk input ---------------------------------------------------------------------------------


@pytest.fixture
def big_shop(db):
    from datetime import timedelta

    from django.utils import timezone

    from inventory.models import StockMovement
    from tests.web.builders import make_orders

    org = make_organization("big")
    # Shelf order with ties on location, part and colour (the id breaks them; item_type keeps each item unique).
    InventoryItem.objects.bulk_create(
        InventoryItem(organization=org, part_number=f"30{n % 7:02d}", item_type=f"T{n}", color_id=str(n % 5),
                      location=f"A{n % 9:02d}" if n % 10 else "", quantity_on_hand=n)
        for n in range(230)
    )
    item = InventoryItem.objects.filter(organization=org).order_by("id").first()
    StockMovement.objects.bulk_create(
        StockMovement(organization=org, item=item, sequence=n, kind="adjust", on_hand_before=n, on_hand_after=n + 1,
                      reserved_before=0, reserved_after=0, source="test") for n in range(1, 451)
    )
    connection = make_connection(org, "bricklink")
    orders = make_orders(connection, 70, prefix="U")
    Order.objects.filter(connection=connection).update(has_unmatched_items=True)
    Order.objects.filter(pk__in=[o.pk for o in orders[:10]]).update(placed_at=None)
    Order.objects.filter(pk__in=[o.pk for o in orders[10:20]]).update(placed_at=timezone.now() - timedelta(days=3))
    return org, item


def test_the_stock_list_walks_every_item_once_in_shelf_order(client, big_shop):

    org, _ = big_shop
    client.force_login(make_user("ada", org))
    rows, queries = walk(client, "/inventory/")
    assert rows == list(InventoryItem.objects.filter(organization=org).order_by("location", "part_number", "color_id", "id"))
    assert len(queries) == 3 and len(set(queries)) == 1
    found, _ = walk(client, "/inventory/", {"location": "a0", "part": "3003"})
    assert found and all(i.location.startswith("A0") and i.part_number == "3003" for i in found)


def test_the_unmatched_items_walk_once_newest_order_first_its_lines_in_order(client, big_shop):
    from django.db.models import F

    from orders.models import OrderItem

    org, _ = big_shop
    client.force_login(make_user("ada", org))
    rows, queries = walk(client, "/inventory/unmatched/")
    expected = OrderItem.objects.filter(organization=org).order_by(F("order__placed_at").desc(nulls_first=True), "order_id", "id")
    assert rows == list(expected) and len(rows) == 140
    assert len(queries) == 2 and len(set(queries)) == 1
    assert "100+" in client.get("/inventory/").content.decode()  # the badge counts no further than it needs


def test_an_items_ledger_walks_every_movement_once_newest_first(client, big_shop):
    from inventory.models import StockMovement

    org, item = big_shop
    client.force_login(make_user("ada", org))
    rows, queries = walk(client, f"/inventory/{item.pk}/", page="movements")
    assert rows == list(StockMovement.objects.filter(item=item).order_by("-sequence"))
    assert len(queries) == 3 and len(set(queries)) == 1


@pytest.mark.parametrize("url", ["/inventory/", "/inventory/unmatched/", "ITEM"])
@pytest.mark.parametrize("query", JUNK_CURSORS)
def test_a_junk_cursor_or_an_old_page_number_starts_at_the_top(client, big_shop, url, query):
    org, item = big_shop
    client.force_login(make_user("ada", org))
    if url == "ITEM":
        assert shows_the_top(client, f"/inventory/{item.pk}/", query, page="movements")
    else:
        assert shows_the_top(client, url, query)


def test_a_junk_search_is_named_beside_its_field(client, big_shop):
    org, _ = big_shop
    client.force_login(make_user("ada", org))
    response = client.get("/inventory/", {"part": "x" * 400, "location": "\x00"})
    body = response.content.decode()
    assert response.status_code == 200 and "Ensure this value has at most 120 characters" in body
    assert "Null characters are not allowed" in body and len(response.context["page"].rows) == 100


@pytest.mark.parametrize("data, says", [
    ({"delta": "x", "reason": "typo"}, "The change must be a whole number"),
    ({"delta": "2.5", "reason": "half"}, "The change must be a whole number"),
    ({"delta": "99999999999999999999", "reason": "huge"}, "less than or equal to 1000000"),
    ({"delta": "-5", "reason": "r" * 400}, "at most 255 characters"),
    ({"delta": "-5"}, "A reason is required"),
    ({"delta": "0", "reason": "nothing"}, "delta is 0"),
    ({"delta": "-5", "reason": "   "}, "A reason is required"),
    ({"delta": "-5", "reason": "count\x00ed"}, "Null characters are not allowed"),
    ({"delta": "-5", "reason": "count\x1bed"}, "control character"),
])
def test_a_junk_adjustment_changes_nothing_and_says_why(client, data, says):
    org, _ = _shop()
    client.force_login(make_user("ada", org, role="owner"))
    item = InventoryItem.objects.get(organization=org, part_number="3023")
    response = client.post(f"/inventory/{item.pk}/adjust/", data, follow=True)
    assert response.status_code == 200 and says in response.content.decode()
    item.refresh_from_db()
    assert item.quantity_on_hand == 10


def _owl_shop(slug: str, boid: str):
    from marketsync.marketplaces.brickowl.mapping import lot_record, order_record

    org = make_organization(slug)
    connection = make_connection(org, "brickowl")
    inventory_upsert_lots(connection=connection, records=[lot_record(
        {"lot_id": f"{slug}-lot", "boid": boid, "type": "Part", "con": "new", "qty": "7", "personal_note": "C03", "ids": []}
    )])
    brick_order_upsert_page(connection=connection, records=[order_record({"order_id": f"{slug}-o"}, {"status_id": "2"}, [
        {"order_item_id": f"{slug}-i", "lot_id": f"{slug}-lot", "boid": boid, "type": "Part", "color_id": boid.split("-")[1],
         "color_name": "Black", "name": "Tile 1 x 2", "ordered_quantity": "2", "condition": "New", "ids": []},
    ])])
    return org


def test_unmapped_page_lists_the_organizations_untranslated_brick_owl_lots_and_order_items(client):
    org = _owl_shop("owls", "487300-38")
    _owl_shop("rival", "999999-21")
    client.force_login(make_user("ada", org))
    body = client.get(reverse("inventory:inventory_unmapped")).content.decode()
    assert "Lot owls-lot" in body and "Order owls-o" in body and "487300-38" in body
    assert "not in Brick Owl&#x27;s colour list" in body or "not in Brick Owl's colour list" in body
    assert "999999" not in body and "rival" not in body
    assert "Unmapped Brick Owl items" in client.get("/inventory/").content.decode()
