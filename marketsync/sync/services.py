from __future__ import annotations

from django.conf import settings
from django.db import transaction

from connections.models import Connection, EntitySync


def trigger_sync(*, connection: Connection, entities: list[str] | None = None) -> list[int]:
    """Enqueue every enabled entity of a connection now (after the current transaction commits).

    Clears a pending backoff so "Sync now" means now; an auth error still
    blocks until the credentials are replaced.
    """
    from marketsync.sync.tasks import sync_entity

    syncs = EntitySync.objects.filter(connection=connection, enabled=True).exclude(error_kind=EntitySync.ErrorKind.AUTH)
    if entities:
        syncs = syncs.filter(entity__in=entities)
    ids = list(syncs.values_list("pk", flat=True))
    EntitySync.objects.filter(pk__in=ids).update(next_attempt_at=None)

    def enqueue() -> None:
        for entity_sync_id in ids:
            sync_entity.apply_async(args=[entity_sync_id], expires=settings.SYNC_INTERVAL_SECONDS)

    transaction.on_commit(enqueue)
    return ids
