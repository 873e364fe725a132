"""Back Market orders stay fresh through the date_modification sweep alone: every change moves that date, so a
shipped order's refund arrives without re-reading it; the one state the default list hides (8, not paid) has a
sweep of its own for the orders already stored."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest

from connections.models import EntitySync
from marketsync.sync.clients import marketplace_client
from marketsync.sync.runner import run_entity_sync
from orders.models import Order, OrderItem

pytestmark = pytest.mark.django_db


def sync(connection, transport):
    outcome = run_entity_sync(EntitySync.objects.get(connection=connection, entity="orders").pk, transport=transport)
    assert outcome.status == "ok", outcome.error
    return outcome


def order_queries(transport) -> list[dict]:
    return [parse_qs(r.url.query.decode()) for r in transport.requests if r.url.path.endswith("/ws/orders")]


def test_an_order_whose_payment_fails_after_it_was_stored_arrives_as_not_paid(connection, transport, bm):
    sync(connection, transport)
    pending = next(o for o in bm.orders.values() if o["state"] == 10)
    order = Order.objects.get(connection=connection, external_id=str(pending["order_id"]))
    assert order.status == "awaiting_payment"

    bm.clock.advance(60)
    bm.control("payment_failed", {"order_id": pending["order_id"]})
    transport.requests.clear()
    sync(connection, transport)

    order.refresh_from_db()
    assert (order.marketplace_status, order.status) == ("8", "cancelled")
    assert set(order.items.values_list("marketplace_status", flat=True)) == {"7"}
    assert [q.get("state") for q in order_queries(transport)] == [None, ["8"]]


def test_orders_that_were_never_paid_and_never_stored_stay_out(connection, transport, bm):
    sync(connection, transport)
    sync(connection, transport)
    never_paid = {str(o["order_id"]) for o in bm.orders.values() if o["state"] == 8}
    assert never_paid
    assert not Order.objects.filter(connection=connection, external_id__in=never_paid).exists()


def test_a_refund_after_shipping_arrives_through_the_modification_sweep(connection, transport, bm, sim):
    sync(connection, transport)
    shipped = next(o for o in bm.orders.values() if o["state"] == 9 and bm.lines[o["lines"][0]]["state"] == 3)
    line = bm.lines[shipped["lines"][0]]
    bm.clock.advance(60)
    client = marketplace_client(connection, httpx.Client(transport=httpx.WSGITransport(app=sim)))
    client.order_update(shipped["order_id"], {"new_state": 6, "sku": line["listing"], "return_reason": 21})

    sync(connection, transport)

    item = OrderItem.objects.get(connection=connection, external_id=str(line["id"]))
    assert (item.marketplace_status, item.status) == ("6", "returned")


def test_an_idle_tick_costs_two_list_calls(connection, transport, bm):
    sync(connection, transport)
    transport.requests.clear()
    sync(connection, transport)
    assert [q.get("state") for q in order_queries(transport)] == [None, ["8"]]
    assert len(transport.requests) == 2
