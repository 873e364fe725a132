"""BrickLink's daily call budget, next to the ApiCallCount model that holds it.

Every BrickLink request is counted per connection and hour, and per purpose (orders, inventory, push, other).
When the budget is tight, orders come first, stock pushes second, the inventory import last: past
``BRICKLINK_INVENTORY_PAUSE_AT`` of ``BRICKLINK_DAILY_CALL_LIMIT`` in the rolling 24 hours the inventory import
pauses, past ``BRICKLINK_PUSH_PAUSE_AT`` stock pushes wait too (orders continue); at the limit every BrickLink call
of the connection waits.

A sync run or a write counts its calls in memory (``api_calls_batched``: no query per call, and no query from the
threads that fetch order details) and writes them once per page and when it ends, even when it fails
(``api_calls_flush``). The budget reads add the calls this process counted and has not written yet.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from connections.models import ApiCallCount, Connection


def hour_start(moment: datetime | None = None) -> datetime:
    moment = moment or timezone.now()
    return moment.replace(minute=0, second=0, microsecond=0)


# What the calls are for, per counter column; anything else counts as "other" (calls minus these).
CALL_PURPOSES = {"orders": "orders_calls", "inventory": "inventory_calls", "push": "push_calls"}
_call_purpose: ContextVar[str] = ContextVar("api_call_purpose", default="other")


@contextmanager
def api_calls_for(purpose: str) -> Iterator[None]:
    """Clients made inside this block count their calls for ``purpose`` (a stock push's write helper builds its
    client itself, so the purpose travels this way rather than as an argument)."""
    token = _call_purpose.set(purpose)
    try:
        yield
    finally:
        _call_purpose.reset(token)


def api_call_purpose(purpose: str | None = None) -> str:
    """The purpose a new client counts its calls for: the one given, else the enclosing ``api_calls_for``."""
    return purpose or _call_purpose.get()


def api_call_record(*, connection_id: int, calls: int = 1, purpose: str = "other", now: datetime | None = None) -> None:
    """Count calls made for a connection in the current hour's bucket: one UPDATE of the total and the purpose."""
    _write_counts(connection_id, hour_start(now), Counter({purpose: calls}))


def _write_counts(connection_id: int, hour: datetime, by_purpose: Counter) -> None:
    """Add calls (by purpose) to one connection's hour bucket: one UPDATE, or an INSERT for a new hour."""
    calls = sum(by_purpose.values())
    columns = {CALL_PURPOSES[purpose]: n for purpose, n in by_purpose.items() if purpose in CALL_PURPOSES and n}
    increments = {"calls": F("calls") + calls, **{column: F(column) + n for column, n in columns.items()}}
    if ApiCallCount.objects.filter(connection_id=connection_id, hour=hour).update(**increments):
        return
    try:
        with transaction.atomic():
            ApiCallCount.objects.create(connection_id=connection_id, hour=hour, calls=calls, **columns)
    except IntegrityError:
        ApiCallCount.objects.filter(connection_id=connection_id, hour=hour).update(**increments)


# Calls counted in memory and not written yet, per (connection, hour, purpose), for the whole process: the threads
# that fetch order details add to it, the run's own thread writes it (``api_calls_flush``).
_pending: Counter[tuple[int, datetime, str]] = Counter()
_pending_lock = threading.Lock()
_batched: ContextVar[bool] = ContextVar("api_calls_batched", default=False)


@contextmanager
def api_calls_batched(*, connection_id: int) -> Iterator[None]:
    """Clients made inside this block count their calls in memory (no query per call, safe from any thread); the
    counts are written by ``api_calls_flush`` (a sync run flushes after each page) and, whatever happens, when the
    block ends."""
    token = _batched.set(True)
    try:
        yield
    finally:
        _batched.reset(token)
        api_calls_flush(connection_id=connection_id)


def api_call_counter(*, connection_id: int, purpose: str) -> Callable[[object], None]:
    """The ``on_request`` hook of a new BrickLink client: inside ``api_calls_batched`` a count in memory, else
    one UPDATE per call (a client used on its own, outside a run or a write, loses nothing)."""
    if not _batched.get():
        return lambda _request: api_call_record(connection_id=connection_id, purpose=purpose)

    def count(_request: object) -> None:
        with _pending_lock:
            _pending[(connection_id, hour_start(), purpose)] += 1

    return count


