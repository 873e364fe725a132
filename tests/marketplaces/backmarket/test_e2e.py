"""End to end: the simulator on loopback, a real Celery worker on the configured broker, PostgreSQL.

Sync of every Back Market entity through the worker, labels stored, a write with its
audit row, and a bulk CSV followed by the worker to success and a listings sync.
"""

import socket
import time
from urllib.parse import urlparse

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection as db

from backship.models import Delivery, Return
from conftest import require_server
from connections.models import AuditEntry, EntitySync
from listings.models import BulkListingTask, Listing
from listings.writes import bulk_listing_submit
from marketsync.celery import app
from marketsync.sync.services import trigger_sync
from orders.models import Order, OrderItem
from orders.writes import orderline_accept

pytestmark = [pytest.mark.server, pytest.mark.slow]


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_back_market_end_to_end_with_worker_redis_and_postgresql(live_connection, live_sim, media, settings):
    if db.vendor != "postgresql":
        require_server("PostgreSQL (set DATABASE_URL=postgres://…)")
    broker = str(app.conf.broker_url)
    if not broker.startswith("redis://") or not _reachable(broker):
        require_server(f"a Redis broker (CELERY_BROKER_URL), have {broker.split('@')[-1]}")
    assert not app.conf.task_always_eager
    settings.BACKMARKET_BULK_POLL_SECONDS = 0.2
    sim = live_sim[0]["backmarket"]
    connection = live_connection
    with start_worker(app, perform_ping_check=False, shutdown_timeout=30, pool="solo"):
        trigger_sync(connection=connection)
        syncs = EntitySync.objects.filter(connection=connection)
        wait_for(lambda: syncs.filter(last_success_at__isnull=True).count() == 0, what="every entity to sync")
        assert not any(s.last_error for s in syncs)
        assert Order.objects.filter(connection=connection).count() == len([o for o in sim.orders.values() if o["state"] not in (0, 8)])
        assert Listing.objects.filter(connection=connection).count() == len(sim.listings)
        assert Delivery.objects.filter(connection=connection).exclude(label_file="").count() == len(sim.deliveries)
        assert Return.objects.filter(connection=connection).count() == len(sim.returns)

        item = OrderItem.objects.filter(connection=connection, marketplace_status="1", order__marketplace_status="1").first()
        order = orderline_accept(item=item, actor="e2e")
        assert order.marketplace_status in ("1", "3")
        assert AuditEntry.objects.get(action="orderline_accept").outcome == "success"

        listing = Listing.objects.filter(connection=connection).first()
        task = bulk_listing_submit(connection=connection, content=f"sku,quantity\n{listing.sku},42\n", file_name="e2e.csv",
                                   actor="e2e")
        wait_for(lambda: BulkListingTask.objects.get(pk=task.pk).status == "success", what="the bulk task to succeed")
        wait_for(lambda: Listing.objects.get(pk=listing.pk).quantity == 42, what="the listings sync after the bulk task")
    task.refresh_from_db()
    assert task.polls >= 2 and task.results.get().success
