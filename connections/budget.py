"""BrickLink's daily call budget, next to the ApiCallCount model that holds it.

Every BrickLink request is counted per connection and hour. Past
``BRICKLINK_INVENTORY_PAUSE_AT`` of ``BRICKLINK_DAILY_CALL_LIMIT`` in the rolling
24 hours the inventory import pauses (orders continue); at the limit every
BrickLink call of the connection waits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from connections.models import ApiCallCount, Connection


def hour_start(moment: datetime | None = None) -> datetime:
    moment = moment or timezone.now()
    return moment.replace(minute=0, second=0, microsecond=0)


def api_call_record(*, connection_id: int, calls: int = 1, now: datetime | None = None) -> None:
    """Count calls made for a connection in the current hour's bucket."""
    hour = hour_start(now)
    if ApiCallCount.objects.filter(connection_id=connection_id, hour=hour).update(calls=F("calls") + calls):
        return
    try:
        with transaction.atomic():
            ApiCallCount.objects.create(connection_id=connection_id, hour=hour, calls=calls)
    except IntegrityError:
        ApiCallCount.objects.filter(connection_id=connection_id, hour=hour).update(calls=F("calls") + calls)


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


def bricklink_calls_last_24h(*, connection: Connection, now: datetime | None = None) -> int:
    return api_calls_last_24h(connection_ids=[connection.pk], now=now)[connection.pk]


def budget_tight(*, connection: Connection) -> bool:
    """Past the share of the budget where optional calls (inventory, open-order re-reads) stop."""
    used = bricklink_calls_last_24h(connection=connection)
    return used >= settings.BRICKLINK_DAILY_CALL_LIMIT * settings.BRICKLINK_INVENTORY_PAUSE_AT


def budget_admission(connection: Connection, entity: str) -> str | None:
    """Why this connection should not call BrickLink now for ``entity``, or None."""
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
    return None
