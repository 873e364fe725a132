from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from marketsync.sync.runner import run_entity_sync
from marketsync.sync.selectors import entity_sync_due_list

logger = logging.getLogger(__name__)


@shared_task(name="marketsync.sync.dispatch_entity", ignore_result=True)
def dispatch_entity(entity: str) -> int:
    """Beat tick for one entity: enqueue one sync per due (connection, entity); expire with the tick."""
    ids = list(entity_sync_due_list(entity=entity).values_list("pk", flat=True))
    for entity_sync_id in ids:
        sync_entity.apply_async(args=[entity_sync_id], expires=settings.SYNC_INTERVAL_SECONDS)
    return len(ids)


@shared_task(name="marketsync.sync.sync_entity", ignore_result=False)
def sync_entity(entity_sync_id: int, force: bool = False) -> dict:
    outcome = run_entity_sync(entity_sync_id, force=force)
    return {
        "entity": outcome.entity,
        "status": outcome.status,
        "seen": outcome.seen,
        "created": outcome.created,
        "updated": outcome.updated,
        "removed": outcome.removed,
        "error": outcome.error,
    }


@shared_task(name="marketsync.sync.ping")
def ping(value: str) -> str:
    """Round-trips through the broker; used by health checks and tests."""
    return value


@shared_task(name="marketsync.sync.refresh_record", ignore_result=True)
def refresh_record_task(connection_id: int, entity: str, external_id: str) -> None:
    """Re-read one record now (a "refresh" click, a push notification). A marketplace failure is logged, not
    retried: the entity's next sync reads the record anyway."""
    from connections.models import Connection
    from marketsync.sync.errors import MarketplaceError
    from marketsync.sync.refresh import record_refresh

    connection = Connection.objects.filter(pk=connection_id, enabled=True).first()
    if connection is None:
        return
    try:
        record_refresh(connection=connection, entity=entity, external_id=external_id)
    except MarketplaceError as exc:
        logger.warning("refresh of %s %s on connection %s failed: %s", entity, external_id, connection_id, exc)
