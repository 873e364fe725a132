"""BrickLink orders stay fresh until final without push notifications, within the daily call budget: item edits
on shipped orders, filed orders, and changes the order list does not show."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from connections.models import ApiCallCount
from inventory.selectors import inventory_check
from marketsync.marketplaces.bricklink.adapters import FINAL_STATUSES, SETTLING_STATUSES
from orders.models import Order
from tests.marketplaces.bricklink.helpers import entity_sync, sync, synced_bricklink

pytestmark = pytest.mark.django_db

ROOT = "/bricklink/api/store/v1"


@pytest.fixture
def world():
    return synced_bricklink()


def shipped_ids(sim) -> list[int]:
    return sorted(oid for oid, o in sim["bricklink"].orders.items() if o["status"] == "SHIPPED" and not o["is_filed"])


def read_ids(transport) -> set[str]:
    return {p.split("/")[-2] for p in transport.paths() if p.endswith("/items")}


def stored(connection, order_id) -> Order:
    return Order.objects.get(connection=connection, external_id=str(order_id))


def test_an_item_edit_on_a_shipped_order_arrives_on_the_next_tick_without_a_push(world):
    sim, transport, connection = world
    order_id = shipped_ids(sim)[0]
    line = sim["bricklink"].orders[order_id]["batches"][0][0]
    sim["bricklink"].control("set_quantity", {"order_id": order_id, "quantity": line["quantity"] + 2})
    sim["bricklink"].notifications.clear()  # no push reaches us

    sync(connection, "orders", transport)

    assert transport.paths() == [f"{ROOT}/orders", f"{ROOT}/orders/{order_id}", f"{ROOT}/orders/{order_id}/items"]
    order = stored(connection, order_id)
    assert order.marketplace_status == "SHIPPED"
    assert order.items.get(listing_ref=str(line["inventory_id"])).quantity == line["quantity"]
    assert inventory_check() == []  # shipped stock was consumed once; the edit moves none


def test_a_filed_shipped_order_moved_to_received_and_edited_arrives_with_the_next_filed_listing(world):
    sim, transport, connection = world
    order_id = shipped_ids(sim)[0]
    sim.clock.advance(60)
    sim["bricklink"].control("file", {"order_id": order_id})
    sim["bricklink"].control("set_status", {"order_id": order_id, "status": "RECEIVED"})
    line = sim["bricklink"].orders[order_id]["batches"][0][0]
    sim["bricklink"].control("set_quantity", {"order_id": order_id, "quantity": line["quantity"] + 1})
    sim["bricklink"].notifications.clear()

    sync(connection, "orders", transport)
    assert transport.paths() == [f"{ROOT}/orders"]  # filed: gone from the default list, and not due yet
    assert stored(connection, order_id).marketplace_status == "SHIPPED"

    es = entity_sync(connection, "orders")
    a_while_ago = timezone.now() - timedelta(seconds=settings.BRICKLINK_OPEN_ORDER_REFRESH_SECONDS + 60)
    es.cursor = {**es.cursor, "filed_listed_at": a_while_ago.isoformat()}
    es.save(update_fields=["cursor"])
    transport.requests.clear()
    sync(connection, "orders", transport)

    listings = [r for r in transport.requests if r.url.path == f"{ROOT}/orders"]
    assert [r.url.params.get("filed") for r in listings] == [None, "true"]
    order = stored(connection, order_id)
    assert (order.marketplace_status, order.status) == ("RECEIVED", "delivered")
    assert order.items.get(listing_ref=str(line["inventory_id"])).quantity == line["quantity"]
    assert order.details["is_filed"] is True
    filed_listed_at = datetime.fromisoformat(entity_sync(connection, "orders").cursor["filed_listed_at"])
    assert timezone.now() - filed_listed_at < timedelta(minutes=1)
    transport.requests.clear()
    sync(connection, "orders", transport)
    assert transport.paths() == [f"{ROOT}/orders"]  # the next filed listing waits for its cadence


@override_settings(BRICKLINK_SHIPPED_REFRESH_SECONDS=86400)
def test_a_tracking_change_the_list_does_not_show_arrives_when_the_shipped_order_is_due_again(world):
    sim, transport, connection = world
    order_id = shipped_ids(sim)[0]
    sim["bricklink"].control("set_tracking", {"order_id": order_id, "tracking_no": "JJD0099887766"})

    sync(connection, "orders", transport)
    assert transport.paths() == [f"{ROOT}/orders"]  # the list entry is unchanged and the order was read today

    Order.objects.filter(connection=connection, external_id=str(order_id)).update(
        last_synced_at=timezone.now() - timedelta(days=1, minutes=1))
    transport.requests.clear()
    sync(connection, "orders", transport)

    assert transport.paths() == [f"{ROOT}/orders", f"{ROOT}/orders/{order_id}", f"{ROOT}/orders/{order_id}/items"]
    assert stored(connection, order_id).tracking_number == "JJD0099887766"


def test_an_idle_tick_costs_one_call(world):
    sim, transport, connection = world
    sync(connection, "orders", transport)
    assert transport.paths() == [f"{ROOT}/orders"]


@override_settings(BRICKLINK_REREADS_PER_TICK=6, BRICKLINK_SHIPPED_WINDOW_DAYS=10)
def test_due_rereads_are_paced_per_tick_open_orders_first_and_final_or_old_orders_never(world):
    sim, transport, connection = world
    orders = Order.objects.filter(connection=connection)
    window_start = timezone.now() - timedelta(days=settings.BRICKLINK_SHIPPED_WINDOW_DAYS)
    open_orders = orders.exclude(marketplace_status__in=FINAL_STATUSES + SETTLING_STATUSES)
    settling = orders.filter(marketplace_status__in=SETTLING_STATUSES, placed_at__gte=window_start)
    assert 0 < open_orders.count() < 6 and settling.count() > 6
    assert orders.filter(marketplace_status__in=FINAL_STATUSES).exists()
    assert orders.filter(marketplace_status__in=SETTLING_STATUSES, placed_at__lt=window_start).exists()
    orders.update(last_synced_at=timezone.now() - timedelta(days=2))  # everything was last read two days ago
    eligible = set(open_orders.values_list("external_id", flat=True)) | set(settling.values_list("external_id", flat=True))

    seen: set[str] = set()
    for _ in range(20):
        transport.requests.clear()
        sync(connection, "orders", transport)
        reread = read_ids(transport)
        if not reread:
            break
        assert len(transport.requests) == 1 + 2 * len(reread) and len(reread) <= 6
        if not seen:
            assert set(open_orders.values_list("external_id", flat=True)) <= reread  # open orders go first
        assert not reread & seen
        seen |= reread
    assert seen == eligible  # every order that can still change, once; cancelled ones and old ones never


def test_no_rereads_and_no_filed_listing_while_the_budget_is_tight(world):
    sim, transport, connection = world
    Order.objects.filter(connection=connection).update(last_synced_at=timezone.now() - timedelta(days=2))
    es = entity_sync(connection, "orders")
    es.cursor = {**es.cursor, "filed_listed_at": (timezone.now() - timedelta(days=1)).isoformat()}
    es.save(update_fields=["cursor"])
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    ApiCallCount.objects.create(connection=connection, hour=hour - timedelta(hours=2),
                                calls=int(settings.BRICKLINK_DAILY_CALL_LIMIT * settings.BRICKLINK_INVENTORY_PAUSE_AT))
    sync(connection, "orders", transport)
    assert transport.paths() == [f"{ROOT}/orders"]


def test_the_default_pacing_keeps_a_busy_store_inside_the_daily_budget():
    """The README's arithmetic, from the settings: every tick's list, capped re-reads, the filed listing and the
    inventory import, plus the fetches of a store with 40 orders a day (each moving status six times), stay
    below the share of the budget past which the inventory import pauses."""
    ticks = 86400 // settings.SYNC_INTERVAL_SECONDS
    worst = (
        ticks * (1 + 2 * settings.BRICKLINK_REREADS_PER_TICK)  # order list + re-reads at their cap on every tick
        + 86400 // settings.BRICKLINK_OPEN_ORDER_REFRESH_SECONDS  # filed listing
        + 3 * ticks  # inventory import: the whole list, then the unavailable (N) and reserved (R) lots
        + 40 * 6 * 2  # new orders and status moves: details and items
    )
    assert worst <= settings.BRICKLINK_DAILY_CALL_LIMIT * settings.BRICKLINK_INVENTORY_PAUSE_AT
