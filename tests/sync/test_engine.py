"""The engine's contract, driven through Refurbed and the simulator in-process."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import EntitySync
from connections.services import connection_rotate_credentials
from marketsync.sync.runner import acquire_lease, run_entity_sync
from marketsync.sync.selectors import entity_sync_due_list
from offers.models import MarketOffer, Offer
from orders.models import Order, OrderItem
from tests.marketplaces.refurbed.sim import RecordingTransport, entity_sync, make_sim, refurbed_connection, token

pytestmark = pytest.mark.django_db


def test_the_lease_prevents_a_second_run():
    app = make_sim()
    conn = refurbed_connection()
    sync = entity_sync(conn, "orders")
    assert acquire_lease(sync.pk)
    assert not acquire_lease(sync.pk)
    transport = RecordingTransport(app)
    outcome = run_entity_sync(sync.pk, transport=transport)
    assert outcome.status == "skipped" and "another worker" in outcome.error
    assert transport.requests == [] and Order.objects.count() == 0
    EntitySync.objects.filter(pk=sync.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert run_entity_sync(sync.pk, transport=RecordingTransport(app)).status == "ok"
    assert EntitySync.objects.get(pk=sync.pk).locked_until is None


def test_a_crash_between_pages_repeats_at_most_one_page_and_leaves_no_duplicates():
    app = make_sim(orders=650)
    conn = refurbed_connection()
    sync = entity_sync(conn, "orders")
    crashed = run_entity_sync(sync.pk, transport=RecordingTransport(app, fail_after=3))
    assert crashed.failed and crashed.pages == 3
    assert Order.objects.filter(connection=conn).count() == 300
    resumed = RecordingTransport(app)
    outcome = run_entity_sync(sync.pk, transport=resumed)
    assert outcome.status == "ok"
    assert len(resumed.calls("ListOrders")) <= 7 - 3 + 1
    assert resumed.calls("ListOrders")[0]["pagination"]["starting_after"] == str(app["refurbed"].order_ids[299])
    assert Order.objects.filter(connection=conn).count() == 650
    assert Order.objects.filter(connection=conn).values("external_id").distinct().count() == 650
    expected_items = sum(len(s) for s in app["refurbed"].item_states)
    assert OrderItem.objects.filter(connection=conn).count() == expected_items


def test_one_failing_entity_leaves_the_others_synced():
    app = make_sim()
    conn = refurbed_connection()
    transport = RecordingTransport(app, fail_paths=("OfferService/ListOffers",))
    outcomes = {e: run_entity_sync(entity_sync(conn, e).pk, transport=transport) for e in ("orders", "offers", "market_offers")}
    assert outcomes["offers"].failed and "not JSON" in outcomes["offers"].error
    assert outcomes["orders"].status == "ok" and outcomes["market_offers"].status == "ok"
    assert Order.objects.filter(connection=conn).count() == 300
    assert MarketOffer.objects.filter(connection=conn).exists() and not Offer.objects.filter(connection=conn).exists()
    assert entity_sync(conn, "offers").last_error and not entity_sync(conn, "orders").last_error


def test_401_stops_the_entity_until_the_credentials_are_rotated():
    app = make_sim()
    conn = refurbed_connection(api_key="sim-revoked-or-wrong-token-0000000")
    sync = entity_sync(conn, "orders")
    outcome = run_entity_sync(sync.pk, transport=RecordingTransport(app))
    assert outcome.failed and outcome.error_kind == "auth" and "re-issue" in outcome.error
    assert "sim-revoked-or-wrong-token-0000000" not in outcome.error
    sync.refresh_from_db()
    assert sync.error_kind == "auth" and sync.next_attempt_at is None
    assert sync.pk not in set(entity_sync_due_list(entity="orders").values_list("pk", flat=True))
    again = RecordingTransport(app)
    assert run_entity_sync(sync.pk, transport=again).status == "skipped" and again.requests == []
    connection_rotate_credentials(connection=conn, credentials={"api_key": token()})
    assert sync.pk in set(entity_sync_due_list(entity="orders").values_list("pk", flat=True))
    assert run_entity_sync(sync.pk, transport=RecordingTransport(app)).status == "ok"
    assert Order.objects.filter(connection=conn).count() == 300


def test_a_revoked_token_stops_sync_as_an_auth_error():
    app = make_sim()
    conn = refurbed_connection()
    app["refurbed"].control("revoke_token", {})
    outcome = run_entity_sync(entity_sync(conn, "offers").pk, transport=RecordingTransport(app))
    assert outcome.error_kind == "auth"


def test_429_with_a_reset_header_is_waited_out():
    app = make_sim()
    conn = refurbed_connection()
    app["refurbed"].faults.force("rate_limit")
    transport = RecordingTransport(app)
    started = time.monotonic()
    outcome = run_entity_sync(entity_sync(conn, "offers").pk, transport=transport)
    assert outcome.status == "ok"
    assert transport.calls("ListOffers")[0] == transport.calls("ListOffers")[1]  # the same page, asked again
    assert time.monotonic() - started < 5
    assert Offer.objects.filter(connection=conn).count() == len(app["refurbed"].offer_ids)


def test_a_transient_failure_pushes_the_next_attempt_back(settings):
    settings.SYNC_MAX_RETRY_WAIT_SECONDS = 0  # give up at once instead of waiting
    app = make_sim()
    conn = refurbed_connection()
    app["refurbed"].faults.force("server_error", 3)
    sync = entity_sync(conn, "orders")
    before = timezone.now()
    outcome = run_entity_sync(sync.pk, transport=RecordingTransport(app))
    assert outcome.failed and outcome.error_kind == "transient"
    sync.refresh_from_db()
    assert sync.consecutive_failures == 1
    assert sync.next_attempt_at >= before + timedelta(seconds=settings.SYNC_INTERVAL_SECONDS * 0.8)
    assert sync.pk not in set(entity_sync_due_list(entity="orders").values_list("pk", flat=True))
    # A second failure backs off further.
    EntitySync.objects.filter(pk=sync.pk).update(next_attempt_at=None)
    app["refurbed"].faults.force("server_error", 3)
    run_entity_sync(sync.pk, transport=RecordingTransport(app))
    sync.refresh_from_db()
    assert sync.consecutive_failures == 2
    assert sync.next_attempt_at >= timezone.now() + timedelta(seconds=settings.SYNC_INTERVAL_SECONDS * 1.5)


def test_a_malformed_record_is_reported_and_the_rest_of_its_page_stored():
    app = make_sim(orders=150)
    conn = refurbed_connection()
    bad_id = str(app["refurbed"].order_ids[7])

    def corrupt(path, data):
        for order in data.get("orders", []):
            if order["id"] == bad_id:
                order["released_at"] = "yesterday-ish"
                order["total_charged"] = "12,50"
        return data

    outcome = run_entity_sync(entity_sync(conn, "orders").pk, transport=RecordingTransport(app, rewrite=corrupt))
    assert outcome.status == "ok"
    assert len(outcome.bad_records) == 1 and bad_id in outcome.bad_records[0] and "released_at" in outcome.bad_records[0]
    assert Order.objects.filter(connection=conn).count() == 149
    assert not Order.objects.filter(connection=conn, external_id=bad_id).exists()
    sync = entity_sync(conn, "orders")
    assert bad_id in sync.last_error and sync.error_kind == "bad_data" and sync.last_success_at is not None


def test_an_unknown_status_is_stored_as_unknown_not_an_error():
    app = make_sim(orders=50)
    conn = refurbed_connection()
    odd_id = str(app["refurbed"].order_ids[3])

    def rename(path, data):
        for order in data.get("orders", []):
            if order["id"] == odd_id:
                order["state"] = "ON_THE_MOON"
                order["items"][0]["state"] = "LOST_IN_SPACE"
        return data

    outcome = run_entity_sync(entity_sync(conn, "orders").pk, transport=RecordingTransport(app, rewrite=rename))
    assert outcome.status == "ok" and not outcome.bad_records
    order = Order.objects.get(connection=conn, external_id=odd_id)
    assert (order.status, order.marketplace_status) == ("unknown", "ON_THE_MOON")
    assert order.items.order_by("external_id").first().status == "unknown"


def test_a_run_whose_lease_expired_does_not_release_the_lease_another_worker_took():
    app = make_sim()
    conn = refurbed_connection()
    sync = entity_sync(conn, "offers")
    taken_over = []

    class LeaseTakenOver(RecordingTransport):
        """While the first run waits on its first page, its lease runs out and a second worker takes it."""

        def handle_request(self, request):
            if not taken_over:
                EntitySync.objects.filter(pk=sync.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
                taken_over.append(acquire_lease(sync.pk) is not None)
            return super().handle_request(request)

    run_entity_sync(sync.pk, transport=LeaseTakenOver(app))
    assert taken_over == [True]
    assert EntitySync.objects.get(pk=sync.pk).locked_until > timezone.now()  # still the second worker's
    assert not acquire_lease(sync.pk)  # so a third worker does not start alongside it
