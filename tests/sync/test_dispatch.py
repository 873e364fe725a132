"""The beat dispatcher enqueues one sync per due, enabled, unlocked (connection, entity) — nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import EntitySync
from marketsync.sync.tasks import dispatch_entity
from orders.models import Order
from tests.factories import make_organization
from tests.marketplaces.refurbed.sim import LoopbackServer, make_sim, refurbed_connection

pytestmark = pytest.mark.django_db


def test_dispatcher_enqueues_only_due_enabled_unlocked_syncs(eager_celery):
    app = make_sim(orders=30)
    with LoopbackServer(app) as server:
        base = f"{server.base}/refurbed"
        due = refurbed_connection(make_organization("due"), base_url=base)
        later = refurbed_connection(make_organization("later"), base_url=base)
        off = refurbed_connection(make_organization("off"), base_url=base)
        locked = refurbed_connection(make_organization("locked"), base_url=base)
        disabled_connection = refurbed_connection(make_organization("disabled"), base_url=base)
        now = timezone.now()
        EntitySync.objects.filter(connection=later, entity="orders").update(next_attempt_at=now + timedelta(minutes=5))
        EntitySync.objects.filter(connection=off, entity="orders").update(enabled=False)
        EntitySync.objects.filter(connection=locked, entity="orders").update(locked_until=now + timedelta(minutes=5))
        disabled_connection.enabled = False
        disabled_connection.save()
        assert dispatch_entity("orders") == 1
    synced = set(Order.objects.values_list("connection_id", flat=True).distinct())
    assert synced == {due.pk}
    started = set(EntitySync.objects.filter(entity="orders", last_started_at__isnull=False).values_list("connection_id", flat=True))
    assert started == {due.pk}


def test_a_sync_queued_before_its_connection_was_deleted_is_skipped_without_a_traceback(caplog):
    """The stock oversell bench deleted an organization while a tick's syncs waited in the queue: each raised
    DoesNotExist in the worker."""
    from connections.services import connection_delete
    from marketsync.sync.tasks import sync_entity

    connection = refurbed_connection(make_organization("gone"), base_url="http://127.0.0.1:9/refurbed")
    queued = EntitySync.objects.get(connection=connection, entity="orders").pk
    connection_delete(connection=connection)
    result = sync_entity(queued)
    assert result["status"] == "skipped" and result["error"] == "the connection is gone"
    assert not [r for r in caplog.records if r.exc_info]
