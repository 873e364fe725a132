from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from connections.models import EntitySync


def entity_sync_active_q() -> Q:
    """Rows the ticks serve: enabled syncs on enabled connections that have credentials and no auth error."""
    return (Q(enabled=True, connection__enabled=True) & ~Q(connection__credentials_encrypted="")
            & ~Q(error_kind=EntitySync.ErrorKind.AUTH))


def entity_sync_due_q(*, now) -> Q:
    """Active rows out of backoff and not running: what a tick enqueues (unless already waiting in the queue)."""
    return (entity_sync_active_q() & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            & (Q(locked_until__isnull=True) | Q(locked_until__lte=now)))


def entity_sync_due_list(*, entity: str) -> QuerySet[EntitySync]:
    """Enabled, due, unlocked syncs of one entity on enabled connections that have credentials, least recently
    started first (never started before all), so a tick that cannot run them all carries the rest over fairly."""
    return (
        EntitySync.objects.filter(entity_sync_due_q(now=timezone.now()), entity=entity)
        .order_by(F("last_started_at").asc(nulls_first=True), "pk")
    )
