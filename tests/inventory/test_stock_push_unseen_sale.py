"""Found by the stock oversell bench (push on sold more units than two marketplaces could sell without any push): a
push that set a listing to local available undid a sale at that marketplace that marketsync had not seen yet (its
notification lost, the next tick not come), offering the units sold there again. A push now holds back what the
marketplace lost beyond its own sales seen here (``push.Plan``), until the order is seen."""

from __future__ import annotations

import pytest

from inventory.models import InventoryItem
from inventory.services import inventory_adjust
from tests.inventory.test_stock_push import _brick_item
from tests.inventory.test_stock_push_orders import _available, _drained, _fresh_cache, _sync, shop  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_push_never_offers_again_units_sold_at_the_marketplace_that_marketsync_has_not_seen_yet(shop):  # noqa: F811
    app, org, transport, conns = shop
    item, bl_lot, bo_lot = _brick_item(org, conns)
    _drained(transport)
    start = _available(item)
    assert start >= 5
    bricklink = app["bricklink"]
    bricklink.control("sell", {"lots": {bl_lot.external_id: 3}})  # its callback lost; no tick yet
    assert bricklink.lots[int(bl_lot.external_id)]["quantity"] == start - 3
    app["brickowl"].control("sell", {"lots": {bo_lot.external_id: 1}})
    _sync(conns["brickowl"], "orders", transport)  # Brick Owl's sale is seen: both lots are pushed
    _drained(transport)
    # BrickLink sold 3 and Brick Owl 1: at most start - 4 may show at BrickLink, never the 3 sold there again.
    assert bricklink.lots[int(bl_lot.external_id)]["quantity"] <= start - 4


def test_units_held_back_stay_held_back_at_the_next_push_and_the_lot_ends_at_available_once_the_sale_is_seen(shop):  # noqa: F811
    app, org, transport, conns = shop
    item, bl_lot, bo_lot = _brick_item(org, conns)
    _drained(transport)
    start = _available(item)
    bricklink, brickowl = app["bricklink"], app["brickowl"]
    bricklink.control("sell", {"lots": {bl_lot.external_id: 3}})  # not seen yet
    brickowl.control("sell", {"lots": {bo_lot.external_id: 1}})
    _sync(conns["brickowl"], "orders", transport)
    _drained(transport)
    bl_lot.refresh_from_db()
    assert (bl_lot.pushed_quantity, bl_lot.pushed_unseen) == (start - 4, 3)
    brickowl.control("sell", {"lots": {bo_lot.external_id: 1}})  # another sale there: BrickLink's 3 are still unseen
    _sync(conns["brickowl"], "orders", transport)
    _drained(transport)
    assert bricklink.lots[int(bl_lot.external_id)]["quantity"] == start - 5
    _sync(conns["bricklink"], "orders", transport)  # BrickLink's sale is seen at last: nothing held back any more
    _drained(transport)
    assert _available(item) == start - 5
    assert bricklink.lots[int(bl_lot.external_id)]["quantity"] == start - 5
    assert int(brickowl.lots[bo_lot.external_id]["qty"]) == start - 5
    bl_lot.refresh_from_db()
    assert bl_lot.pushed_unseen == 0


def test_a_sale_seen_before_the_push_then_a_restock_pushes_the_full_available_never_subtracting_the_sale_twice(shop):  # noqa: F811
    app, org, transport, conns = shop
    item, bl_lot, bo_lot = _brick_item(org, conns)
    inventory_adjust(organization=org, item_id=item.pk, delta=-1, reason="recount")
    _drained(transport)  # both lots pushed: the BrickLink lot has a push to compare with
    bl_lot.refresh_from_db()
    assert bl_lot.pushed_version == InventoryItem.objects.get(pk=item.pk).version
    start = _available(item)
    bricklink = app["bricklink"]
    bricklink.control("sell", {"lots": {bl_lot.external_id: 2}})
    _sync(conns["bricklink"], "orders", transport)  # seen: reserved, its pushes queued but not sent yet
    assert _available(item) == start - 2
    inventory_adjust(organization=org, item_id=item.pk, delta=5, reason="restock")  # coalesced into the same pushes
    _drained(transport)
    assert _available(item) == start + 3
    assert bricklink.lots[int(bl_lot.external_id)]["quantity"] == start + 3
    assert int(app["brickowl"].lots[bo_lot.external_id]["qty"]) == start + 3


def test_units_held_back_for_a_sale_cancelled_before_it_was_seen_are_offered_again_after_a_whole_orders_sync(shop):  # noqa: F811
    app, org, transport, conns = shop
    item, bl_lot, bo_lot = _brick_item(org, conns)
    _drained(transport)
    start = _available(item)
    bricklink = app["bricklink"]
    sold = bricklink.control("sell", {"lots": {bl_lot.external_id: 3}})  # not seen yet
    app["brickowl"].control("sell", {"lots": {bo_lot.external_id: 1}})
    _sync(conns["brickowl"], "orders", transport)
    _drained(transport)
    assert bricklink.lots[int(bl_lot.external_id)]["quantity"] == start - 4  # 3 held back
    bricklink.control("cancel", {"order_id": sold["order_id"]})  # cancelled there before marketsync saw it
    _sync(conns["bricklink"], "orders", transport)  # a whole orders sync after the push: nothing sold is unseen
    inventory_adjust(organization=org, item_id=item.pk, delta=2, reason="restock")
    _drained(transport)
    assert _available(item) == start + 1
    assert bricklink.lots[int(bl_lot.external_id)]["quantity"] == start + 1  # the 3 are no longer held back
