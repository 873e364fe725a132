from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import task_revoked

from marketsync.sync.runner import run_entity_sync
from marketsync.sync.services import entity_sync_dispatch, entity_sync_expired, entity_sync_started

logger = logging.getLogger(__name__)


@shared_task(name="marketsync.sync.dispatch_entity", ignore_result=True)
def dispatch_entity(entity: str) -> int:
    """Beat tick for one entity: enqueue each due (connection, entity) not already waiting, least recently synced
    first (``schedule.entity_sync_dispatch``). Returns how many were enqueued."""
    dispatch = entity_sync_dispatch(entity=entity, enqueue=lambda pk: sync_entity.apply_async(args=[pk]))
    if dispatch.carried_over or dispatch.requeued_lost:
        logger.warning("%s tick: %d sync(s) still waiting from an earlier tick, %d taken as lost and enqueued again: "
                       "the workers are behind", entity, dispatch.carried_over, dispatch.requeued_lost)
    return dispatch.enqueued


@shared_task(name="marketsync.sync.sync_entity", ignore_result=False)
def sync_entity(entity_sync_id: int, force: bool = False) -> dict:
    entity_sync_started(entity_sync_id=entity_sync_id)
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


@task_revoked.connect
def count_expired_sync(sender=None, request=None, expired=False, **kwargs) -> None:
    """A sync that expires in the queue unrun (a door may set an expiry) is counted on its row, never lost quietly."""
    if not expired or getattr(sender, "name", "") != sync_entity.name:
        return
    args = getattr(request, "args", None) or ()
    if args and isinstance(args[0], int):
        from django.db import connection

        try:
            entity_sync_expired(entity_sync_id=args[0])
        finally:  # no task ran, so Celery's own per-task cleanup will not close what this opened
            if not connection.in_atomic_block:
                connection.close()
        logger.warning("sync %s expired in the queue before a worker took it (counted as missed)", args[0])


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
