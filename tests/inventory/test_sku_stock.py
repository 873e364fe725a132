"""Stock items for refurbished goods: Back Market listings and Refurbed offers link by SKU on import, and their
orders reserve, release and consume through the same ledger as brick orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from inventory.models import InventoryItem, Reservation, StockMovement
from inventory.selectors import inventory_check
from inventory.services import inventory_upsert_lots
from listings.models import Listing
from listings.services import listing_upsert_page
from marketsync.marketplaces.backmarket.mapping import ListingRecord
from marketsync.sync.records import LotRecord, OfferRecord, OrderItemRecord, OrderRecord
from offers.models import Offer
from offers.services import offer_upsert_page
from orders.models import Order
from orders.services import order_upsert_page
from tests.factories import make_connection, make_organization

pytestmark = pytest.mark.django_db

LONG_AGO = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _listing(sku="PHONE-1", quantity=5, external_id="uuid-1", legacy_id="101", title="Phone 12, good"):
    return ListingRecord(external_id=external_id, legacy_id=legacy_id, sku=sku, title=title, quantity=quantity,
                         price=Decimal("300"), currency="EUR")


def _offer(sku="PHONE-1", stock=4, external_id="600001"):
    return OfferRecord(external_id=external_id, sku=sku, stock=stock, instance_name="Phone 12", state="OK")


def _bm_order(external_id="9001", *, state="1", status="new", quantity=1, sku="PHONE-1", legacy_id="101", placed_at=LONG_AGO,
              line_id=None):
    return OrderRecord(external_id=external_id, status=status, marketplace_status=state, placed_at=placed_at, items=[
        OrderItemRecord(external_id=line_id or f"{external_id}1", status=status, marketplace_status=state, sku=sku,
                        quantity=quantity, listing_ref=legacy_id),
    ])


def _refurbed_order(external_id="77", *, state="NEW", status="new", sku="PHONE-1", offer_id="600001", placed_at=LONG_AGO):
    return OrderRecord(external_id=external_id, status=status, marketplace_status=state, placed_at=placed_at, items=[
        OrderItemRecord(external_id=f"{external_id}0", status=status, marketplace_status=state, sku=sku, quantity=1,
                        listing_ref=offer_id),
    ])


def _shop():
    org = make_organization("refurb")
    return org, make_connection(org, "backmarket"), make_connection(org, "refurbed")


def _item(sku="PHONE-1"):
    return InventoryItem.objects.get(sku=sku)


def test_a_listing_first_seen_creates_its_sku_item_from_its_quantity_and_later_imports_never_overwrite_it():
    org, bm, _ = _shop()
    listing_upsert_page(connection=bm, records=[_listing(quantity=5)])
    item = _item()
    assert (item.quantity_on_hand, item.quantity_reserved, item.part_number, item.item_type) == (5, 0, "", "")
    assert (item.name, item.imported_from_id) == ("Phone 12, good", bm.pk)
    assert Listing.objects.get().stock_item_id == item.pk
    assert list(StockMovement.objects.values_list("kind", "on_hand_after", "source")) == [("adjust", 5, "import:backmarket")]
    listing_upsert_page(connection=bm, records=[_listing(quantity=2)])
    item.refresh_from_db()
    assert item.quantity_on_hand == 5 and Listing.objects.get().quantity == 2
    assert InventoryItem.objects.count() == 1 and inventory_check() == []


def test_a_refurbed_offer_with_the_same_sku_in_another_case_joins_the_same_item():
    org, bm, rf = _shop()
    listing_upsert_page(connection=bm, records=[_listing(sku="Phone-1", quantity=5)])
    offer_upsert_page(connection=rf, records=[_offer(sku="PHONE-1", stock=9)])
    item = _item("Phone-1")
    assert Offer.objects.get().stock_item_id == item.pk
    assert item.quantity_on_hand == 5  # the first import's figure
    assert InventoryItem.objects.count() == 1


def test_rows_without_a_sku_or_with_an_ambiguous_one_stay_unlinked_and_are_kept():
    org, bm, rf = _shop()
    InventoryItem.objects.create(organization=org, sku="case-a", item_type="")
    InventoryItem.objects.create(organization=org, sku="CASE-A", item_type="")
    listing_upsert_page(connection=bm, records=[_listing(sku="", external_id="u-none", legacy_id="1"),
                                                _listing(sku="Case-A", external_id="u-ambiguous", legacy_id="2")])
    offer_upsert_page(connection=rf, records=[_offer(sku="", external_id="1")])
    assert Listing.objects.count() == 2 and Offer.objects.count() == 1
    assert not Listing.objects.filter(stock_item__isnull=False).exists()
    assert not Offer.objects.filter(stock_item__isnull=False).exists()
    assert InventoryItem.objects.count() == 2  # nothing created for them


def test_an_item_is_a_brick_part_or_a_sku_and_a_sku_is_unique_per_organization():
    org = make_organization("both")
    InventoryItem.objects.create(organization=org, sku="X1", item_type="")
    with pytest.raises(IntegrityError), transaction.atomic():
        InventoryItem.objects.create(organization=org, sku="X1", item_type="")
    with pytest.raises(IntegrityError), transaction.atomic():  # a SKU with a brick key
        InventoryItem.objects.create(organization=org, sku="X2", part_number="3001", item_type="PART", condition="new")
    with pytest.raises(IntegrityError), transaction.atomic():  # neither kind
        InventoryItem.objects.create(organization=org, item_type="")
    InventoryItem.objects.create(organization=make_organization("other"), sku="X1", item_type="")  # another organization


def test_backmarket_orderline_reserves_then_ships_once_however_often_it_is_read():
    org, bm, _ = _shop()
    listing_upsert_page(connection=bm, records=[_listing(quantity=5)])
    now = datetime.now(UTC)
    for _ in range(3):  # a re-read, a duplicate notification
        order_upsert_page(connection=bm, records=[_bm_order(quantity=2, placed_at=now)])
    item = _item()
    assert (item.quantity_on_hand, item.quantity_reserved) == (5, 2)
    order_upsert_page(connection=bm, records=[_bm_order(quantity=2, state="3", status="shipped", placed_at=now)])
    order_upsert_page(connection=bm, records=[_bm_order(quantity=2, state="3", status="shipped", placed_at=now)])
    item.refresh_from_db()
    assert (item.quantity_on_hand, item.quantity_reserved) == (3, 0)
    assert list(StockMovement.objects.filter(item=item).values_list("kind", flat=True)) == ["adjust", "reserve", "consume"]
    assert inventory_check() == []


def test_each_backmarket_line_follows_its_own_state():
    org, bm, _ = _shop()
    listing_upsert_page(connection=bm, records=[_listing(sku="A", quantity=5, external_id="a", legacy_id="1"),
                                                _listing(sku="B", quantity=5, external_id="b", legacy_id="2")])
    now = datetime.now(UTC)

    def order(state_a, status_a):
        return OrderRecord(external_id="9", status="accepted", marketplace_status="3", placed_at=now, items=[
            OrderItemRecord(external_id="91", status=status_a, marketplace_status=state_a, sku="A", quantity=1, listing_ref="1"),
            OrderItemRecord(external_id="92", status="accepted", marketplace_status="2", sku="B", quantity=2, listing_ref="2"),
        ])

    order_upsert_page(connection=bm, records=[order("2", "accepted")])
    order_upsert_page(connection=bm, records=[order("4", "cancelled")])  # one line cancelled, the other still open
    a, b = _item("A"), _item("B")
    assert (a.quantity_on_hand, a.quantity_reserved) == (5, 0)
    assert (b.quantity_on_hand, b.quantity_reserved) == (5, 2)
    assert Reservation.objects.get(item=a).state == "released"


def test_refurbed_item_reserves_through_its_offer_even_when_its_sku_differs_and_by_sku_without_one():
    org, _, rf = _shop()
    offer_upsert_page(connection=rf, records=[_offer(sku="PHONE-1", stock=4), _offer(sku="PHONE-2", stock=3, external_id="2")])
    now = datetime.now(UTC)
    order_upsert_page(connection=rf, records=[_refurbed_order("1", sku="SOMETHING-ELSE", placed_at=now)])
    order_upsert_page(connection=rf, records=[_refurbed_order("2", sku="PHONE-2", offer_id="", placed_at=now)])
    assert (_item("PHONE-1").quantity_reserved, _item("PHONE-2").quantity_reserved) == (1, 1)
    order_upsert_page(connection=rf, records=[_refurbed_order("1", state="REJECTED", status="cancelled", placed_at=now)])
    assert _item("PHONE-1").quantity_reserved == 0 and inventory_check() == []


def test_an_unknown_sku_is_flagged_unmatched_and_reserves_once_its_listing_arrives():
    org, bm, _ = _shop()
    now = datetime.now(UTC)
    order_upsert_page(connection=bm, records=[_bm_order(placed_at=now + timedelta(minutes=5))])
    assert Order.objects.get().has_unmatched_items is True and not Reservation.objects.exists()
    listing_upsert_page(connection=bm, records=[_listing(quantity=5)])
    item = _item()
    assert Order.objects.get().has_unmatched_items is False
    # placed after the listing's quantity was read: a sale the marketplace had not yet counted
    assert (item.quantity_on_hand, item.quantity_reserved) == (5, 1)


@pytest.mark.parametrize("listings_first", [True, False])
def test_open_orders_placed_before_the_first_import_are_not_subtracted_twice(listings_first):
    """BrickSync's issue #45: the marketplace's quantity already left out the open orders, whichever import runs
    first. Available stays the marketplace's quantity; an order placed after the import reserves as usual."""
    org, bm, rf = _shop()
    imports = [
        lambda: listing_upsert_page(connection=bm, records=[_listing(quantity=5)]),
        lambda: offer_upsert_page(connection=rf, records=[_offer(sku="RF-9", stock=2, external_id="600009")]),
    ]
    orders = [
        lambda: order_upsert_page(connection=bm, records=[_bm_order("1", quantity=2), _bm_order("2", line_id="21")]),
        lambda: order_upsert_page(connection=rf, records=[_refurbed_order("5", sku="RF-9", offer_id="600009")]),
    ]
    for step in (imports + orders) if listings_first else (orders + imports):
        step()
    phone, refurb = _item(), _item("RF-9")
    assert (phone.quantity_on_hand, phone.quantity_reserved, phone.quantity_available) == (8, 3, 5)
    assert (refurb.quantity_on_hand, refurb.quantity_reserved, refurb.quantity_available) == (3, 1, 2)
    added = StockMovement.objects.filter(kind="reserve", reason__contains="left it out")
    assert sorted(m.on_hand_after - m.on_hand_before for m in added) == [1, 1, 2]
    later = datetime.now(UTC) + timedelta(minutes=1)
    order_upsert_page(connection=bm, records=[_bm_order("3", line_id="31", placed_at=later)])
    phone.refresh_from_db()
    assert (phone.quantity_on_hand, phone.quantity_reserved, phone.quantity_available) == (8, 4, 4)
    order_upsert_page(connection=bm, records=[_bm_order("1", quantity=2, state="3", status="shipped")])
    phone.refresh_from_db()
    assert (phone.quantity_on_hand, phone.quantity_reserved) == (6, 2)
    assert inventory_check() == []