def api_calls_flush(*, connection_id: int) -> None:
    """Write the calls counted in memory for a connection: one UPDATE per hour bucket, none when there are none.
    Counts a failed write could not store go back to memory for the next flush."""
    with _pending_lock:
        taken = {key: n for key, n in _pending.items() if key[0] == connection_id}
        for key in taken:
            del _pending[key]
    by_hour: dict[datetime, Counter] = {}
    for (_, hour, purpose), n in taken.items():
        by_hour.setdefault(hour, Counter())[purpose] += n
    for hour, by_purpose in sorted(by_hour.items()):
        try:
            _write_counts(connection_id, hour, by_purpose)
        except BaseException:
            with _pending_lock:
                for purpose, n in by_purpose.items():
                    _pending[(connection_id, hour, purpose)] += n
            raise


def _unflushed(connection_ids: list[int], since: datetime) -> dict[int, Counter]:
    """Calls this process counted and has not written yet, per connection and purpose, from ``since`` on."""
    result: dict[int, Counter] = {}
    wanted = set(connection_ids)
    with _pending_lock:
        for (connection_id, hour, purpose), n in _pending.items():
            if connection_id in wanted and hour >= since:
                result.setdefault(connection_id, Counter())[purpose] += n
    return result


def api_calls_last_24h(*, connection_ids: list[int], now: datetime | None = None) -> dict[int, int]:
    """Calls made for each connection in the rolling 24 hours: the current hour and the 23 before it."""
    since = hour_start(now) - timedelta(hours=23)
    rows = (
        ApiCallCount.objects.filter(connection_id__in=connection_ids, hour__gte=since)
        .values("connection_id")
        .annotate(total=Sum("calls"))
    )
    counts = dict.fromkeys(connection_ids, 0)
    counts.update({row["connection_id"]: row["total"] or 0 for row in rows})
    for connection_id, by_purpose in _unflushed(connection_ids, since).items():
        counts[connection_id] += sum(by_purpose.values())
    return counts


def api_calls_by_purpose_last_24h(*, connection_ids: list[int], now: datetime | None = None) -> dict[int, dict[str, int]]:
    """Where each connection's calls of the rolling 24 hours went: orders, inventory, push and other."""
    since = hour_start(now) - timedelta(hours=23)
    rows = (
        ApiCallCount.objects.filter(connection_id__in=connection_ids, hour__gte=since)
        .values("connection_id")
        .annotate(total=Sum("calls"), **{purpose: Sum(column) for purpose, column in CALL_PURPOSES.items()})
    )
    result = {pk: dict.fromkeys([*CALL_PURPOSES, "other"], 0) for pk in connection_ids}
    for row in rows:
        counted = {purpose: row[purpose] or 0 for purpose in CALL_PURPOSES}
        result[row["connection_id"]] = {**counted, "other": (row["total"] or 0) - sum(counted.values())}
    for connection_id, by_purpose in _unflushed(connection_ids, since).items():
        for purpose, n in by_purpose.items():
            result[connection_id][purpose if purpose in CALL_PURPOSES else "other"] += n
    return result


def bricklink_calls_last_24h(*, connection: Connection, now: datetime | None = None) -> int:
    return api_calls_last_24h(connection_ids=[connection.pk], now=now)[connection.pk]


def budget_tight(*, connection: Connection) -> bool:
    """Past the share of the budget where optional calls (inventory, open-order re-reads) stop."""
    used = bricklink_calls_last_24h(connection=connection)
    return used >= settings.BRICKLINK_DAILY_CALL_LIMIT * settings.BRICKLINK_INVENTORY_PAUSE_AT


def budget_admission(connection: Connection, entity: str) -> str | None:
    """Why this connection should not call BrickLink now for ``entity`` (a sync's entity, or ``"push"``), or None.
    Orders go on to the limit; pushes stop at ``BRICKLINK_PUSH_PAUSE_AT``; the inventory import stops first."""
    limit = settings.BRICKLINK_DAILY_CALL_LIMIT
    used = bricklink_calls_last_24h(connection=connection)
    if used >= limit:
        return (
            f"Waiting: BrickLink's daily call limit is used up ({used:,} of {limit:,} calls in the last 24 hours). "
            "Sync resumes on its own as older calls leave the 24-hour window."
        )
    pause_at = settings.BRICKLINK_INVENTORY_PAUSE_AT
    if entity == "inventory" and used >= limit * pause_at:
        return (
            f"Inventory import paused to keep BrickLink calls for orders: {used:,} of {limit:,} calls used in the last "
            f"24 hours (inventory pauses above {pause_at:.0%}). Orders keep syncing."
        )
    push_pause_at = settings.BRICKLINK_PUSH_PAUSE_AT
    if entity == "push" and used >= limit * push_pause_at:
        return (
            f"Stock push waiting to keep BrickLink calls for orders: {used:,} of {limit:,} calls used in the last "
            f"24 hours (pushes wait above {push_pause_at:.0%}). Sent on its own as older calls leave the window."
        )
    return None
