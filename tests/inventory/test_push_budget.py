"""BrickLink's 5,000 calls a day count pushes: when the budget is tight, order syncs first, pushes second, the
inventory import last (simulator, calls counted by the real client)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings

from connections.budget import api_calls_by_purpose_last_24h, hour_start
from connections.models import ApiCallCount, EntitySync
from inventory.models import StockPush
from inventory.push import stock_push_drain
from inventory.services import inventory_adjust
from marketsync.sync.runner import run_entity_sync
from tests.inventory.test_stock_push import _brick_item, _push_on, _shop, _sim_quantities

pytestmark = pytest.mark.django_db


def _run(connection, entity, transport):
    return run_entity_sync(EntitySync.objects.get(connection=connection, entity=entity).pk, transport=transport, force=True)


@override_settings(BRICKLINK_DAILY_CALL_LIMIT=100, BRICKLINK_INVENTORY_PAUSE_AT=0.8, BRICKLINK_PUSH_PAUSE_AT=0.9)
def test_near_the_limit_inventory_waits_pushes_and_orders_go_and_past_the_push_threshold_a_push_waits():
    app, org, transport, conns = _shop()
    bricklink = conns["bricklink"]
    _push_on(bricklink)
    item, bl_lot, _ = _brick_item(org, conns)
    stock_push_drain(transport=transport)
    # Every call so far was counted for what it was for: the import's as inventory.
    counted = api_calls_by_purpose_last_24h(connection_ids=[bricklink.pk])[bricklink.pk]
    assert counted["inventory"] > 0 and counted["orders"] == 0 and counted["other"] == 0

    ApiCallCount.objects.filter(connection=bricklink).delete()
    ApiCallCount.objects.create(connection=bricklink, hour=hour_start() - timedelta(hours=3), calls=85)
    inventory = _run(bricklink, "inventory", transport)
    assert inventory.status == "skipped" and "Inventory import paused" in inventory.error
    inventory_adjust(organization=org, item_id=item.pk, delta=-2, reason="damaged")
    sent = stock_push_drain(transport=transport)
    assert sent.sent == 1 and sent.waiting == 0
    item.refresh_from_db()
    assert _sim_quantities(app, bl_lot)["bricklink"] == item.quantity_available
    assert api_calls_by_purpose_last_24h(connection_ids=[bricklink.pk])[bricklink.pk] == {
        "orders": 0, "inventory": 0, "push": 2, "other": 85}  # the push: a re-read of the lot and its PUT
    assert _run(bricklink, "orders", transport).status == "ok"

    ApiCallCount.objects.filter(connection=bricklink).delete()
    ApiCallCount.objects.create(connection=bricklink, hour=hour_start() - timedelta(hours=3), calls=95)
    inventory_adjust(organization=org, item_id=item.pk, delta=-1, reason="damaged")
    calls_before = len(transport.requests)
    held = stock_push_drain(transport=transport)
    assert held.waiting == 1 and held.sent == 0 and held.failed == 0
    push = StockPush.objects.get(item=item, target_kind="lot", target_id=bl_lot.pk, state=StockPush.State.PENDING)
    assert "Stock push waiting" in push.last_error and "95 of 100" in push.last_error
    assert len(transport.requests) == calls_before  # BrickLink was not called for it
    assert _run(bricklink, "orders", transport).status == "ok"  # orders still go, to the limit
