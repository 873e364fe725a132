from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from connections.models import AuditEntry, Connection, EntitySync, Membership, Organization

AUDIT_PAGE_SIZE = 50


def organization_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Organization]:
    """The organizations a user may see: every merchant-facing query starts here."""
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).distinct().order_by("name")


def membership_get(*, user, organization: Organization) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, organization=organization).first()


def connection_list(*, organization: Organization | None = None) -> QuerySet[Connection]:
    qs = Connection.objects.select_related("organization").prefetch_related("entity_syncs")
    return qs.filter(organization=organization) if organization is not None else qs


def connection_get(*, organization: Organization, connection_id: int) -> Connection | None:
    return connection_list(organization=organization).filter(pk=connection_id).first()


def entity_sync_list(*, organization: Organization) -> QuerySet[EntitySync]:
    return EntitySync.objects.filter(connection__organization=organization).select_related("connection")


# --- the audit log ------------------------------------------------------------------------------------------


@dataclass
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str = ""  # where the next (older) page starts; "" on the last page


def _audit_cursor(entry: AuditEntry) -> str:
    return base64.urlsafe_b64encode(f"{entry.created_at.isoformat()}|{entry.pk}".encode()).decode().rstrip("=")


def _audit_position(cursor: str) -> tuple[datetime, int] | None:
    """The (time, id) a cursor from a URL names, or None when it is missing or not ours (the log starts at the top)."""
    try:
        when, _, pk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        created_at = parse_datetime(when)
        return (created_at, int(pk)) if created_at is not None else None
    except (ValueError, UnicodeDecodeError):
        return None


def audit_entry_page(
    *, organization: Organization, marketplace: str = "", outcome: str = "", after: str = "", limit: int = AUDIT_PAGE_SIZE
) -> AuditPage:
    """One page of the organization's audit log, newest first, after a keyset cursor: no OFFSET, no COUNT,
    however long the log grows."""
    qs = AuditEntry.objects.filter(organization=organization).select_related("user", "order", "connection")
    if marketplace:
        qs = qs.filter(connection__marketplace=marketplace)
    if outcome:
        qs = qs.filter(outcome=outcome)
    position = _audit_position(after) if after else None
    if position is not None:
        created_at, pk = position
        # The redundant ``created_at <= t`` bounds the scan of the (organization, -created_at) index.
        qs = qs.filter(created_at__lte=created_at).filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    rows = list(qs.order_by("-created_at", "-id")[: limit + 1])
    return AuditPage(entries=rows[:limit], next_cursor=_audit_cursor(rows[limit - 1]) if len(rows) > limit else "")
