"""A Brick Owl orders run that fails part-way must not move the cursor past orders it has not stored."""

import httpx
import pytest

from marketsync.sync.runner import run_entity_sync
from orders.models import Order
from tests.marketplaces.bricklink.helpers import CountingTransport, brickowl_connection, entity_sync, simulator


class FailingViews(CountingTransport):
    """Answers the first ``allowed`` order views, then refuses every later one (as a revoked key would)."""

    def __init__(self, app, allowed: int) -> None:
        super().__init__(app)
        self.allowed = allowed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/order/view"):
            if self.allowed <= 0:
                return httpx.Response(401, json={"error": "Invalid key"}, request=request)
            self.allowed -= 1
        return super().handle_request(request)


@pytest.mark.django_db
def test_a_run_failing_after_its_first_page_loses_no_order_on_the_next_run():
    sim = simulator(orders=60)
    connection = brickowl_connection()
    sync = entity_sync(connection, "orders")
    failed = run_entity_sync(sync.pk, transport=FailingViews(sim, allowed=25))
    assert failed.status == "failed" and failed.pages == 1
    assert Order.objects.filter(connection=connection).count() == 25
    outcome = run_entity_sync(sync.pk, transport=CountingTransport(sim), force=True)
    assert outcome.status == "ok", outcome.error
    assert Order.objects.filter(connection=connection).count() == len(sim["brickowl"].orders)


class CorruptFirstLot(CountingTransport):
    """The inventory list with its first lot's quantity unreadable (the lot is still listed)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.endswith("/inventory/list"):
            response.read()
            lots = response.json()
            first = lots[0] if isinstance(lots, list) else next(iter(lots.values()))
            first["qty"] = "many"
            return httpx.Response(200, json=lots, request=request)
        return response


@pytest.mark.django_db
def test_an_inventory_import_with_an_unreadable_lot_marks_no_lot_removed():
    from inventory.models import InventoryLot

    sim = simulator(orders=0)
    connection = brickowl_connection()
    sync = entity_sync(connection, "inventory")
    assert run_entity_sync(sync.pk, transport=CountingTransport(sim)).status == "ok"
    outcome = run_entity_sync(sync.pk, transport=CorruptFirstLot(sim))
    assert len(outcome.bad_records) == 1 and outcome.removed == 0
    assert not InventoryLot.objects.filter(connection=connection, removed_at__isnull=False).exists()
