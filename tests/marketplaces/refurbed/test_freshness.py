"""Refurbed orders stay fresh until final: a return on a fulfilled or partially fulfilled order (a SHIPPED item
can always be returned) arrives while the order is inside REFURBED_SHIPPED_WINDOW_DAYS."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from marketsync.marketplaces.refurbed.adapters import FINAL_STATES, SETTLING_STATES
from marketsync.simulator.refurbed import from_ms, order_state
from marketsync.sync.records import UnifiedStatus
from marketsync.sync.runner import run_entity_sync
from orders.models import Order, OrderItem
from tests.marketplaces.refurbed.sim import RecordingTransport, entity_sync, make_sim, refurbed_connection

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reread_every_tick(settings):
    """These tests describe re-reads made every tick (a refresh of 0 s); the paced default has its own tests
    (tests/sync/test_idle_cost.py)."""
    settings.REFURBED_OPEN_ORDER_REFRESH_SECONDS = 0
    settings.REFURBED_SHIPPED_REFRESH_SECONDS = 0


def sync(conn, transport):
    outcome = run_entity_sync(entity_sync(conn, "orders").pk, transport=transport)
    assert outcome.status == "ok", outcome.error
    return outcome


@pytest.fixture
def world():
    app = make_sim(orders=300)
    conn = refurbed_connection()
    sync(conn, RecordingTransport(app))
    return app, conn


def order_in_state(app, state: str, *, within_days: float) -> int:
    """The index of an order in ``state`` with a SHIPPED item, released more than 3 days and less than
    ``within_days`` ago."""
    sim = app["refurbed"]
    now = timezone.now()
    for index, states in enumerate(sim.item_states):
        released = from_ms(sim.released[index])
        if order_state(states) == state and "SHIPPED" in states and now - timedelta(days=within_days) < released < now - timedelta(days=3):
            return index
    raise AssertionError(f"the seeded data has no {state} order released within {within_days} days")


def shipped_item_id(app, index: int) -> int:
    sim = app["refurbed"]
    return sim.order_ids[index] * 10 + sim.item_states[index].index("SHIPPED")


def refreshed_ids(transport) -> set[str]:
    return {i for body in transport.calls("ListOrders") for i in body.get("filter", {}).get("id", {}).get("any_of", [])}


def test_a_return_on_a_fulfilled_order_arrives_on_the_next_sync(world):
    app, conn = world
    index = order_in_state(app, "FULFILLED", within_days=settings.REFURBED_SHIPPED_WINDOW_DAYS - 1)
    order_id, item_id = str(app["refurbed"].order_ids[index]), shipped_item_id(app, index)
    assert Order.objects.get(connection=conn, external_id=order_id).marketplace_status == "FULFILLED"

    app["refurbed"].control("return_item", {"id": item_id, "initiated_only": True})
    transport = RecordingTransport(app)
    sync(conn, transport)
    assert order_id in refreshed_ids(transport)
    item = OrderItem.objects.get(connection=conn, external_id=str(item_id))
    assert item.marketplace_status == "SHIPPED" and item.details["return_initiated"] is True

    app["refurbed"].control("return_item", {"id": item_id})
    sync(conn, RecordingTransport(app))
    item.refresh_from_db()
    assert (item.marketplace_status, item.status) == ("RETURNED", UnifiedStatus.RETURNED)
    assert item.details["total_refunded"] == item.raw["total_charged"]
    order = Order.objects.get(connection=conn, external_id=order_id)
    assert order.marketplace_status == order_state(app["refurbed"].item_states[index])


def test_a_return_on_a_partially_fulfilled_order_arrives_on_the_next_sync(world):
    app, conn = world
    index = order_in_state(app, "PARTIALLY_FULFILLED", within_days=settings.REFURBED_SHIPPED_WINDOW_DAYS - 1)
    order_id, item_id = str(app["refurbed"].order_ids[index]), shipped_item_id(app, index)
    assert Order.objects.get(connection=conn, external_id=order_id).marketplace_status == "PARTIALLY_FULFILLED"

    app["refurbed"].control("return_item", {"id": item_id})
    sync(conn, RecordingTransport(app))

    item = OrderItem.objects.get(connection=conn, external_id=str(item_id))
    assert (item.marketplace_status, item.status) == ("RETURNED", UnifiedStatus.RETURNED)
    assert item.details["return_initiated"] is True


def test_an_idle_tick_rereads_every_order_that_can_still_change_and_no_other(world):
    app, conn = world
    sync(conn, RecordingTransport(app))  # settles: the lookback window's orders were just re-read
    transport = RecordingTransport(app)
    sync(conn, transport)

    window_start = timezone.now() - timedelta(days=settings.REFURBED_SHIPPED_WINDOW_DAYS)
    orders = Order.objects.filter(connection=conn)
    changing = set(orders.exclude(marketplace_status__in=FINAL_STATES + SETTLING_STATES).values_list("external_id", flat=True))
    changing |= set(orders.filter(marketplace_status__in=SETTLING_STATES, placed_at__gte=window_start)
                    .values_list("external_id", flat=True))
    new_orders = transport.calls("ListOrders")[0]
    assert "released_at" in new_orders["filter"]
    in_lookback = set(orders.filter(placed_at__gte=new_orders["filter"]["released_at"]["ge"]).values_list("external_id", flat=True))
    assert refreshed_ids(transport) == changing - in_lookback
    assert {"FULFILLED", "PARTIALLY_FULFILLED"} <= set(orders.filter(external_id__in=refreshed_ids(transport))
                                                       .values_list("marketplace_status", flat=True))
    # Never: final orders, and shipped ones released before the window.
    assert orders.filter(marketplace_status__in=FINAL_STATES).exists()
    assert orders.filter(marketplace_status__in=SETTLING_STATES, placed_at__lt=window_start).exists()
    assert len(transport.requests) == 1 + math.ceil(len(changing - in_lookback) / 100)