def test_another_connections_earlier_orders_reserve_from_the_figure_without_adding_to_it():
    """On hand came from Back Market's figure, which never saw Refurbed's order: that one reserves as usual."""
    org, bm, rf = _shop()
    listing_upsert_page(connection=bm, records=[_listing(quantity=5)])
    offer_upsert_page(connection=rf, records=[_offer(sku="PHONE-1", stock=5)])
    order_upsert_page(connection=rf, records=[_refurbed_order("5")])
    item = _item()
    assert (item.quantity_on_hand, item.quantity_reserved) == (5, 1)


def test_brick_lots_first_imported_count_their_stores_earlier_open_orders_too():
    org = make_organization("bricks")
    bl = make_connection(org, "bricklink")
    order = OrderRecord(external_id="1", status="new", marketplace_status="PAID", placed_at=LONG_AGO, items=[
        OrderItemRecord(external_id="1:900", status="new", quantity=4, listing_ref="900", part_number="3023", color_id="11",
                        condition="new", location="A01")])
    order_upsert_page(connection=bl, records=[order])
    inventory_upsert_lots(connection=bl, records=[
        LotRecord(external_id="900", part_number="3023", item_type="PART", color_id="11", condition="new", quantity=40,
                  location="A01")])
    item = InventoryItem.objects.get()
    assert (item.quantity_on_hand, item.quantity_reserved, item.quantity_available) == (44, 4, 40)
    assert inventory_check() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("marketplace", ["backmarket", "refurbed"])
