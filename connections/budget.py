"""BrickLink's daily call budget, next to the ApiCallCount model that holds it.

Every BrickLink request is counted per connection and hour, and per purpose (orders, inventory, push, other).
When the budget is tight, orders come first, stock pushes second, the inventory import last: past
``BRICKLINK_INVENTORY_PAUSE_AT`` of ``BRICKLINK_DAILY_CALL_LIMIT`` in the rolling 24 hours the inventory import
pauses, past ``BRICKLINK_PUSH_PAUSE_AT`` stock pushes wait too (orders continue); at the limit every BrickLink call
of the connection waits.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    hour = hour_start(now)
    column = CALL_PURPOSES.get(purpose)
    increments = {"calls": F("calls") + calls, **({column: F(column) + calls} if column else {})}
    if ApiCallCount.objects.filter(connection_id=connection_id, hour=hour).update(**increments):
        return
    try:
        with transaction.atomic():
            ApiCallCount.objects.create(connection_id=connection_id, hour=hour, calls=calls,
                                        **({column: calls} if column else {}))
    except IntegrityError:
        ApiCallCount.objects.filter(connection_id=connection_id, hour=hour).update(**increments)


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
