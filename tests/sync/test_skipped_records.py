"""The records a sync skipped (bad data) stay named on the connection's health until a run stores them or an owner
dismisses them: an incremental run that does not read them again no longer makes the merchant lose which ones are
missing (``EntitySync.skipped_records``; ``last_error`` says only the last run's)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from connections.models import EntitySync
from marketsync.sync.runner import run_entity_sync
from orders.models import Order
from tests.factories import make_user
from tests.marketplaces.bricklink.helpers import bricklink_connection, simulator
from tests.marketplaces.bricklink.helpers import entity_sync as brick_entity_sync
from tests.marketplaces.refurbed.sim import entity_sync, make_sim, refurbed_connection
from tests.sync.test_bad_records import CraftedTransport, _bricklink_order_id, raw, refurbed_order_value

pytestmark = pytest.mark.django_db


def _health_page(client) -> str:
    return client.get(reverse("connections:connection_list")).content.decode()


def test_a_skipped_order_stays_named_after_a_run_that_does_not_read_it_until_the_owner_dismisses_it(client):
    app = make_sim(orders=30)
    sim = app["refurbed"]
    conn = refurbed_connection()
    bad_id = str(sim.order_ids[7])
    transport = refurbed_order_value(app, bad_id, "total_charged", raw('"99999999999.00"'))
    assert run_entity_sync(entity_sync(conn, "orders").pk, transport=transport).bad_records
    sim.control("add_orders", {"count": 1})
    again = run_entity_sync(entity_sync(conn, "orders").pk, transport=transport)
    assert again.status == "ok" and not again.bad_records  # the incremental run did not read it again

    sync = entity_sync(conn, "orders")
    assert bad_id not in sync.last_error and sync.error_kind == ""  # the last run's own words: nothing skipped
    [kept] = sync.skipped_records
    assert kept["id"] == bad_id and "total_amount 99999999999.00" in kept["error"] and kept["at"]
    client.force_login(make_user("owner", conn.organization))
    page = _health_page(client)
    assert "1 record skipped, not stored yet" in page and f"<code>{bad_id}</code>" in page

    dismiss = reverse("connections:entity_sync_skipped_dismiss", args=[conn.pk, "orders"])
    assert client.get(dismiss).status_code == 405
    assert client.post(dismiss).status_code == 302
    assert entity_sync(conn, "orders").skipped_records == []
    assert f"<code>{bad_id}</code>" not in _health_page(client)


def test_a_kept_skipped_record_goes_once_a_run_stores_it_and_the_list_is_bounded():
    sim = simulator(orders=12)
    conn = bricklink_connection()
    bad_id = str(sorted(sim["bricklink"].orders)[5])
    broken = {"on": True}

    def craft(path, params, data):
        if broken["on"] and _bricklink_order_id(path) == bad_id and path.endswith("/items"):
            data["data"][0][0].update(quantity=-4)

    transport = CraftedTransport(sim, craft)
    run_entity_sync(brick_entity_sync(conn, "orders").pk, transport=transport)
    assert [e["id"] for e in brick_entity_sync(conn, "orders").skipped_records] == [bad_id]
    # Records kept from earlier runs, more than are kept: the newest (this run's) first, the oldest dropped.
    older = [{"id": f"old-{n}", "error": "too long", "at": "2026-01-01T00:00:00+00:00"} for n in range(EntitySync.SKIPPED_KEPT)]
    EntitySync.objects.filter(connection=conn, entity="orders").update(skipped_records=older)
    run_entity_sync(brick_entity_sync(conn, "orders").pk, transport=transport)  # the open order is read again, still bad
    kept = [e["id"] for e in brick_entity_sync(conn, "orders").skipped_records]
    assert kept == [bad_id] + [f"old-{n}" for n in range(EntitySync.SKIPPED_KEPT - 1)]

    broken["on"] = False  # fixed at the marketplace: the next run stores it, and it is no longer named
    outcome = run_entity_sync(brick_entity_sync(conn, "orders").pk, transport=transport)
    assert outcome.status == "ok" and not outcome.bad_records
    assert Order.objects.filter(connection=conn, external_id=bad_id).exists()
    kept = [e["id"] for e in brick_entity_sync(conn, "orders").skipped_records]
    assert bad_id not in kept and kept == [f"old-{n}" for n in range(EntitySync.SKIPPED_KEPT - 1)]
