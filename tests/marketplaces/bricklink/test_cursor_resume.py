"""A BrickLink orders run that fails part-way must not record the open-order re-read as done."""

from datetime import timedelta

import httpx
import pytest
from django.test import override_settings
from django.utils import timezone

from marketsync.sync.records import OPEN_STATUSES
from marketsync.sync.runner import run_entity_sync
from orders.models import Order
from tests.marketplaces.bricklink.helpers import CountingTransport, bricklink_connection, entity_sync, simulator


class FailingDetails(CountingTransport):
    """Answers the first ``allowed`` order detail calls, then refuses every later one (as a revoked token would)."""

    def __init__(self, app, allowed: int) -> None:
        super().__init__(app)
        self.allowed = allowed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.rstrip("/").split("/")
        if parts[-2] == "orders":
            if self.allowed <= 0:
                return httpx.Response(401, json={"meta": {"code": 401, "message": "BAD_OAUTH_REQUEST"}}, request=request)
            self.allowed -= 1
        return super().handle_request(request)


@pytest.mark.django_db
@override_settings(BRICKLINK_OPEN_ORDER_REFRESH_SECONDS=3600, BRICKLINK_REREADS_PER_TICK=1000)
def test_an_open_order_reread_failing_after_its_first_page_is_still_due_on_the_next_run():
    sim = simulator(orders=240)
    connection = bricklink_connection()
    sync = entity_sync(connection, "orders")
    assert run_entity_sync(sync.pk, transport=CountingTransport(sim), force=True).status == "ok"
    open_orders = Order.objects.filter(connection=connection, status__in=list(OPEN_STATUSES))
    open_ids = set(open_orders.values_list("external_id", flat=True))
    assert len(open_ids) > 25  # more than one page of open orders to re-read
    open_orders.update(last_synced_at=timezone.now() - timedelta(hours=2))  # last read two hours ago: all due
    failing = FailingDetails(sim, allowed=25)
    failed = run_entity_sync(sync.pk, transport=failing, force=True)
    assert failed.status == "failed" and failed.pages == 1
    first_page = {p.split("/")[-2] for p in failing.paths() if p.endswith("/items")}
    transport = CountingTransport(sim)
    assert run_entity_sync(sync.pk, transport=transport, force=True).status == "ok"
    reread = {p.split("/")[-2] for p in transport.paths() if p.endswith("/items")}
    assert open_ids - first_page <= reread  # the open orders of the later pages were still due
    assert not reread & first_page  # those stored by the failed run were not read again


class CorruptFirstLot(CountingTransport):
    """The inventory list with its first lot's quantity unreadable (the lot is still listed)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.endswith("/inventories") and "status" not in request.url.params:  # the whole list
            response.read()
            body = response.json()
            body["data"][0]["quantity"] = "many"
            return httpx.Response(200, json=body, request=request)
        return response


@pytest.mark.django_db
def test_an_inventory_import_with_an_unreadable_lot_marks_no_lot_removed():
    from inventory.models import InventoryLot

    sim = simulator(orders=0)
    connection = bricklink_connection()
    sync = entity_sync(connection, "inventory")
    assert run_entity_sync(sync.pk, transport=CountingTransport(sim), force=True).status == "ok"
    outcome = run_entity_sync(sync.pk, transport=CorruptFirstLot(sim), force=True)
    assert len(outcome.bad_records) == 1 and outcome.removed == 0
    assert not InventoryLot.objects.filter(connection=connection, removed_at__isnull=False).exists()


class NaiveStatusTimes(CountingTransport):
    """The order list with its times written without the ``Z`` (no offset)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.endswith("/orders"):
            response.read()
            body = response.json()
            for summary in body["data"]:
                for field in ("date_ordered", "date_status_changed"):
                    if summary.get(field):
                        summary[field] = summary[field].rstrip("Z")
            return httpx.Response(200, json=body, request=request)
        return response


@pytest.mark.django_db
def test_order_times_without_an_offset_are_taken_as_utc_and_do_not_stop_the_sync():
    sim = simulator(orders=30)
    connection = bricklink_connection()
    sync = entity_sync(connection, "orders")
    assert run_entity_sync(sync.pk, transport=CountingTransport(sim), force=True).status == "ok"
    stored = Order.objects.filter(connection=connection).count()
    outcome = run_entity_sync(sync.pk, transport=NaiveStatusTimes(sim), force=True)
    assert outcome.status == "ok", outcome.error
    assert Order.objects.filter(connection=connection).count() == stored
