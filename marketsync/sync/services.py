from __future__ import annotations

from django.conf import settings
from django.db import transaction

from connections.models import Connection, EntitySync
from marketsync.sync.pages import SWEPT_AT


def trigger_sync(*, connection: Connection, entities: list[str] | None = None) -> list[int]:
    """Enqueue every enabled entity of a connection now (after the current transaction commits).

    Clears a pending backoff so "Sync now" means now, and the last catalog sweep's time (``pages.SWEPT_AT``) so
    offers, listings and inventory are swept now rather than on their slower cadence; an auth error still
    blocks until the credentials are replaced.
    """
    from marketsync.sync.tasks import sync_entity

    syncs = EntitySync.objects.filter(connection=connection, enabled=True).exclude(error_kind=EntitySync.ErrorKind.AUTH)
    if entities:
        syncs = syncs.filter(entity__in=entities)
    ids = list(syncs.values_list("pk", flat=True))
    EntitySync.objects.filter(pk__in=ids).update(next_attempt_at=None)
    for sync in EntitySync.objects.filter(pk__in=ids, cursor__has_key=SWEPT_AT).only("pk", "cursor"):
        cursor = {k: v for k, v in sync.cursor.items() if k != SWEPT_AT}
        EntitySync.objects.filter(pk=sync.pk, cursor__has_key=SWEPT_AT).update(cursor=cursor)

    def enqueue() -> None:
        for entity_sync_id in ids:
            sync_entity.apply_async(args=[entity_sync_id], expires=settings.SYNC_INTERVAL_SECONDS)

    transaction.on_commit(enqueue)
    return ids