def test_two_workers_refreshing_the_same_refurbished_order_at_once_reserve_once(marketplace):
    """As brick orders' (``tests/inventory/test_ledger.py``): two workers store the same new order at once."""
    import threading

    import httpx
    from django.db import connection as db

    from conftest import require_server
    from marketsync.sync.refresh import record_refresh
    from marketsync.sync.runner import run_entity_sync
    from tests.inventory.test_store_import import _store

    if db.vendor != "postgresql":
        require_server("PostgreSQL (DATABASE_URL) for concurrent workers")
    app, org, _, backmarket, refurbed = _store()
    connection = backmarket if marketplace == "backmarket" else refurbed
    catalog = "listings" if marketplace == "backmarket" else "offers"
    from connections.models import EntitySync

    run_entity_sync(EntitySync.objects.get(connection=connection, entity=catalog).pk, transport=httpx.WSGITransport(app=app),
                    force=True)
    if marketplace == "backmarket":
        order_id = str(app["backmarket"].control("new_order", {})["order_id"])
    else:
        order_id = app["refurbed"].control("add_orders", {"count": 1})["ids"][0]
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        from django.db import connection as thread_db
        try:
            barrier.wait()
            record_refresh(connection=connection, entity="orders", external_id=order_id, transport=httpx.WSGITransport(app=app))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            thread_db.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    order = Order.objects.get(connection=connection, external_id=order_id)
    # the lines still open hold stock (a simulated new order may carry a line already cancelled)
    lines = list(order.items.filter(status__in=["new", "accepted", "awaiting_payment"]).values_list("pk", "quantity"))
    held = Reservation.objects.filter(order_item__order=order)
    assert lines and held.count() == len(lines)
    assert sorted(held.values_list("quantity", flat=True)) == sorted(q for _, q in lines)
    assert StockMovement.objects.filter(reservation__in=held, kind="reserve").count() == len(lines)
    assert inventory_check() == []


