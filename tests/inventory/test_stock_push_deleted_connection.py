"""A connection deleted while the stock push drain is sending (an owner deleting an organization's connections one
by one while a worker drains): its pushes are dropped quietly — an info line naming what was skipped, no warning
with a traceback, no retry — and every other connection's pushes are sent as usual."""

from __future__ import annotations

import logging

import httpx
import pytest
from django.utils import timezone

from connections.models import Connection
from connections.services import connection_delete
from inventory.models import InventoryItem, InventoryLot, StockPush
from inventory.push import stock_push_drain
from inventory.services import inventory_adjust
from listings.models import Listing
from offers.models import Offer
from tests.inventory.test_stock_push import Transport, _push_on, _shop

pytestmark = pytest.mark.django_db(transaction=True)


class DeletingTransport(Transport):
    """The simulator; the first request whose "METHOD path-part" matches ``when`` first deletes ``connection`` (as an
    owner's delete committing while the worker is in that call), then is answered."""

    def __init__(self, inner: Transport) -> None:
        super().__init__(app=None)
        self.inner = inner.inner
        self.when: str = ""
        self.connection: Connection | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        method, part = self.when.split(" ", 1) if self.when else ("", "")
        if self.connection is not None and request.method == method and part in request.url.path:
            connection, self.connection = self.connection, None
            connection_delete(connection=connection)
        return super().handle_request(request)


def _adjust(org, rows, link):
    for row in rows:
        inventory_adjust(organization=org, item_id=getattr(row, f"{link}_id"), delta=1, reason="found one in a drawer")


def _push_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("inventory", "marketsync", "connections"))
            and r.levelno >= logging.WARNING]


def test_pushes_of_a_connection_deleted_after_they_were_read_are_dropped_quietly_and_the_others_are_sent(caplog):
    app, org, transport, conns = _shop()
    _push_on(conns["refurbed"], conns["backmarket"])
    offers = list(Offer.objects.filter(connection=conns["refurbed"], stock_item__isnull=False).order_by("pk")[:3])
    listing = Listing.objects.filter(connection=conns["backmarket"], stock_item__isnull=False).exclude(
        stock_item__in=[o.stock_item_id for o in offers]).order_by("pk").first()
    _adjust(org, offers, "stock_item")
    _adjust(org, [listing], "stock_item")
    # The Refurbed offers are read first (batched: sent after the loop), then the Back Market listing's call is
    # in flight when the owner deletes the Refurbed connection.
    earlier = timezone.now() - timezone.timedelta(minutes=2)
    StockPush.objects.filter(connection=conns["refurbed"]).update(next_attempt_at=earlier)
    StockPush.objects.filter(connection=conns["backmarket"]).update(next_attempt_at=earlier + timezone.timedelta(minutes=1))
    deleting = DeletingTransport(transport)
    deleting.when, deleting.connection = "POST /backmarket/", conns["refurbed"]
    refurbed_id = conns["refurbed"].pk

    with caplog.at_level(logging.INFO):
        result = stock_push_drain(transport=deleting)

    assert not Connection.objects.filter(pk=refurbed_id).exists()
    assert _push_warnings(caplog) == []
    assert (result.sent + result.unchanged, result.skipped, result.retrying, result.failed) == (1, 3, 0, 0), result
    skipped = [r.getMessage() for r in caplog.records if r.name == "inventory.push" and r.levelno == logging.INFO]
    assert any(f"connection {refurbed_id}" in m and "deleted" in m for m in skipped), skipped
    # Nothing is left to retry, and the Back Market listing shows its item's available quantity.
    assert not StockPush.objects.filter(state="pending").exists()
    item = InventoryItem.objects.get(pk=listing.stock_item_id)
    assert int(app["backmarket"]._listing(listing.external_id)["quantity"]) == item.quantity_available
    assert StockPush.objects.get(connection=conns["backmarket"]).state == "sent"


def test_a_push_whose_own_connection_is_deleted_during_its_call_is_dropped_quietly(caplog):
    app, org, transport, conns = _shop()
    _push_on(conns["bricklink"])
    lot = InventoryLot.objects.filter(connection=conns["bricklink"], item__isnull=False).order_by("external_id").first()
    _adjust(org, [lot], "item")
    deleting = DeletingTransport(transport)
    deleting.when, deleting.connection = f"GET /inventories/{lot.external_id}", conns["bricklink"]
    bricklink_id = conns["bricklink"].pk

    with caplog.at_level(logging.INFO):
        result = stock_push_drain(transport=deleting)

    assert not Connection.objects.filter(pk=bricklink_id).exists()
    assert _push_warnings(caplog) == []
    assert (result.skipped, result.retrying, result.failed) == (1, 0, 0), result
    assert not StockPush.objects.exists()
    # Gone with its connection: a second drain has nothing to send.
    assert stock_push_drain(transport=deleting) == type(result)()
