"""Run one (connection, entity) sync: lease, pages, one transaction per page, outcome.

This is the only place that decides what a failure means for scheduling. See
DESIGN.md, "The engine's contract".
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import connection as connection_db
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from connections.crypto import CredentialsUnreadable
from connections.models import EntitySync
from marketsync.redaction import redact
from marketsync.sync.errors import MarketplaceError, RateLimited
from marketsync.sync.http import build_http_client
from marketsync.sync.wiring import entity_wiring

logger = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
MAX_BAD_RECORDS_REPORTED = 5


@dataclass
class SyncOutcome:
    entity_sync_id: int
    entity: str
    status: str = "ok"  # ok | skipped | failed
    seen: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    pages: int = 0
    duration: float = 0.0
    error: str = ""
    error_kind: str = ""
    bad_records: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def acquire_lease(entity_sync_id: int, *, seconds: int | None = None) -> datetime | None:
    """Atomically take the row's lease; returns its expiry (the holder's token), None when another runner holds it."""
    now = timezone.now()
    seconds = seconds or settings.SYNC_LEASE_SECONDS
    until = now + timedelta(seconds=seconds)
    taken = (
        EntitySync.objects.filter(pk=entity_sync_id)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(locked_until=until, last_started_at=now)
    )
    return until if taken == 1 else None


def _extend_lease(entity_sync_id: int, held: datetime) -> datetime | None:
    """Extend the lease only while it is still ours (it may have run out and been taken); the new token or None."""
    until = timezone.now() + timedelta(seconds=settings.SYNC_LEASE_SECONDS)
    extended = EntitySync.objects.filter(pk=entity_sync_id, locked_until=held).update(locked_until=until)
    return until if extended == 1 else None


def _relax_commit_durability() -> None:
    """Let PostgreSQL acknowledge a page's commit before its WAL reaches disk.

    A crash can then lose the last few pages' commits, but each page commits its
    rows and its cursor together, so what is lost is re-read on the next run: the
    marketplace is the source of this data. Local writes (audit, stock) keep full
    durability since they do not run in these transactions.
    """
    if connection_db.vendor == "postgresql":
        with connection_db.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def backoff_delay(failures: int) -> timedelta:
    """Exponential from one interval, capped, with jitter so connections spread out."""
    base = settings.SYNC_INTERVAL_SECONDS * (2 ** max(0, failures - 1))
    capped = min(base, MAX_BACKOFF.total_seconds())
    return timedelta(seconds=capped * random.uniform(0.8, 1.2))


def run_entity_sync(
    entity_sync_id: int,
    *,
    transport: httpx.BaseTransport | None = None,
    http: httpx.Client | None = None,
    force: bool = False,
) -> SyncOutcome:
    """Sync one (connection, entity). Never raises for marketplace failures: they are recorded."""
    sync = EntitySync.objects.select_related("connection", "connection__organization").get(pk=entity_sync_id)
    outcome = SyncOutcome(entity_sync_id=sync.pk, entity=sync.entity)
    connection = sync.connection
    wiring = entity_wiring(connection.marketplace, sync.entity)
    if wiring is None:
        outcome.status, outcome.error = "skipped", f"{connection.marketplace} does not sync {sync.entity}"
        return outcome
    if not force and (not sync.enabled or not connection.enabled):
        outcome.status, outcome.error = "skipped", "sync is switched off"
        return outcome
    if sync.error_kind == EntitySync.ErrorKind.AUTH and not force:
        outcome.status, outcome.error = "skipped", "waiting for new credentials"
        return outcome
    if wiring.admission:
        reason = wiring.admission(connection, sync.entity)
        if reason:
            EntitySync.objects.filter(pk=sync.pk).update(
                last_error=reason, error_kind=EntitySync.ErrorKind.TRANSIENT,
                next_attempt_at=timezone.now() + timedelta(seconds=settings.SYNC_INTERVAL_SECONDS),
            )
            outcome.status, outcome.error, outcome.error_kind = "skipped", reason, "transient"
            return outcome
    lease = acquire_lease(sync.pk)
    if lease is None:
        outcome.status, outcome.error = "skipped", "another worker is syncing it"
        return outcome

    started = time.monotonic()
    secrets: tuple[str, ...] = ()
    own_http = http is None
    http = http or build_http_client(transport=transport)
    try:
        secrets = tuple(connection.credentials.values())
        adapter = wiring.build_adapter(connection, http)
        for page in adapter.pages(cursor=dict(sync.cursor or {})):
            with transaction.atomic():
                _relax_commit_durability()
                result = wiring.store(connection=connection, records=page.records)
                removed = 0
                if page.sweep_started_at is not None and wiring.mark_removed:
                    removed = wiring.mark_removed(connection=connection, seen_before=page.sweep_started_at)
                EntitySync.objects.filter(pk=sync.pk).update(cursor=page.cursor)
            outcome.pages += 1
            outcome.seen += len(page.records) + len(page.bad_records)
            outcome.created += result.created
            outcome.updated += result.updated
            outcome.removed += removed
            outcome.bad_records += [str(b) for b in page.bad_records]
            lease = _extend_lease(sync.pk, lease)
            if lease is None:
                break  # the lease ran out and another worker took over: it finishes the sync
    except (MarketplaceError, CredentialsUnreadable) as exc:
        outcome.status = "failed"
        outcome.error = redact(str(exc), secrets)
        outcome.error_kind = EntitySync.ErrorKind.AUTH if isinstance(exc, CredentialsUnreadable) else exc.kind
        _record_failure(sync, outcome, exc)
    except Exception as exc:  # a bug or an unparseable payload: recorded, never fatal to other entities
        logger.exception("sync of %s crashed", sync)
        outcome.status = "failed"
        outcome.error = redact(f"{type(exc).__name__}: {exc}", secrets)
        outcome.error_kind = EntitySync.ErrorKind.BAD_DATA
        _record_failure(sync, outcome, exc)
    else:
        if lease is None:
            outcome.status, outcome.error = "skipped", "the lease ran out; another worker took over"
        else:
            _record_success(sync, outcome)
    finally:
        outcome.duration = time.monotonic() - started
        EntitySync.objects.filter(pk=sync.pk).update(
            last_finished_at=timezone.now(),
            last_run_duration_ms=int(outcome.duration * 1000),
        )
        if lease is not None:  # release only our own lease, never one another worker took after ours ran out
            EntitySync.objects.filter(pk=sync.pk, locked_until=lease).update(locked_until=None)
        if own_http:
            http.close()
    return outcome


def _record_success(sync: EntitySync, outcome: SyncOutcome) -> None:
    now = timezone.now()
    error, kind = "", ""
    if outcome.bad_records:
        shown = "; ".join(outcome.bad_records[:MAX_BAD_RECORDS_REPORTED])
        more = len(outcome.bad_records) - MAX_BAD_RECORDS_REPORTED
        error = f"{len(outcome.bad_records)} record(s) could not be read and were skipped: {shown}"
        error += f"; and {more} more" if more > 0 else ""
        kind = EntitySync.ErrorKind.BAD_DATA
        outcome.error, outcome.error_kind = error, kind
    EntitySync.objects.filter(pk=sync.pk).update(
        last_success_at=now,
        last_error=error,
        error_kind=kind,
        consecutive_failures=0,
        next_attempt_at=None,
        last_run_seen=outcome.seen,
        last_run_created=outcome.created,
        last_run_updated=outcome.updated,
        last_run_removed=outcome.removed,
    )


def _record_failure(sync: EntitySync, outcome: SyncOutcome, exc: Exception) -> None:
    failures = sync.consecutive_failures + 1
    next_attempt = None
    if outcome.error_kind == "transient":
        delay = backoff_delay(failures)
        if isinstance(exc, RateLimited) and exc.retry_after:
            delay = max(delay, timedelta(seconds=exc.retry_after))
        next_attempt = timezone.now() + delay
    elif outcome.error_kind == "bad_data":
        next_attempt = timezone.now() + backoff_delay(failures)
    elif outcome.error_kind == EntitySync.ErrorKind.FORBIDDEN:
        # A refused call can heal by itself (this server's IP comes back, a permission hiccup passes, the owner
        # grants it): probed again slowly, never waiting for new credentials the way a refused key (401) does.
        slow = settings.SYNC_FORBIDDEN_RETRY_SECONDS * 2 ** min(failures - 1, 20)
        delay = min(slow, settings.SYNC_FORBIDDEN_RETRY_MAX_SECONDS) * random.uniform(0.9, 1.0)
        next_attempt = timezone.now() + timedelta(seconds=delay)
    logger.warning("sync of %s failed (%s): %s", sync, outcome.error_kind, outcome.error)
    EntitySync.objects.filter(pk=sync.pk).update(
        last_error=outcome.error,
        error_kind=outcome.error_kind,
        consecutive_failures=F("consecutive_failures") + 1,
        next_attempt_at=next_attempt,
        last_run_seen=outcome.seen,
        last_run_created=outcome.created,
        last_run_updated=outcome.updated,
        last_run_removed=outcome.removed,
    )
