"""End to end: the simulator on loopback, a real Celery worker on the configured broker, the configured
database, one beat tick per entity (``dispatch_entity``), rows asserted. In CI: Redis and PostgreSQL."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import pytest
from celery.contrib.testing.worker import start_worker

from conftest import require_server
from connections.models import EntitySync
from marketsync.celery import app as celery_app
from marketsync.sync.tasks import dispatch_entity
from offers.models import MarketOffer, Offer
from orders.models import Order, OrderItem
from tests.marketplaces.refurbed.sim import LoopbackServer, make_sim, refurbed_connection


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@pytest.mark.server
@pytest.mark.django_db(transaction=True)
def test_one_tick_through_a_real_worker_syncs_refurbed_orders_offers_and_market_offers():
    for url in (str(celery_app.conf.broker_url), str(celery_app.conf.result_backend)):
        if url.startswith("redis://") and not _reachable(url):
            require_server(f"{url} is not reachable")
    assert not celery_app.conf.task_always_eager
    sim = make_sim(orders=150)
    refurbed = sim["refurbed"]
    with LoopbackServer(sim) as server:
        conn = refurbed_connection(base_url=f"{server.base}/refurbed")
        with start_worker(celery_app, perform_ping_check=False, shutdown_timeout=30):
            assert dispatch_entity("orders") == 1
            assert dispatch_entity("offers") == 1
            assert dispatch_entity("market_offers") == 1
            done = _wait_for(lambda: EntitySync.objects.filter(connection=conn, last_finished_at__isnull=False).count() == 3)
    assert done, list(EntitySync.objects.filter(connection=conn).values("entity", "last_error", "last_finished_at"))
    syncs = {s.entity: s for s in EntitySync.objects.filter(connection=conn)}
    assert all(s.last_success_at and not s.last_error for s in syncs.values()), {e: s.last_error for e, s in syncs.items()}
    assert Order.objects.filter(connection=conn).count() == 150
    assert OrderItem.objects.filter(connection=conn).count() == sum(len(s) for s in refurbed.item_states)
    assert Offer.objects.filter(connection=conn).count() == len(refurbed.offer_ids)
    assert MarketOffer.objects.filter(connection=conn).count() == sum(len(o["_markets"]) for o in refurbed.offers.values())
    assert syncs["orders"].cursor["phase"] == "incremental" and syncs["orders"].last_run_created == 150
