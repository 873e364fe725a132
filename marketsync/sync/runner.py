"""Run one (connection, entity) sync: lease, pages, one transaction per page, outcome.

This is the only place that decides what a failure means for scheduling. See
DESIGN.md, "The engine's contract".
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.db import connection as connection_db
from django.db.models import F, Q
from django.utils import timezone

from connections.budget import api_calls_batched, api_calls_flush
from connections.crypto import CredentialsUnreadable
from connections.models import EntitySync
from marketsync.redaction import redact
from marketsync.sync.errors import BadRecord, MarketplaceError, RateLimited
from marketsync.sync.http import build_http_client
from marketsync.sync.pages import UNREADABLE, Page
from marketsync.sync.upsert import UpsertResult
from marketsync.sync.wiring import EntityWiring, entity_wiring

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
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    pages: int = 0
    duration: float = 0.0
    error: str = ""
    error_kind: str = ""
    bad_records: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def updated(self) -> int:
        """Rows rewritten because they changed: ``changed`` (the name the run task's result has carried)."""
        return self.changed


# What a page write fails on because of what one record holds: a value or constraint the database refuses, or a
# value the storing code cannot convert. Anything else (a lost connection, a lock timeout) fails the page whole.
STORE_REFUSALS = (DataError, IntegrityError, ArithmeticError, *UNREADABLE)

Clock = Callable[[], datetime]


class LeaseLost(Exception):
    """Another worker took this run's lease after it ran out: this run stops, the other one finishes the sync."""


def acquire_lease(entity_sync_id: int, *, seconds: int | None = None, now: datetime | None = None) -> datetime | None:
    """Atomically take the row's lease; returns its expiry (the holder's token), None when another runner holds it."""
    now = now or timezone.now()
    seconds = seconds or settings.SYNC_LEASE_SECONDS
    until = now + timedelta(seconds=seconds)
    taken = (
        EntitySync.objects.filter(pk=entity_sync_id)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(locked_until=until, last_started_at=now)
    )
    return until if taken == 1 else None


class Lease:
    """A run's hold on its EntitySync row, kept alive by a heartbeat while the run lasts.

    ``beat`` runs before and after every marketplace request (httpx event hooks, between page transactions)
    and after every page. Once ``SYNC_LEASE_HEARTBEAT_SECONDS`` have passed it extends the lease to
    ``SYNC_LEASE_SECONDS`` from now, so a run can take as long as it needs while a lease left by a killed worker
    runs out within ``SYNC_LEASE_SECONDS``. The token is the expiry this run last set: a lease another worker
    took meanwhile is never taken back (``LeaseLost`` stops the run), and each page's cursor is stored only
    while the lease is still this run's. Only the run's own thread beats (an adapter may prefetch the next page
    in another thread, whose database connection is not the run's).
    """

    def __init__(self, entity_sync_id: int, token: datetime, *, clock: Clock) -> None:
        self.entity_sync_id = entity_sync_id
        self.token: datetime | None = token
        self.clock = clock
        self.renewed_at = clock()
        self.thread = threading.get_ident()

    def _held(self):
        if self.token is None:
            raise LeaseLost()
        return EntitySync.objects.filter(pk=self.entity_sync_id, locked_until=self.token)

    def beat(self, *_event: object) -> None:
        if threading.get_ident() != self.thread:
            return
        now = self.clock()
        if now - self.renewed_at < timedelta(seconds=settings.SYNC_LEASE_HEARTBEAT_SECONDS):
            return
        until = now + timedelta(seconds=settings.SYNC_LEASE_SECONDS)
        if self._held().update(locked_until=until) != 1:
            self.token = None
            raise LeaseLost()
        self.token, self.renewed_at = until, now

    def store_cursor(self, cursor: dict) -> None:
        """Store a page's cursor (inside its transaction) if the lease is still ours; else ``LeaseLost``."""
        if self._held().update(cursor=cursor) != 1:
            self.token = None
            raise LeaseLost()

    def release(self) -> None:
        """Give the lease back, never one another worker took after ours ran out."""
        if self.token is not None:
            EntitySync.objects.filter(pk=self.entity_sync_id, locked_until=self.token).update(locked_until=None)
            self.token = None


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
    clock: Clock | None = None,
) -> SyncOutcome:
    """Sync one (connection, entity). Never raises for marketplace failures: they are recorded.

    ``clock`` (aware datetimes; ``timezone.now`` by default) times the lease and its heartbeat.
    """
    sync = EntitySync.objects.select_related("connection", "connection__organization").filter(pk=entity_sync_id).first()
    if sync is None:  # its connection was deleted after a tick queued this sync
        return SyncOutcome(entity_sync_id=entity_sync_id, entity="", status="skipped", error="the connection is gone")
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
    clock = clock or timezone.now
    token = acquire_lease(sync.pk, now=clock())
    if token is None:
        outcome.status, outcome.error = "skipped", "another worker is syncing it"
        return outcome
    lease = Lease(sync.pk, token, clock=clock)
    run = _RunRecords(watched={str(e.get("id")) for e in sync.skipped_records or [] if isinstance(e, dict)})

    started = time.monotonic()
    secrets: tuple[str, ...] = ()
    own_http = http is None
    http = http or build_http_client(transport=transport)
    http.event_hooks["request"].append(lease.beat)
    http.event_hooks["response"].append(lease.beat)
    # The run counts its API calls in memory (its detail fetches may run in threads that must not query) and writes
    # them after each page and when it ends, failed or not.
    with api_calls_batched(connection_id=connection.pk):
        try:
            secrets = tuple(connection.credentials.values())
            adapter = wiring.build_adapter(connection, http)
            stored = UpsertResult()  # this run's counts, and the rows its pages stored (a sweep's removal compares them)
            for page in adapter.pages(cursor=dict(sync.cursor or {})):
                result, removed = _store_page(wiring, connection, page, lease, stored)
                api_calls_flush(connection_id=connection.pk)  # the page's calls, once per page (outside its transaction)
                outcome.pages += 1
                outcome.seen += len(page.records) + len(page.bad_records)
                outcome.created += result.created
                outcome.changed += result.changed
                outcome.unchanged += result.unchanged
                outcome.removed += removed
                bad = [*page.bad_records, *result.bad_records]
                outcome.bad_records += [str(b) for b in bad]
                run.page_stored(page, bad)
                lease.beat()
        except LeaseLost:
            outcome.status, outcome.error = "skipped", "the lease ran out; another worker took over"
        except (MarketplaceError, CredentialsUnreadable) as exc:
            outcome.status = "failed"
            outcome.error = redact(str(exc), secrets)
            outcome.error_kind = EntitySync.ErrorKind.AUTH if isinstance(exc, CredentialsUnreadable) else exc.kind
            _record_failure(sync, outcome, exc, run)
        except Exception as exc:  # a bug or an unparseable payload: recorded, never fatal to other entities
            logger.exception("sync of %s crashed", sync)
            outcome.status = "failed"
            outcome.error = redact(f"{type(exc).__name__}: {exc}", secrets)
            outcome.error_kind = EntitySync.ErrorKind.BAD_DATA
            _record_failure(sync, outcome, exc, run)
        else:
            _record_success(sync, outcome, run)
        finally:
            outcome.duration = time.monotonic() - started
            EntitySync.objects.filter(pk=sync.pk).update(
                last_finished_at=timezone.now(),
                last_run_duration_ms=int(outcome.duration * 1000),
            )
            lease.release()
            http.event_hooks["request"].remove(lease.beat)
            http.event_hooks["response"].remove(lease.beat)
            if own_http:
                http.close()
    return outcome


