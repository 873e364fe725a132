"""A call refused with a known key (403, BrickLink's IP check) stops the entity with words that say what to fix,
is probed again on a slow backoff and heals by itself once the marketplace answers; a refused key (401) still
waits for new credentials. Time moves by setting ``next_attempt_at`` in the past: nothing sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.health import entity_health, organization_health_alert
from connections.models import AuditEntry, EntitySync
from connections.services import connection_rotate_credentials
from marketsync.sync.runner import run_entity_sync
from marketsync.sync.selectors import entity_sync_due_list
from marketsync.sync.writes import WriteRefused, connection_write_problem, marketplace_write
from orders.models import Order
from tests.factories import make_organization
from tests.sync.refusals import REFUSALS, SimTransport, build_sim, connect

pytestmark = pytest.mark.django_db


def _due(sync: EntitySync) -> bool:
    return sync.pk in set(entity_sync_due_list(entity=sync.entity).values_list("pk", flat=True))


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda r: r.marketplace)
def test_a_refused_call_stops_the_entity_then_is_probed_again_after_the_backoff_and_heals(refusal, settings):
    app = build_sim()
    transport = SimTransport(app)
    org = make_organization("shop")
    connection = connect(org, refusal.marketplace)
    sync = EntitySync.objects.get(connection=connection, entity="orders")
    secrets = list(connection.credentials.values())

    refusal.start(app, transport)
    before = timezone.now()
    outcome = run_entity_sync(sync.pk, transport=transport)
    assert outcome.failed and outcome.error_kind == "forbidden", outcome.error
    assert refusal.says in outcome.error
    assert not any(secret in outcome.error for secret in secrets)
    sync.refresh_from_db()
    assert sync.error_kind == EntitySync.ErrorKind.FORBIDDEN
    first_probe = timedelta(seconds=settings.SYNC_FORBIDDEN_RETRY_SECONDS)
    assert before + first_probe * 0.9 <= sync.next_attempt_at <= timezone.now() + first_probe
    assert not _due(sync)  # slow: the next beat ticks leave it alone

    # The banner, the connections page and a write all say what the marketplace refuses, in the same words.
    alert = organization_health_alert(organization=org)
    assert alert and alert.refusals == [sync.last_error] and alert.auth_errors == []
    health = entity_health(sync=sync, connection=connection)
    assert health.state == "forbidden" and health.problem == sync.last_error and health.next_run == sync.next_attempt_at
    assert sync.last_error in connection_write_problem(connection) and "Test connection" in connection_write_problem(connection)

    # Still refused when the backoff runs out: probed once more, and the wait grows.
    EntitySync.objects.filter(pk=sync.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert _due(sync)
    assert run_entity_sync(sync.pk, transport=transport).error_kind == "forbidden"
    sync.refresh_from_db()
    assert sync.consecutive_failures == 2
    assert sync.next_attempt_at >= timezone.now() + first_probe * 2 * 0.9 - timedelta(seconds=5)

    # The marketplace answers again: the next probe heals it without anyone touching the credentials.
    refusal.stop(app, transport)
    EntitySync.objects.filter(pk=sync.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert _due(sync)
    healed = run_entity_sync(sync.pk, transport=transport)
    assert healed.status == "ok", healed.error
    sync.refresh_from_db()
    assert sync.error_kind == "" and sync.last_error == "" and sync.next_attempt_at is None
    assert Order.objects.filter(connection=connection).exists()
    assert not organization_health_alert(organization=org)
    assert connection_write_problem(connection) == ""


def test_the_slow_backoff_doubles_up_to_its_maximum(settings):
    settings.SYNC_FORBIDDEN_RETRY_SECONDS = 60
    settings.SYNC_FORBIDDEN_RETRY_MAX_SECONDS = 300
    app = build_sim()
    connection = connect(make_organization("shop"), "brickowl")
    sync = EntitySync.objects.get(connection=connection, entity="orders")
    app["brickowl"].faults.force("forbidden", 100)
    waits = []
    for _ in range(6):
        run_entity_sync(sync.pk, transport=SimTransport(app))
        sync.refresh_from_db()
        waits.append((sync.next_attempt_at - timezone.now()).total_seconds())
    assert [round(w / 60) for w in waits[:3]] == [1, 2, 4]  # within 10% jitter below each step
    assert all(270 - 5 <= w <= 300 for w in waits[3:])


def test_a_refused_key_still_waits_for_new_credentials_and_is_not_probed_again():
    app = build_sim()
    transport = SimTransport(app)
    connection = connect(make_organization("shop"), "bricklink")
    sync = EntitySync.objects.get(connection=connection, entity="orders")
    app["bricklink"].faults.force("unauthorized", 1)  # SIGNATURE_INVALID: the key itself is refused
    outcome = run_entity_sync(sync.pk, transport=transport)
    assert outcome.error_kind == "auth" and "SIGNATURE_INVALID" in outcome.error
    sync.refresh_from_db()
    assert sync.error_kind == "auth" and sync.next_attempt_at is None and not _due(sync)
    # Hours later, with the marketplace answering again, it is still not probed: only new credentials lift it.
    EntitySync.objects.filter(pk=sync.pk).update(last_finished_at=timezone.now() - timedelta(hours=6))
    assert not _due(sync)
    sent = len(transport.requests)
    assert run_entity_sync(sync.pk, transport=transport).status == "skipped" and len(transport.requests) == sent
    assert organization_health_alert(organization=connection.organization).auth_errors == ["BrickLink"]
    connection_rotate_credentials(connection=connection, credentials=connection.credentials)
    assert _due(sync) and run_entity_sync(sync.pk, transport=transport).status == "ok"


def test_new_credentials_also_lift_a_refused_call():
    app = build_sim()
    connection = connect(make_organization("shop"), "refurbed")
    sync = EntitySync.objects.get(connection=connection, entity="orders")
    app["refurbed"].faults.force("forbidden", 1)
    assert run_entity_sync(sync.pk, transport=SimTransport(app)).error_kind == "forbidden"
    connection_rotate_credentials(connection=connection, credentials=connection.credentials)
    sync.refresh_from_db()
    assert sync.error_kind == "" and sync.next_attempt_at is None and _due(sync)


def test_backmarkets_waf_page_stays_a_transient_error_not_a_refusal():
    app = build_sim()
    connection = connect(make_organization("shop"), "backmarket")
    sync = EntitySync.objects.get(connection=connection, entity="orders")
    app["backmarket"].faults.force("forbidden", 100)  # the simulator's 403 is Cloudflare's HTML page
    outcome = run_entity_sync(sync.pk, transport=SimTransport(app))
    assert outcome.error_kind == "transient" and "firewall" in outcome.error


def test_a_write_on_a_connection_stopped_by_a_refusal_is_refused_in_the_banners_words_and_nothing_is_sent():
    app = build_sim()
    transport = SimTransport(app)
    connection = connect(make_organization("shop"), "bricklink")
    app["bricklink"].control("ip_mismatch", {"on": True})
    run_entity_sync(EntitySync.objects.get(connection=connection, entity="orders").pk, transport=transport)
    banner = organization_health_alert(organization=connection.organization).refusals
    sent = len(transport.requests)
    with pytest.raises(WriteRefused) as refused:
        marketplace_write(connection=connection, action="order_status", target_type="order", target_id="1",
                          summary={"status": "PACKED"}, send=lambda client: client.order(1), transport=transport)
    assert refused.value.refused_locally and refused.value.message.startswith(banner[0])
    assert "replace them" not in refused.value.message  # the key is fine: no new credentials are asked for
    assert len(transport.requests) == sent
    entry = AuditEntry.objects.get(connection=connection)
    assert entry.outcome == "failure" and entry.error.startswith(banner[0])


def test_a_write_the_marketplace_refuses_with_a_403_says_what_the_marketplace_said():
    app = build_sim()
    transport = SimTransport(app)
    connection = connect(make_organization("shop"), "backmarket")
    transport.backmarket_refuses = True
    with pytest.raises(WriteRefused) as refused:
        marketplace_write(connection=connection, action="orderline_identifiers", target_type="orderline", target_id="1",
                          summary={"imei": "490154203237518"}, send=lambda client: client.order_get(1), transport=transport)
    assert not refused.value.refused_locally
    assert "ingestion channel could be disabled" in refused.value.message and "replace them" not in refused.value.message
