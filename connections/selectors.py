from __future__ import annotations

from datetime import date, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from connections.models import AuditEntry, Connection, EntitySync, Membership, Organization
from marketsync.forms import day_start
from marketsync.keyset import KeysetPage, keyset_page

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


def organization_get(*, slug: str) -> Organization | None:
    """One organization by its slug (the ops commands' --org)."""
    return Organization.objects.filter(slug=slug).first()


def organization_list() -> QuerySet[Organization]:
    """Every organization by slug: for ops commands only (never a merchant's page)."""
    return Organization.objects.order_by("slug")


def connection_list(
    *, organization: Organization | None, marketplace: str = "", with_entity_syncs: bool = False
) -> QuerySet[Connection]:
    """Connections of one organization — of every organization with ``organization=None``, for staff and ops
    only — by organization and marketplace."""
    qs = Connection.objects.select_related("organization")
    if organization is not None:
        qs = qs.filter(organization=organization)
    if marketplace:
        qs = qs.filter(marketplace=marketplace)
    if with_entity_syncs:
        qs = qs.prefetch_related("entity_syncs")
    return qs.order_by("organization__name", "marketplace", "pk")


def connection_get(
    *, organization: Organization | None, connection_id: int | None = None, marketplace: str = ""
) -> Connection | None:
    """One connection of the organization (of any, with ``organization=None``: staff and ops) by its id, or the
    organization's connection to ``marketplace`` (there is at most one); None when there is none."""
    qs = connection_list(organization=organization, marketplace=marketplace)
    if connection_id is not None:
        qs = qs.filter(pk=connection_id)
    elif organization is None or not marketplace:
        raise ValueError("connection_get needs a connection id, or an organization and a marketplace.")
    return qs.first()


def connection_get_by_webhook_token(*, token: str, marketplace: str) -> Connection | None:
    """The connection a marketplace's push names by its secret token (the token is the credential: no
    organization to start from)."""
    return Connection.objects.filter(webhook_token=token, marketplace=marketplace).first()


def connection_list_by_store_id(*, marketplace: str, store_id: str) -> list[Connection]:
    """The enabled connections whose ``store_id`` option is ``store_id`` (Brick Owl's fixed notify path)."""
    return [
        c for c in Connection.objects.filter(marketplace=marketplace, enabled=True)
        if str((c.options or {}).get("store_id", "")).strip() == store_id
    ]


def connection_marketplaces(*, organization: Organization) -> set[str]:
    """The marketplaces the organization is connected to."""
    return set(Connection.objects.filter(organization=organization).values_list("marketplace", flat=True))


def entity_sync_list(*, organization: Organization | None, connection: Connection | None = None) -> QuerySet[EntitySync]:
    """Entity syncs of one connection, or of an organization's connections (of every one with
    ``organization=None``: ops), by connection and entity."""
    qs = EntitySync.objects.select_related("connection__organization")
    if connection is not None:
        qs = qs.filter(connection=connection)
    elif organization is not None:
        qs = qs.filter(connection__organization=organization)
    return qs.order_by("connection_id", "entity")


# --- the audit log ------------------------------------------------------------------------------------------


def audit_entry_page(
    *, organization: Organization, marketplace: str = "", outcome: str = "", q: str = "", date_from: date | None = None,
    date_to: date | None = None, after: str = "", before: str = "", limit: int = AUDIT_PAGE_SIZE,
) -> KeysetPage:
    """One page of the organization's audit log, newest first, by keyset on ``(created_at, id)`` (the
    ``audit_org_created_idx`` index): no OFFSET, no COUNT, however long the log grows. ``q`` finds an action or
    a target's id; the days are the viewer's, both included."""
    qs = AuditEntry.objects.filter(organization=organization).select_related("user", "order", "connection")
    if q:
        qs = qs.filter(Q(target_id=q) | Q(action__icontains=q) | Q(order__external_id=q))
    if date_from:
        qs = qs.filter(created_at__gte=day_start(date_from))
    if date_to:
        qs = qs.filter(created_at__lt=day_start(date_to + timedelta(days=1)))
    if marketplace:
        qs = qs.filter(connection__marketplace=marketplace)
    if outcome:
        qs = qs.filter(outcome=outcome)
    return keyset_page(qs, key="created_at", after=after, before=before, limit=limit, descending=True)
