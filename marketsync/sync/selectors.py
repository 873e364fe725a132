from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from connections.models import EntitySync


def entity_sync_due_list(*, entity: str) -> QuerySet[EntitySync]:
    """Enabled, due, unlocked syncs of one entity on enabled connections that have credentials."""
    now = timezone.now()
    return (
        EntitySync.objects.filter(entity=entity, enabled=True, connection__enabled=True)
        .exclude(connection__credentials_encrypted="")
        .exclude(error_kind=EntitySync.ErrorKind.AUTH)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .order_by("pk")
    )
