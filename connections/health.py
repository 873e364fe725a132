"""Sync health: per connection and entity, how fresh the data is, what went wrong and what to do.

Read-only (selectors). The workspace's health page, the banner on every page and the staff view in the
admin all read these, so the merchant and the staff see the same words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connections.budget import api_calls_by_purpose_last_24h
from connections.models import Connection, EntitySync, Organization
from marketsync.marketplaces import Marketplace
from marketsync.sync.selectors import entity_sync_active_q, entity_sync_due_q

STALE_INTERVALS = 3


def stale_after() -> timedelta:
    return timedelta(seconds=STALE_INTERVALS * settings.SYNC_INTERVAL_SECONDS)


def next_beat_tick(now: datetime) -> datetime:
    """The next dispatcher tick: beat runs every SYNC_INTERVAL_SECONDS, aligned on the epoch."""
    interval = settings.SYNC_INTERVAL_SECONDS
    return datetime.fromtimestamp(math.floor(now.timestamp() / interval + 1) * interval, tz=now.tzinfo)


@dataclass
class EntityHealth:
    sync: EntitySync
    state: str  # ok | off | running | never | stale | auth | forbidden | transient | bad_data
    next_run: datetime | None
    next_run_note: str
    stale: bool
    age: timedelta | None
    problem: str = ""
    advice: str = ""
    action: str = ""  # "rotate" when the fix is replacing the API key, "test" when a test call resumes it

    @property
    def skipped(self) -> list[dict]:
        """Records runs skipped and none has stored since, newest first (``EntitySync.skipped_records``)."""
        return [{**e, "at": parse_datetime(str(e.get("at") or ""))} for e in self.sync.skipped_records or []
                if isinstance(e, dict)]


@dataclass
class ConnectionHealth:
    connection: Connection
    entities: list[EntityHealth] = field(default_factory=list)
    bricklink_calls_24h: int | None = None
    # Where those calls went: orders, inventory, push, other (BrickLink only).
    bricklink_calls_by_purpose: dict[str, int] | None = None

    @property
    def worst(self) -> str:
        states = {e.state for e in self.entities}
        for state in ("auth", "forbidden", "bad_data", "transient", "stale", "never"):
            if state in states:
                return state
        return "ok"


def refusal_text(*, label: str, last_error: str) -> str:
    """What a call refused with a 403 or an IP check says: the marketplace's words and what to fix.

    The same words on the banner, the connections page and a write refused because of it."""
    return last_error or f"{label} refuses our calls (403)."


def connection_refusals(*, connection: Connection) -> list[str]:
    """The distinct refusals (403, IP check) stopping this connection's active entities, in entity order."""
    if not connection.enabled:
        return []
    rows = EntitySync.objects.filter(
        connection=connection, enabled=True, error_kind=EntitySync.ErrorKind.FORBIDDEN
    ).order_by("entity").values_list("last_error", flat=True)
    return list(dict.fromkeys(refusal_text(label=connection.marketplace_label, last_error=e) for e in rows))


def entity_health(*, sync: EntitySync, connection: Connection, now: datetime | None = None) -> EntityHealth:
    now = now or timezone.now()
    age = now - sync.last_success_at if sync.last_success_at else None
    active = sync.enabled and connection.enabled
    stale = active and (age > stale_after() if age is not None else now - connection.created_at > stale_after())
    if not active:
        reason = "the connection is disconnected" if not connection.enabled else "this entity is switched off"
        return EntityHealth(sync, "off", None, f"Not scheduled: {reason}.", False, age)
    if sync.error_kind == EntitySync.ErrorKind.AUTH:
        return EntityHealth(
            sync, "auth", None, "Paused until the API key is replaced.", stale, age,
            problem=f"{connection.marketplace_label} refused our API key ({sync.last_error or 'authentication failed'}).",
            advice="Replace the API key: syncing resumes at the next run.",
            action="rotate",
        )
    next_run = sync.next_attempt_at if sync.next_attempt_at and sync.next_attempt_at > now else next_beat_tick(now)
    note = "Running now." if sync.is_locked else ""
    if sync.error_kind == EntitySync.ErrorKind.FORBIDDEN:
        return EntityHealth(
            sync, "forbidden", next_run, note or "Checked again on its own.", stale, age,
            problem=refusal_text(label=connection.marketplace_label, last_error=sync.last_error),
            advice=(f"If it was a passing hiccup, nothing to do: syncing resumes by itself once {connection.marketplace_label} "
                    "answers at the next check shown here. Once you have fixed it, Test connection resumes syncing at once."),
            action="test",
        )
    if sync.error_kind == EntitySync.ErrorKind.TRANSIENT:
        return EntityHealth(
            sync, "transient", next_run, note, stale, age,
            problem=f"A temporary problem reaching {connection.marketplace_label}: {sync.last_error}",
            advice="Nothing to do: it will retry at the next run shown here.",
        )
    if sync.error_kind == EntitySync.ErrorKind.BAD_DATA:
        return EntityHealth(
            sync, "bad_data", next_run, note, stale, age,
            problem=f"Some data from {connection.marketplace_label} could not be read: {sync.last_error}",
            advice="The other records were stored. If the same records keep failing, contact support with the ids above.",
        )
    if sync.last_success_at is None:
        return EntityHealth(sync, "stale" if stale else "never", next_run, note or "Waiting for the first sync.", stale, age)
    return EntityHealth(sync, "stale" if stale else "ok", next_run, note, stale, age)


