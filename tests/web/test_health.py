from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.health import entity_health, next_beat_tick, organization_health_alert, sync_health_list
from connections.models import ApiCallCount, EntitySync
from tests.factories import make_connection, make_organization, make_user

pytestmark = pytest.mark.django_db


def test_next_beat_tick_is_the_next_interval_boundary(settings):
    settings.SYNC_INTERVAL_SECONDS = 300
    assert next_beat_tick(datetime(2026, 11, 23, 16, 2, 10, tzinfo=UTC)) == datetime(2026, 11, 23, 16, 5, tzinfo=UTC)
    assert next_beat_tick(datetime(2026, 11, 23, 16, 5, 0, tzinfo=UTC)) == datetime(2026, 11, 23, 16, 10, tzinfo=UTC)


def test_entity_states_say_what_to_do():
    conn = make_connection(make_organization())
    sync = EntitySync.objects.get(connection=conn, entity="orders")
    now = timezone.now()
    sync.error_kind, sync.last_error = "auth", "401 from ListOrders"
    auth = entity_health(sync=sync, connection=conn, now=now)
    assert auth.state == "auth" and auth.action == "rotate" and "Replace the API key" in auth.advice and auth.next_run is None
    sync.error_kind, sync.next_attempt_at = "transient", now + timedelta(minutes=9)
    transient = entity_health(sync=sync, connection=conn, now=now)
    assert transient.state == "transient" and transient.next_run == sync.next_attempt_at
    sync.error_kind, sync.enabled = "", False
    assert entity_health(sync=sync, connection=conn, now=now).state == "off"
    sync.enabled, sync.last_success_at = True, now - timedelta(minutes=1)
    assert entity_health(sync=sync, connection=conn, now=now).state == "ok"


def test_bricklink_calls_of_the_last_24_hours_are_shown():
    org = make_organization()
    conn = make_connection(org, "bricklink")
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    ApiCallCount.objects.create(connection=conn, hour=hour, calls=120)
    ApiCallCount.objects.create(connection=conn, hour=hour - timedelta(hours=2), calls=30)
    ApiCallCount.objects.create(connection=conn, hour=hour - timedelta(hours=30), calls=999)
    [health] = sync_health_list(organization=org)
    assert health.bricklink_calls_24h == 150


def test_a_new_connection_is_not_stale_until_three_intervals_have_passed(settings):
    org = make_organization()
    conn = make_connection(org)
    assert not organization_health_alert(organization=org)
    type(conn).objects.filter(pk=conn.pk).update(created_at=timezone.now() - timedelta(seconds=3 * settings.SYNC_INTERVAL_SECONDS + 1))
    assert organization_health_alert(organization=org).stale


def test_health_partial_refreshes_over_htmx(client):
    org = make_organization()
    make_connection(org)
    client.force_login(make_user("o", org))
    response = client.get(reverse("connections:connection_list"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and "Refurbed" in body


def test_connection_error_text_from_a_marketplace_is_escaped(client):
    org = make_organization()
    conn = make_connection(org)
    EntitySync.objects.filter(connection=conn, entity="orders").update(error_kind="bad_data", last_error="<script>x()</script>")
    client.force_login(make_user("o", org))
    body = client.get(reverse("connections:connection_list")).content.decode()
    assert "<script>x()" not in body and "&lt;script&gt;x()&lt;/script&gt;" in body
