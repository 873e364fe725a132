"""Batch pushes: Brick Owl lots through ``/bulk/batch`` and Refurbed offers through ``BatchUpdateOffers`` — one call
for up to 50 rows, each row still its own push with its own audit entry and outcome; a row the marketplace refuses
fails alone, a call that fails as a whole retries every row of it (simulator quantities)."""

from __future__ import annotations

import math

import pytest
from django.utils import timezone

from connections.models import AuditEntry
from inventory.models import InventoryItem, InventoryLot, StockPush
from inventory.push import stock_push_drain
from inventory.services import inventory_adjust
from offers.models import Offer
from tests.inventory.test_stock_push import _push_on, _shop

pytestmark = pytest.mark.django_db


def _linked(model, connection, link):
    return list(model.objects.filter(connection=connection, **{f"{link}__isnull": False}, removed_at__isnull=True).order_by("pk"))


def _change_every_item(org, rows, link):
    for item_id in sorted({getattr(row, f"{link}_id") for row in rows}):
        inventory_adjust(organization=org, item_id=item_id, delta=1, reason="found one in a drawer")


def _push_calls(transport, start: int, marketplace: str) -> list[str]:
    return [r for r in transport.requests[start:] if r.startswith("POST ") and f"/{marketplace}/" in r]


def test_a_hundred_changed_offers_take_two_calls_instead_of_a_hundred_and_each_is_audited():
    """The figure: 100 linked Refurbed offers changed, drained one row per call (as before) and in batches."""
    figures = {}
    app, org, transport, conns = _shop()
    _push_on(conns["refurbed"])
    offers = _linked(Offer, conns["refurbed"], "stock_item")[:100]
    assert len(offers) == 100
    for mode in ("one per row", "batched"):  # the same 100 offers changed twice
        _change_every_item(org, offers, "stock_item")
        pending = StockPush.objects.filter(state="pending", connection=conns["refurbed"]).count()
        assert pending == 100
        start = len(transport.requests)
        if mode == "one per row":
            for _ in range(pending):
                result = stock_push_drain(transport=transport, limit=1)
                assert result.sent + result.unchanged == 1, result
        else:
            result = stock_push_drain(transport=transport)
            assert (result.sent, result.failed, result.retrying) == (pending, 0, 0)
        figures[mode] = (pending, len(_push_calls(transport, start, "refurbed")))
        for offer in offers:
            item = InventoryItem.objects.get(pk=offer.stock_item_id)
            assert app["refurbed"].offers[int(offer.external_id)]["stock"] == item.quantity_available
            offer.refresh_from_db()
            assert offer.pushed_quantity == item.quantity_available
    rows, calls = figures["batched"]
    assert figures["one per row"] == (rows, rows)
    assert calls == math.ceil(rows / 50) == 2
    assert set(_push_calls(transport, start, "refurbed")) == {"POST /refurbed/refb.merchant.v1.OfferService/BatchUpdateOffers"}
    # One audit entry per offer, each a success, as a single push writes.
    entries = AuditEntry.objects.filter(action="inventory.push", connection=conns["refurbed"], outcome="success")
    assert entries.count() >= rows and {e.target_id for e in entries} >= {o.external_id for o in offers}
    print(f"\n100 linked Refurbed offers changed: {figures['one per row'][1]} calls one per row, {calls} batched")


def test_every_linked_brick_owl_lot_changed_goes_in_one_bulk_batch_call_per_fifty():
    app, org, transport, conns = _shop()
    _push_on(conns["brickowl"])
    lots = _linked(InventoryLot, conns["brickowl"], "item")
    _change_every_item(org, lots, "item")
    pending = StockPush.objects.filter(state="pending").count()
    assert pending == len(lots) > 1
    start = len(transport.requests)
    result = stock_push_drain(transport=transport)
    assert result.sent == pending and result.failed == 0
    assert _push_calls(transport, start, "brickowl") == ["POST /brickowl/v1/bulk/batch"] * math.ceil(pending / 50)
    for lot in lots:
        item = InventoryItem.objects.get(pk=lot.item_id)
        assert int(app["brickowl"].lots[lot.external_id]["qty"]) == item.quantity_available
    assert AuditEntry.objects.filter(action="inventory.push", connection=conns["brickowl"], outcome="success").count() == pending


