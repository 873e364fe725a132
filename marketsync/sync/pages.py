"""Pages of typed records, as every adapter yields them, and the helpers that build them.

An adapter turns a marketplace's listing into ``Page`` objects: the records
of one page, the cursor to store once they are stored, the records that did
not parse (named, skipped), and on the last page of a full sweep the time
the sweep started (rows not seen since are then marked removed).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.utils import timezone

from marketsync.sync.errors import BadRecord, NotFound

# What a mapping raises on a payload it cannot read: the record is named and skipped, never a crash.
UNREADABLE = (ValueError, TypeError, KeyError, AttributeError)

T = TypeVar("T")

@dataclass
class Page:
    """One page of typed records and the cursor to store once they are stored.

    ``sweep_started_at`` is set on the last page of a full sweep: records of the
    connection not seen since that time are then marked removed, in the same
    transaction as that page.
    """

    records: list[Any]
    cursor: dict
    bad_records: list[BadRecord] = field(default_factory=list)
    sweep_started_at: datetime | None = None


def cursor_start(cursor: dict, start: datetime) -> datetime:
    """The first-sync start a cursor recorded (``start``), else ``start``: a later change of the configured
    start date does not move a sync already under way."""
    return datetime.fromisoformat(cursor["start"]) if cursor.get("start") else start


SWEPT_AT = "swept_at"


def sweep_due(cursor: dict, now: datetime | None = None) -> bool:
    """Whether a full catalog sweep (offers, market offers, listings, inventory) runs this tick: its cursor's
    ``swept_at`` (set by the last page of a complete sweep) is ``SYNC_CATALOG_SWEEP_SECONDS`` old, less half a
    tick so a tick arriving a moment early does not put it off a whole interval. A sweep under way (no
    ``swept_at`` yet) and a first one are always due; "Sync now" clears ``swept_at``."""
    swept = cursor.get(SWEPT_AT)
    if not swept:
        return True
    try:
        last = datetime.fromisoformat(str(swept))
    except ValueError:
        return True
    slack = timedelta(seconds=settings.SYNC_INTERVAL_SECONDS / 2)
    return (now or timezone.now()) - last >= timedelta(seconds=settings.SYNC_CATALOG_SWEEP_SECONDS) - slack


def sweep_skipped(cursor: dict) -> Page:
    """The page of a tick whose sweep is not due: nothing read, nothing written, the cursor kept."""
    return Page(records=[], cursor=dict(cursor))


def parse_records(
    raws: Iterable[Any], parse: Callable[[Any], Any], record_id: Callable[[Any], str]
) -> tuple[list[Any], list[BadRecord]]:
    """Parse each raw payload; one that does not parse becomes a BadRecord naming it, the rest are kept."""
    records, bad = [], []
    for raw in raws:
        try:
            records.append(parse(raw))
        except UNREADABLE as exc:
            bad.append(BadRecord(record_id(raw) if isinstance(raw, dict) else "?", str(exc) or type(exc).__name__))
    return records, bad


def whole_sweep_page(
    raws: Iterable[Any], parse: Callable[[Any], Any], record_id: Callable[[Any], str], *, started_at: datetime
) -> Page:
    """A full sweep the marketplace returns in one response, as one page.

    A record that did not parse is still listed at the marketplace, so a sweep
    with one marks nothing removed.
    """
    records, bad = parse_records(raws, parse, record_id)
    return Page(records=records, cursor={"last_import": started_at.isoformat(), SWEPT_AT: started_at.isoformat()}, bad_records=bad,
                sweep_started_at=None if bad else started_at)


class CallPacer:
    """At most ``per_minute`` calls in any 60 seconds, ``cost`` calls per start, shared by the threads of one run: a
    start waits until the oldest start of the last minute's allowance is a minute old (a short run is not slowed)."""

    def __init__(self, per_minute: int, *, cost: int = 1, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.starts: deque[float] = deque(maxlen=max(1, per_minute // cost))
        self.clock, self.sleep = clock, sleep
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:  # one waiter at a time: starts keep their order
            now = self.clock()
            if len(self.starts) == self.starts.maxlen and now - self.starts[0] < 60:
                wait = 60 - (now - self.starts[0])
                self.sleep(wait)
                now += wait
            self.starts.append(now)


def fetched_pages(
    work: list[Any],
    fetch: Callable[[Any], Any],
    *,
    record_id: Callable[[Any], str],
    page_size: int,
    cursor: dict,
    holding_cursor: dict,
    concurrency: int = 1,
    pace: Callable[[], None] | None = None,
) -> Iterator[Page]:
    """Pages of records fetched one by one (APIs without a list of full records).

    A record that is gone or does not parse becomes a BadRecord naming it. Every
    page but the last carries ``holding_cursor``, so a run that stops part-way
    repeats the rest next time; the last carries ``cursor``.

    Up to ``concurrency`` records of a page are fetched at once: the caller's thread and ``concurrency - 1``
    threads take the page's records in turn, so the caller's own requests keep beating (a run's lease is renewed
    only from its thread). ``pace``, called before each fetch, keeps them within the marketplace's rate; records
    keep their order. Any other error stops the run as when fetched one by one: no record is started after it,
    and the first in page order is raised. ``fetch`` (and ``pace``) must not touch the database: the threads'
    connections are not the run's.
    """

    def fetched(unit: Any) -> tuple[Any, BadRecord | None]:
        if pace is not None:
            pace()
        try:
            return fetch(unit), None
        except NotFound as exc:
            return None, BadRecord(record_id(unit), str(exc))
        except UNREADABLE as exc:
            return None, BadRecord(record_id(unit), f"unreadable record: {exc}")

    helpers = ThreadPoolExecutor(max_workers=concurrency - 1, thread_name_prefix="fetch") if concurrency > 1 else None
    try:
        for offset in range(0, len(work), page_size):
            units = work[offset : offset + page_size]
            results = _fetch_all(units, fetched, helpers, concurrency - 1) if helpers else [fetched(u) for u in units]
            records = [record for record, bad in results if bad is None]
            bad = [bad for _, bad in results if bad is not None]
            last = offset + page_size >= len(work)
            yield Page(records=records, cursor=cursor if last else holding_cursor, bad_records=bad)
    finally:
        if helpers is not None:
            helpers.shutdown(wait=True, cancel_futures=True)


def _fetch_all(units: list[Any], fetched: Callable[[Any], T], helpers: ThreadPoolExecutor, extra: int) -> list[T]:
    """``fetched`` of every unit, in order, by the caller's thread and ``extra`` helper threads taking the next unit
    in turn; after an error none is started, and the first error in unit order is raised."""
    results: list[Any] = [None] * len(units)
    errors: dict[int, BaseException] = {}
    taken = iter(range(len(units)))
    lock = threading.Lock()

    def take_turns() -> None:
        while True:
            with lock:
                index = None if errors else next(taken, None)
            if index is None:
                return
            try:
                results[index] = fetched(units[index])
            except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread, raised there
                with lock:
                    errors[index] = exc

    running = [helpers.submit(take_turns) for _ in range(min(extra, len(units) - 1))]
    try:
        take_turns()
    finally:
        for future in running:
            future.result()
    if errors:
        raise errors[min(errors)]
    return results


def read_ahead(items: Iterable[T]) -> Iterator[T]:
    """``items`` with the next one produced in a background thread while the caller handles the current one: the
    next page is fetched (and parsed) while this one is stored, so a first sync does not wait on the marketplace and
    the database in turn.

    One item ahead at most, so memory stays one page deep. An error producing an item is raised when the caller asks
    for that item, after every earlier one was handed over (and stored). ``items`` must not touch the database:
    the thread would use a connection of its own, outside the page's transaction.
    """
    iterator = iter(items)
    end = object()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
            pending = pool.submit(next, iterator, end)
            try:
                while (item := pending.result()) is not end:
                    pending = pool.submit(next, iterator, end)
                    yield item
            finally:
                pending.cancel()  # a caller that stops early does not fetch one more page than it started
    finally:
        # The pool has waited for a fetch under way, so the iterator is idle and may be closed here.
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