def _store_page(wiring: EntityWiring, connection, page: Page, lease: Lease, stored: UpsertResult
                ) -> tuple[UpsertResult, int]:
    """Store one page's records and its cursor in one transaction; returns the counts and how many were removed.

    ``stored`` gathers the rows the run's pages stored (their ``seen`` pks): on the last page of a sweep, a row
    read again unchanged was not rewritten, so its pk, not its stamp, says it is still listed.

    Records whose values do not fit their columns are skipped by the storing service (``bad_records``). If the
    write still fails on what a record holds, the page is stored again in halves, each in a savepoint, down to
    the records the database refuses: those are named and skipped, the rest and the cursor are stored. What a
    failed attempt did (rows, stock reservations) is rolled back with it, so nothing is applied twice.
    """
    try:
        with transaction.atomic():
            _relax_commit_durability()
            # A page with no records (an idle tick, a sweep not due) stores only its cursor: no query of the store's own.
            result = wiring.store(connection=connection, records=page.records) if page.records else UpsertResult()
            return result, _finish_page(wiring, connection, page, lease, result, stored)
    except STORE_REFUSALS as exc:
        refusal = exc
    logger.warning("a page of %s could not be stored whole (%s): narrowing it down", connection, _first_line(refusal))
    with transaction.atomic():
        _relax_commit_durability()
        result, refused = _store_narrowed(wiring.store, connection, page.records, refusal)
        if len(refused) == len(page.records) > 1:
            raise refusal  # every record fails on its own: the fault is not in the records, the page fails whole
        result.bad_records += refused
        return result, _finish_page(wiring, connection, page, lease, result, stored)