def test_a_lot_brick_owl_refuses_in_a_batch_fails_alone_and_the_others_are_sent():
    app, org, transport, conns = _shop()
    _push_on(conns["brickowl"])
    lots = _linked(InventoryLot, conns["brickowl"], "item")[:5]
    _change_every_item(org, lots, "item")
    gone = lots[2]
    del app["brickowl"].lots[gone.external_id]  # deleted at Brick Owl since our last read
    result = stock_push_drain(transport=transport)
    assert (result.failed, result.retrying) == (1, 0) and result.sent == StockPush.objects.filter(state="sent").count() >= 4
    failed = StockPush.objects.get(state="failed")
    assert failed.external_id == gone.external_id and "Lot not found" in failed.last_error
    entry = AuditEntry.objects.get(action="inventory.push", target_id=gone.external_id)
    assert entry.outcome == "failure" and "Lot not found" in entry.error
    for lot in lots:
        if lot.pk != gone.pk:
            assert int(app["brickowl"].lots[lot.external_id]["qty"]) == InventoryItem.objects.get(pk=lot.item_id).quantity_available
    assert app["brickowl"].deleted_lots == [] if hasattr(app["brickowl"], "deleted_lots") else True


def test_an_offer_refurbed_refuses_in_a_batch_fails_alone_and_a_failed_call_retries_every_row():
    app, org, transport, conns = _shop()
    _push_on(conns["refurbed"])
    offers = _linked(Offer, conns["refurbed"], "stock_item")[:4]
    _change_every_item(org, offers, "stock_item")
    # The whole call fails (503): every row retries, none is failed.
    transport.fail_before["POST BatchUpdateOffers"] = 1
    first = stock_push_drain(transport=transport)
    assert (first.retrying, first.sent, first.failed) == (4, 0, 0)
    assert set(StockPush.objects.values_list("attempts", flat=True)) == {1}
    # Then one offer is gone at Refurbed: that row fails (NOT_FOUND), the other three are sent.
    gone = offers[1]
    del app["refurbed"].offers[int(gone.external_id)]
    StockPush.objects.update(next_attempt_at=timezone.now())
    second = stock_push_drain(transport=transport)
    assert (second.sent, second.failed, second.retrying) == (3, 1, 0)
    assert StockPush.objects.get(state="failed").external_id == gone.external_id
    for offer in offers:
        if offer.pk != gone.pk:
            item = InventoryItem.objects.get(pk=offer.stock_item_id)
            assert app["refurbed"].offers[int(offer.external_id)]["stock"] == item.quantity_available
    outcomes = dict(AuditEntry.objects.filter(action="inventory.push", target_id=gone.external_id).values_list("id", "outcome"))
    assert sorted(outcomes.values()) == ["failure", "failure"]  # the 503'd call, then its own refusal


def test_a_batch_whose_answer_is_lost_is_sent_again_and_lands_once():
    app, org, transport, conns = _shop()
    _push_on(conns["brickowl"])
    lots = _linked(InventoryLot, conns["brickowl"], "item")[:3]
    _change_every_item(org, lots, "item")
    transport.crash_after.add("POST /bulk/batch")
    first = stock_push_drain(transport=transport)
    assert first.retrying == 3
    # One entry per lot, none claiming success: the answer never came.
    assert list(AuditEntry.objects.filter(action="inventory.push").values_list("outcome", flat=True)) == ["failure"] * 3
    StockPush.objects.update(next_attempt_at=timezone.now())
    second = stock_push_drain(transport=transport)
    assert second.sent + second.unchanged == 3 and second.failed == 0
    for lot in lots:
        assert int(app["brickowl"].lots[lot.external_id]["qty"]) == InventoryItem.objects.get(pk=lot.item_id).quantity_available