def _bricklink_calls(connections: list[Connection], now: datetime) -> dict[int, dict[str, int]]:
    ids = [c.pk for c in connections if c.marketplace == Marketplace.BRICKLINK]
    return api_calls_by_purpose_last_24h(connection_ids=ids, now=now) if ids else {}


def sync_health_list(*, organization: Organization | None = None) -> list[ConnectionHealth]:
    """Health of every connection of one organization (or of all, for staff), with their entities."""
    now = timezone.now()
    connections = Connection.objects.select_related("organization").prefetch_related("entity_syncs").order_by(
        "organization__name", "marketplace"
    )
    if organization is not None:
        connections = connections.filter(organization=organization)
    connections = list(connections)
    calls = _bricklink_calls(connections, now)
    result = []
    for connection in connections:
        purposes = calls.get(connection.pk)
        item = ConnectionHealth(connection=connection, bricklink_calls_by_purpose=purposes,
                                bricklink_calls_24h=sum(purposes.values()) if purposes is not None else None)
        item.entities = [entity_health(sync=s, connection=connection, now=now) for s in connection.entity_syncs.all()]
        result.append(item)
    return result


@dataclass
class HealthAlert:
    auth_errors: list[str]
    stale: list[str]
    refusals: list[str] = field(default_factory=list)  # refusal_text of calls refused with a 403 or an IP check

    def __bool__(self) -> bool:
        return bool(self.auth_errors or self.stale or self.refusals)


def organization_health_alert(*, organization: Organization) -> HealthAlert:
    """What the banner on every page warns about: an auth error, a refused call (403, IP check) with what to fix,
    or data older than three intervals. One query."""
    now = timezone.now()
    threshold = now - stale_after()
    rows = (
        EntitySync.objects.filter(connection__organization=organization, connection__enabled=True, enabled=True)
        .filter(
            Q(error_kind__in=[EntitySync.ErrorKind.AUTH, EntitySync.ErrorKind.FORBIDDEN])
            | Q(last_success_at__lt=threshold)
            | Q(last_success_at__isnull=True, connection__created_at__lt=threshold)
        )
        .order_by("connection__marketplace", "entity")
        .values_list("connection__marketplace", "entity", "error_kind", "last_error")
    )
    labels = {m.value: m.label for m in Marketplace}
    auth, stale, refusals = [], [], []
    for marketplace, entity, kind, last_error in rows:
        name = labels.get(marketplace, marketplace)
        if kind == EntitySync.ErrorKind.AUTH:
            if name not in auth:
                auth.append(name)
        elif kind == EntitySync.ErrorKind.FORBIDDEN:
            text = refusal_text(label=name, last_error=last_error)
            if text not in refusals:
                refusals.append(text)
        else:
            stale.append(f"{name} {entity.replace('_', ' ')}")
    return HealthAlert(auth_errors=auth, stale=stale, refusals=refusals)


# --- the backlog: do the workers keep up with the ticks? ------------------------------------------------------

OVERDUE_INTERVALS = 2


@dataclass
class EntityBacklog:
    """One entity's syncs against the workers, over the connections in scope (see README "Operating")."""

    entity: str
    active: int  # syncs the ticks serve
    due: int  # out of backoff and not running: the next tick enqueues them, or they wait in the queue already
    queued: int  # enqueued, no worker has taken them yet
    running: int  # a worker holds their lease now
    overdue: int  # due, and their last run started more than two intervals ago (or never, on an older connection)
    missed_ticks: int  # counter: ticks that found a run still waiting, and runs lost or expired unrun
    oldest_wait: timedelta | None  # how long the longest-waiting queued run has waited

    @property
    def oldest_wait_text(self) -> str:
        if self.oldest_wait is None:
            return ""
        minutes = int(self.oldest_wait.total_seconds() // 60)
        return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def sync_backlog(*, organization: Organization | None = None, now: datetime | None = None) -> list[EntityBacklog]:
    """Per entity: due, queued, running and overdue syncs and the missed-tick counter. One query."""
    now = now or timezone.now()
    interval = timedelta(seconds=settings.SYNC_INTERVAL_SECONDS)
    late = now - OVERDUE_INTERVALS * interval
    due = entity_sync_due_q(now=now)
    overdue = due & (Q(last_started_at__lt=late) | Q(last_started_at__isnull=True, connection__created_at__lt=late))
    rows = EntitySync.objects.filter(entity_sync_active_q())
    if organization is not None:
        rows = rows.filter(connection__organization=organization)
    rows = (
        rows.values("entity").order_by("entity").annotate(
            active=Count("pk"),
            due=Count("pk", filter=due),
            queued=Count("pk", filter=Q(queued_at__isnull=False) & (Q(locked_until__isnull=True) | Q(locked_until__lte=now))),
            running=Count("pk", filter=Q(locked_until__gt=now)),
            overdue=Count("pk", filter=overdue),
            missed_ticks=Sum("missed_ticks"),
            oldest_queued=Min("queued_at", filter=Q(locked_until__isnull=True) | Q(locked_until__lte=now)),
        )
    )
    return [
        EntityBacklog(
            entity=r["entity"], active=r["active"], due=r["due"], queued=r["queued"], running=r["running"],
            overdue=r["overdue"], missed_ticks=r["missed_ticks"] or 0,
            oldest_wait=now - r["oldest_queued"] if r["oldest_queued"] else None,
        )
        for r in rows
    ]
