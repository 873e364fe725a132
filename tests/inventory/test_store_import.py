"""A store that already has open orders, imported from the simulator: available equals every linked listing's
marketplace quantity, so a push after the import would lower nothing (BrickSync's issue #45 is the opposite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connections.models import EntitySync
from inventory.models import InventoryItem, Reservation, StockMovement
from inventory.selectors import inventory_check, stock_item_links
from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
from marketsync.sync.runner import run_entity_sync
from tests.factories import make_connection, make_organization

pytestmark = pytest.mark.django_db

SEED = 42


def _store():
    # The simulator's clock starts an hour ago and stands still: its seeded orders were all placed before the import.
    app = build_simulator(SimulatorConfig(seed=SEED, orders=60, speed=0, new_order_every_seconds=0,
                                          start=datetime.now(UTC) - timedelta(hours=1),
                                          marketplaces=("backmarket", "refurbed", "bricklink")))
    org = make_organization("store")
    bricklink = make_connection(org, "bricklink", base_url="http://sim/bricklink/api/store/v1", credentials={
        p: simulator_token("bricklink", SEED, p) for p in ("consumer_key", "consumer_secret", "token_value", "token_secret")})
    backmarket = make_connection(org, "backmarket", credentials={"api_key": simulator_token("backmarket", SEED)},
                                 base_url="http://sim/backmarket", platform="eu", options={"locale": "fr-fr"})
    refurbed = make_connection(org, "refurbed", credentials={"api_key": simulator_token("refurbed", SEED)},
                               base_url="http://sim/refurbed")
    return app, org, bricklink, backmarket, refurbed


def _sync(app, connection, entity: str) -> None:
    sync = EntitySync.objects.get(connection=connection, entity=entity)
    outcome = run_entity_sync(sync.pk, transport=httpx.WSGITransport(app=app), force=True)
    sync.refresh_from_db()
    assert not sync.last_error, (connection.marketplace, entity, sync.last_error)
    assert outcome.pages, (connection.marketplace, entity)


def test_importing_a_store_with_open_orders_leaves_available_equal_to_every_marketplace_quantity():
    app, org, bricklink, backmarket, refurbed = _store()
    # Both orders of imports: listings before orders on Back Market and BrickLink, orders before offers on Refurbed.
    for connection, entity in [(backmarket, "listings"), (backmarket, "orders"), (refurbed, "orders"), (refurbed, "offers"),
                               (bricklink, "inventory"), (bricklink, "orders")]:
        _sync(app, connection, entity)

    held = Reservation.objects.filter(state="open")
    for marketplace in ("backmarket", "refurbed", "bricklink"):  # the store really had open orders on each
        assert held.filter(order_item__connection__marketplace=marketplace).exists(), marketplace
    assert StockMovement.objects.filter(kind="reserve", reason__contains="left it out").exists()

    checked = 0
    for item in InventoryItem.objects.filter(organization=org):
        links = [link for link in stock_item_links(item=item) if not link.removed]
        assert links, item
        assert item.quantity_available == sum(link.marketplace_quantity for link in links), (item, links)
        for link in links:
            assert link.drift == 0 and link.pushed_quantity is None
            checked += 1
    assert checked > 20
    assert inventory_check(organization=org) == []
