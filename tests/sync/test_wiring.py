"""The wiring table, the first-sync start date, and the one way to re-read a single record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.utils import timezone

from connections.models import EntitySync
from listings.models import Listing
from marketsync.marketplaces import SUPPORTED_ENTITIES
from marketsync.sync.errors import InvalidRequest
from marketsync.sync.refresh import record_refresh
from marketsync.sync.runner import run_entity_sync
from marketsync.sync.wiring import WIRING, entity_wiring, first_sync_start
from orders.models import Order
from tests.factories import make_organization
from tests.marketplaces.backmarket.helpers import bm_connection, build_sim
from tests.marketplaces.bricklink.helpers import bricklink_connection, brickowl_connection
from tests.marketplaces.bricklink.helpers import simulator as brick_simulator
from tests.marketplaces.refurbed.sim import make_sim, refurbed_connection

pytestmark = pytest.mark.django_db


def test_the_wiring_table_lists_every_supported_entity_exactly_once():
    keys = [(w.marketplace, w.entity) for w in WIRING]
    assert len(keys) == len(set(keys))
    assert set(keys) == {(m, e) for m, entities in SUPPORTED_ENTITIES.items() for e in entities}
    assert entity_wiring("refurbed", "listings") is None
    assert entity_wiring("no-such-marketplace", "orders") is None


def test_first_sync_start_prefers_the_connection_option_then_the_setting_then_the_lookback(settings):
    settings.SYNC_START_DATE = "2026-03-01"
    settings.SYNC_INITIAL_LOOKBACK_DAYS = 10
    assert first_sync_start({"sync_start_date": "2026-02-01T06:30:00+01:00"}) == datetime(2026, 2, 1, 5, 30, tzinfo=UTC)
    assert first_sync_start({"sync_start_date": "2026-02-01"}) == datetime(2026, 2, 1, tzinfo=UTC)
    assert first_sync_start({}) == datetime(2026, 3, 1, tzinfo=UTC)
    settings.SYNC_START_DATE = ""
    assert abs(first_sync_start(None) - (timezone.now() - timedelta(days=10))) < timedelta(seconds=5)


@pytest.mark.parametrize("junk", ["2026-13-45", "yesterday", "1" * 400])
def test_a_start_date_that_is_not_a_date_is_refused_by_name(junk):
    with pytest.raises(InvalidRequest) as caught:
        first_sync_start({"sync_start_date": junk})
    assert "sync_start_date" in str(caught.value) and len(str(caught.value)) < 200


CONNECTIONS = {
    "refurbed": lambda org, **f: refurbed_connection(org),
    "backmarket": bm_connection,
    "bricklink": bricklink_connection,
    "brickowl": brickowl_connection,
}


@pytest.mark.parametrize("marketplace", sorted(CONNECTIONS))
def test_every_marketplace_starts_its_first_order_sync_at_the_connection_option(marketplace):
    connection = CONNECTIONS[marketplace](make_organization(f"start-{marketplace}"))
    connection.options = {**(connection.options or {}), "sync_start_date": "2025-12-24"}
    adapter = entity_wiring(marketplace, "orders").build_adapter(connection, httpx.Client())
    assert adapter.start == datetime(2025, 12, 24, tzinfo=UTC)


def _synced(marketplace):
    """A connection whose orders (and Back Market listings) were synced from its simulator, and the transport."""
    org = make_organization(f"refresh-{marketplace}")
    if marketplace == "refurbed":
        app, connection = make_sim(orders=20), refurbed_connection(org)
    elif marketplace == "backmarket":
        app, connection = build_sim(), bm_connection(org)
    else:
        app = brick_simulator(orders=10)
        connection = bricklink_connection(org) if marketplace == "bricklink" else brickowl_connection(org)
    transport = httpx.WSGITransport(app=app)
    for entity in ("orders", "listings") if marketplace == "backmarket" else ("orders",):
        outcome = run_entity_sync(EntitySync.objects.get(connection=connection, entity=entity).pk, transport=transport)
        assert outcome.status == "ok", outcome.error
    return connection, transport


@pytest.mark.parametrize("marketplace", sorted(CONNECTIONS))
def test_record_refresh_re_reads_one_order_on_every_marketplace(marketplace):
    connection, transport = _synced(marketplace)
    order = Order.objects.filter(connection=connection).order_by("pk").first()
    true_status = order.marketplace_status
    Order.objects.filter(pk=order.pk).update(marketplace_status="stale", customer_name="stale")
    result = record_refresh(connection=connection, entity="orders", external_id=order.external_id, transport=transport)
    order.refresh_from_db()
    assert order.marketplace_status == true_status and order.customer_name != "stale"
    assert result.created == 0 and result.changed == 1


def test_record_refresh_re_reads_one_back_market_listing():
    connection, transport = _synced("backmarket")
    listing = Listing.objects.filter(connection=connection).order_by("pk").first()
    Listing.objects.filter(pk=listing.pk).update(quantity=-1)
    record_refresh(connection=connection, entity="listings", external_id=listing.external_id, transport=transport)
    listing.refresh_from_db()
    assert listing.quantity >= 0


def test_an_entity_that_cannot_be_read_by_id_says_so():
    connection = bricklink_connection(make_organization("lots"))
    with pytest.raises(InvalidRequest, match="cannot refresh a single inventory record"):
        record_refresh(connection=connection, entity="inventory", external_id="1", transport=httpx.MockTransport(
            lambda request: httpx.Response(500)))


def test_the_one_refresh_task_logs_a_marketplace_refusal_and_leaves_the_rest_to_the_next_sync(caplog):
    from marketsync.sync.tasks import refresh_record_task

    connection = bricklink_connection(make_organization("task"))
    assert refresh_record_task(connection.pk, "inventory", "1") is None
    assert "cannot refresh a single inventory record" in caplog.text
    assert refresh_record_task(connection.pk + 1000, "orders", "1") is None  # a connection that is gone: nothing