def _finish_page(wiring: EntityWiring, connection, page: Page, lease: Lease, result: UpsertResult,
                 stored: UpsertResult) -> int:
    removed = 0
    # A sweep with a record that was not stored marks nothing removed: that record is still listed.
    if page.sweep_started_at is not None and wiring.mark_removed and not result.bad_records:
        removed = wiring.mark_removed(connection=connection, seen_before=page.sweep_started_at, seen=(stored + result).seen)
    for label, pks in result.seen.items():  # the page is stored: its rows count as seen for the pages after it
        stored.seen.setdefault(label, set()).update(pks)
    lease.store_cursor(page.cursor)
    return removed


def _store_narrowed(store: Callable[..., UpsertResult], connection, records: list, refusal: Exception
                    ) -> tuple[UpsertResult, list[BadRecord]]:
    """Store ``records`` in halves, each in a savepoint, recursing into a half that fails; the refused records."""
    if len(records) == 1:
        record_id = getattr(records[0], "external_id", "?")
        return UpsertResult(), [BadRecord(record_id, f"could not be stored: {_first_line(refusal)}")]
    result, refused = UpsertResult(), []
    middle = len(records) // 2
    for half in (records[:middle], records[middle:]):
        try:
            with transaction.atomic():
                result += store(connection=connection, records=half)
        except STORE_REFUSALS as exc:
            half_result, half_refused = _store_narrowed(store, connection, half, exc)
            result += half_result
            refused += half_refused
    return result, refused


def _first_line(exc: Exception) -> str:
    """An exception as one printable line for an error message (a database's DETAIL lines can hold row data)."""
    lines = str(exc).strip().splitlines()
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in (lines[0][:200] if lines else ""))
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


@dataclass
class _RunRecords:
    """The records the run skipped, and which of those kept from earlier runs (``watched``) it stored."""

    watched: set[str]
    skipped: list[BadRecord] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)

    def page_stored(self, page: Page, bad: list[BadRecord]) -> None:
        self.skipped += bad
        if self.watched:  # only those ids: a sweep's whole id list would cost memory for nothing
            refused = {b.record_id for b in bad}
            ids = {str(getattr(r, "external_id", "")) for r in page.records}
            self.stored |= (self.watched & ids) - refused


def _keep_skipped(sync: EntitySync, run: _RunRecords, now) -> None:
    """Add the run's skipped records to those kept on the sync (newest first, bounded) and drop the kept ones the run
    stored. The row is locked so that ops dismissing them at this moment is not undone."""
    if not run.skipped and not run.stored:
        return
    stored = run.stored
    with transaction.atomic():
        kept = EntitySync.objects.select_for_update().filter(pk=sync.pk).values_list("skipped_records", flat=True).first()
        kept = kept if isinstance(kept, list) else []
        fresh = {b.record_id: {"id": b.record_id, "error": b.message[:500], "at": now.isoformat()} for b in run.skipped}
        older = [e for e in kept if isinstance(e, dict) and e.get("id") not in fresh and e.get("id") not in stored]
        records = [*fresh.values(), *older][:EntitySync.SKIPPED_KEPT]
        if records != kept:
            EntitySync.objects.filter(pk=sync.pk).update(skipped_records=records)


def _record_success(sync: EntitySync, outcome: SyncOutcome, run: _RunRecords) -> None:
    now = timezone.now()
    _keep_skipped(sync, run, now)
    error, kind = "", ""
    if outcome.bad_records:
        shown = "; ".join(outcome.bad_records[:MAX_BAD_RECORDS_REPORTED])
        more = len(outcome.bad_records) - MAX_BAD_RECORDS_REPORTED
        error = f"{len(outcome.bad_records)} record(s) could not be read or stored and were skipped: {shown}"
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
        last_run_changed=outcome.changed,
        last_run_unchanged=outcome.unchanged,
        last_run_removed=outcome.removed,
    )


def _record_failure(sync: EntitySync, outcome: SyncOutcome, exc: Exception, run: _RunRecords) -> None:
    _keep_skipped(sync, run, timezone.now())  # the pages stored before the failure
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
        last_run_changed=outcome.changed,
        last_run_unchanged=outcome.unchanged,
        last_run_removed=outcome.removed,
    )