@pytest.mark.django_db(transaction=True)
def test_an_order_page_and_the_import_creating_its_stock_item_at_once_do_not_miss_each_other():
    """An order page finds no stock item for its line and flags it, but has not committed yet, while the listing
    import creates the item and looks for flagged orders: the import waits for the page (the organization's stock
    is held), then reserves the line. Without that it would see no flag, and the line would never reserve."""
    import threading
    import time

    from django.db import connection as db

    from conftest import require_server

    if db.vendor != "postgresql":
        require_server("PostgreSQL (DATABASE_URL) for concurrent workers")
    org, bm, _ = _shop()
    stored, release, errors = threading.Event(), threading.Event(), []

    def order_page():
        from django.db import connection as thread_db
        try:
            with transaction.atomic():
                order_upsert_page(connection=bm, records=[_bm_order("1")])
                stored.set()
                release.wait(60)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            stored.set()
            thread_db.close()

    def listing_import():
        from django.db import connection as thread_db
        try:
            with transaction.atomic():
                listing_upsert_page(connection=bm, records=[_listing(quantity=5)])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            thread_db.close()

    orders_thread = threading.Thread(target=order_page)
    orders_thread.start()
    assert stored.wait(60)
    import_thread = threading.Thread(target=listing_import)
    import_thread.start()
    deadline = time.monotonic() + 60
    with db.cursor() as cursor:  # until the import has finished, or is waiting for a lock the page holds
        while import_thread.is_alive() and time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                break
            time.sleep(0.02)
    release.set()
    orders_thread.join(60)
    import_thread.join(60)
    assert errors == []
    item = _item()
    assert (item.quantity_on_hand, item.quantity_reserved, item.quantity_available) == (6, 1, 5)
    assert Order.objects.get().has_unmatched_items is False
    assert inventory_check() == []
