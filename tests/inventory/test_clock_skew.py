"""On hand at first import with a marketplace whose clock is not ours: which open orders were already out of the
quantity read is decided by which orders we had stored before the import began reading (placement times compared
with placement times, both the marketplace's clock), not by comparing its clock with ours. The simulator's clock
runs ten minutes behind ours, or ten minutes ahead; either way available equals every lot's quantity at Brick Owl
after the import and the orders that follow it (the old rule, ``placed_at <= our read time - 60 s``, oversold in
the first case and under-counted in the second)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connections.models import EntitySync
from inventory.catalog_sync import catalog_refresh
from inventory.models import InventoryItem, InventoryLot, StockMovement
from inventory.selectors import inventory_check
from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
from marketsync.sync.runner import run_entity_sync
from orders.models import Order
from tests.factories import make_connection, make_organization
from tests.inventory.test_stock_push import Transport

pytestmark = pytest.mark.django_db

SEED = 11


def _sync(connection, entity, transport):
    sync = EntitySync.objects.get(connection=connection, entity=entity)
    run_entity_sync(sync.pk, transport=transport, force=True)
    sync.refresh_from_db()
    assert not sync.last_error, sync.last_error


def _lots_with_stock(app, n):
    return [lot_id for lot_id, lot in sorted(app["brickowl"].lots.items()) if int(lot["qty"]) >= 5][:n]


@pytest.mark.parametrize("skew_minutes", [-10, 10], ids=["marketplace-clock-behind", "marketplace-clock-ahead"])
def test_available_equals_the_marketplace_quantity_whatever_its_clock(skew_minutes):
    # A running clock (speed 1), skewed against ours; seeded orders, some still open, placed before it started.
    app = build_simulator(SimulatorConfig(seed=SEED, orders=40, speed=1, new_order_every_seconds=0, marketplaces=("brickowl",),
                                          start=datetime.now(UTC) + timedelta(minutes=skew_minutes)))
    org = make_organization("skew")
    brickowl = make_connection(org, "brickowl", credentials={"api_key": simulator_token("brickowl", SEED)},
                               base_url="http://sim/brickowl/v1", options={"store_id": "1"})
    transport = Transport(app)
    before_import, after_import = _lots_with_stock(app, 2)
    # An order placed (at the marketplace's time) and stored before the import: already out of the quantity read.
    app["brickowl"].control("sell", {"lots": {before_import: 2}})
    _sync(brickowl, "orders", transport)
    assert Order.objects.filter(connection=brickowl).exists()
    _sync(brickowl, "inventory", transport)
    catalog_refresh(connection=brickowl, transport=transport, lookups=500)  # Brick Owl's ids translated: lots stored
    # An order placed after the import read the lots: not out of what was read; its reservation lowers available.
    app.clock.advance(1)
    late = app["brickowl"].control("sell", {"lots": {after_import: 3}})["order_id"]
    _sync(brickowl, "orders", transport)
    assert Order.objects.filter(connection=brickowl, external_id=late).exists()

    checked = 0
    for lot in InventoryLot.objects.filter(connection=brickowl, item__isnull=False):
        item = InventoryItem.objects.get(pk=lot.item_id)
        if InventoryLot.objects.filter(item=item).count() != 1:
            continue  # several lots on one item: their sum is compared below
        assert item.quantity_available == int(app["brickowl"].lots[lot.external_id]["qty"]), (lot.external_id, skew_minutes)
        checked += 1
    assert checked > 10
    for lot_id in (before_import, after_import):
        lot = InventoryLot.objects.get(connection=brickowl, external_id=lot_id)
        lots = InventoryLot.objects.filter(item_id=lot.item_id)
        assert InventoryItem.objects.get(pk=lot.item_id).quantity_available == sum(
            int(app["brickowl"].lots[x.external_id]["qty"]) for x in lots)
    late_moves = StockMovement.objects.filter(order_item__order__external_id=late)
    assert late_moves.count() == 1 and late_moves.get().on_hand_after == late_moves.get().on_hand_before  # not added
    assert inventory_check(organization=org) == []
