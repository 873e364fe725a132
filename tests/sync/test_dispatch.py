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
