"""No tick leaves anyone behind (issue 13 item 4): a tick enqueues the least recently synced first, leaves a run
still waiting in the queue where it is and counts the missed tick, re-enqueues a lost run and counts it, counts a
run that expired unrun, and the staff's sync health page shows the backlog."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.urls import reverse
from django.utils import timezone

from connections.health import sync_backlog
from connections.models import EntitySync
from marketsync.sync.services import QUEUE_LOST_INTERVALS, entity_sync_dispatch, entity_sync_started
from tests.factories import make_connection, make_organization, make_user


def _orders_syncs(count: int) -> list[EntitySync]:
    return [EntitySync.objects.get(connection=make_connection(make_organization(f"shop{n}")), entity="orders")
            for n in range(count)]


def _tick(now=None) -> tuple[list[int], object]:
    enqueued: list[int] = []
    dispatch = entity_sync_dispatch(entity="orders", enqueue=enqueued.append, now=now)
    return enqueued, dispatch


@pytest.mark.django_db
def test_a_tick_enqueues_the_least_recently_synced_first_and_never_started_before_all():
    a, b, c, d = _orders_syncs(4)
    now = timezone.now()
    EntitySync.objects.filter(pk=a.pk).update(last_started_at=now - timedelta(minutes=1))
    EntitySync.objects.filter(pk=b.pk).update(last_started_at=now - timedelta(minutes=30))
    EntitySync.objects.filter(pk=d.pk).update(last_started_at=now - timedelta(minutes=10))
    enqueued, dispatch = _tick()
    assert enqueued == [c.pk, b.pk, d.pk, a.pk]  # c never ran; then by last start, oldest first
    assert dispatch.enqueued == 4 and dispatch.carried_over == 0


@pytest.mark.django_db
def test_a_run_still_waiting_keeps_its_place_and_each_tick_it_waits_through_is_counted():
    a, b, c = _orders_syncs(3)
    first, _ = _tick()
    assert sorted(first) == sorted([a.pk, b.pk, c.pk])
    assert EntitySync.objects.filter(entity="orders", queued_at__isnull=False).count() == 3
    entity_sync_started(entity_sync_id=a.pk)  # a worker took a's run; b and c still wait
    second, dispatch = _tick()
    assert second == [a.pk]  # nothing enqueued twice: b and c carry over in their place
    assert (dispatch.enqueued, dispatch.carried_over) == (1, 2)
    third, dispatch = _tick()
    assert third == [] and dispatch.carried_over == 3
    missed = dict(EntitySync.objects.filter(entity="orders").values_list("pk", "missed_ticks"))
    assert missed == {a.pk: 1, b.pk: 2, c.pk: 2}
    [orders] = [row for row in sync_backlog() if row.entity == "orders"]
    assert (orders.active, orders.queued, orders.running, orders.missed_ticks) == (3, 3, 0, 5)
    assert orders.oldest_wait is not None


@pytest.mark.django_db
def test_a_run_lost_from_the_queue_is_enqueued_again_and_counted():
    (a,) = _orders_syncs(1)
    now = timezone.now()
    lost_at = now - timedelta(seconds=QUEUE_LOST_INTERVALS * 300 + 60)
    EntitySync.objects.filter(pk=a.pk).update(queued_at=lost_at)
    enqueued, dispatch = _tick(now=now)
    assert enqueued == [a.pk] and dispatch.requeued_lost == 1
    a.refresh_from_db()
    assert a.missed_ticks == 1 and a.queued_at == now


@pytest.mark.django_db
def test_backlog_counts_due_running_and_overdue_per_entity_within_the_organization():
    a, b, c = _orders_syncs(3)
    now = timezone.now()
    long_ago = now - timedelta(hours=2)
    EntitySync.objects.filter(connection__in=[a.connection, b.connection, c.connection]).update(last_started_at=now)
    EntitySync.objects.filter(pk=a.pk).update(last_started_at=long_ago)  # overdue
    EntitySync.objects.filter(pk=b.pk).update(locked_until=now + timedelta(minutes=1))  # running
    EntitySync.objects.filter(pk=c.pk).update(last_started_at=now - timedelta(seconds=30))  # just ran: due, not overdue
    [orders] = [row for row in sync_backlog(now=now) if row.entity == "orders"]
    assert (orders.active, orders.due, orders.running, orders.overdue) == (3, 2, 1, 1)
    [mine] = [row for row in sync_backlog(organization=a.connection.organization, now=now) if row.entity == "orders"]
    assert (mine.active, mine.due, mine.overdue) == (1, 1, 1)


@pytest.mark.django_db
def test_staff_sync_health_page_shows_the_backlog(client):
    a, b = _orders_syncs(2)
    EntitySync.objects.filter(pk=a.pk).update(missed_ticks=7, queued_at=timezone.now() - timedelta(minutes=12))
    staff = make_user("staff", None)
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    body = client.get(reverse("admin_sync_health")).content.decode()
    assert 'id="sync-backlog"' in body
    row = body[body.index("<td>orders</td>"):]
    row = row[:row.index("</tr>")]
    assert "<td>7</td>" in row and "12 min" in row


@pytest.mark.django_db(transaction=True)
def test_a_sync_that_expires_in_the_queue_unrun_is_counted_by_the_worker():
    from marketsync.celery import app
    from marketsync.sync.tasks import sync_entity

    if app.conf.broker_url.startswith("redis://"):
        from tests.test_broker import _reachable
        if not _reachable(app.conf.broker_url):
            pytest.skip("Redis broker not reachable")
    (a,) = _orders_syncs(1)
    EntitySync.objects.filter(pk=a.pk).update(queued_at=timezone.now())
    queue = f"test-expiry-{uuid.uuid4().hex[:12]}"
    # A worker given queues= narrows the app's own consume list for good; put it back for later workers.
    consume_from = app.amqp.queues._consume_from
    try:
        with start_worker(app, perform_ping_check=False, queues=[queue], shutdown_timeout=20):
            result = sync_entity.apply_async(args=[a.pk], queue=queue, expires=timezone.now() - timedelta(seconds=1))
            deadline = timezone.now() + timedelta(seconds=30)
            while timezone.now() < deadline and not EntitySync.objects.filter(pk=a.pk, missed_ticks=1).exists():
                time.sleep(0.1)
    finally:
        app.amqp.queues._consume_from = consume_from
        app.amqp.queues.pop(queue, None)
    a.refresh_from_db()
    assert a.missed_ticks == 1 and a.queued_at is None and a.last_started_at is None
    assert result.state == "REVOKED"
