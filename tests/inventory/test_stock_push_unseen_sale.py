"""Known gap, found by the stock oversell bench (push on sold more units than two marketplaces could sell without any
push): a push sets a listing to local available, so a sale at that marketplace that marketsync has not seen yet (its
notification lost, the next tick not come) is undone — the units sold there are offered again. A push should move
a listing by the change of local available since the last push, from the quantity the marketplace shows now. Strict
xfail: it fails loudly once the push is fixed (another branch is reworking ``inventory/push.py``)."""

from __future__ import annotations

import pytest

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
