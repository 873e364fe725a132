from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connections.models import Connection, EntitySync
from marketsync.sync.pages import SWEPT_AT
from marketsync.sync.selectors import entity_sync_due_list


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


# --- the beat tick: fair carry-over, nothing lost uncounted ----------------------------------------------------
#
# A tick enqueues every due (connection, entity) that is not already waiting in the queue, least recently synced
# first, and marks it queued; the run clears the mark when it starts. A tick that finds a row still waiting from
# an earlier tick leaves it where it is (its run keeps its place in the queue: work carries over, nothing piles up,
# nothing expires) and counts one missed tick on it. A mark older than QUEUE_LOST_INTERVALS intervals means the
# message was lost (a flushed broker, a purge): the row is enqueued again and counted too.

QUEUE_LOST_INTERVALS = 6


def queue_lost_after() -> timedelta:
    return timedelta(seconds=QUEUE_LOST_INTERVALS * settings.SYNC_INTERVAL_SECONDS)


@dataclass
class Dispatch:
    enqueued: int = 0
    carried_over: int = 0  # still waiting from an earlier tick: left in place, one missed tick counted each
    requeued_lost: int = 0  # waited past QUEUE_LOST_INTERVALS: enqueued again, counted


def entity_sync_dispatch(*, entity: str, enqueue: Callable[[int], None], now: datetime | None = None) -> Dispatch:
    """One tick of one entity: enqueue each due row not already waiting, least recently synced first."""
    now = now or timezone.now()
    due = entity_sync_due_list(entity=entity)
    lost_before = now - queue_lost_after()
    waiting = due.filter(queued_at__gt=lost_before)
    carried = EntitySync.objects.filter(pk__in=waiting.values("pk")).update(missed_ticks=F("missed_ticks") + 1)
    lost = EntitySync.objects.filter(pk__in=due.filter(queued_at__lte=lost_before).values("pk")).update(
        missed_ticks=F("missed_ticks") + 1, queued_at=None
    )
    # Claim with this tick's own timestamp, then read back what was claimed: a second dispatcher at the same
    # moment claims nothing twice.
    EntitySync.objects.filter(pk__in=due.filter(queued_at__isnull=True).values("pk"), queued_at__isnull=True).update(
        queued_at=now
    )
    ids = list(due.filter(queued_at=now).values_list("pk", flat=True))
    for entity_sync_id in ids:
        enqueue(entity_sync_id)
    return Dispatch(enqueued=len(ids), carried_over=carried, requeued_lost=lost)


def entity_sync_started(*, entity_sync_id: int) -> None:
    """A run has left the queue: the next tick may enqueue this row again."""
    EntitySync.objects.filter(pk=entity_sync_id, queued_at__isnull=False).update(queued_at=None)


def entity_sync_expired(*, entity_sync_id: int) -> None:
    """A run expired in the queue without running (an expiry set by a door, e.g. "Sync now"): counted, and the row
    may be enqueued again at the next tick."""
    EntitySync.objects.filter(pk=entity_sync_id).update(missed_ticks=F("missed_ticks") + 1, queued_at=None)
