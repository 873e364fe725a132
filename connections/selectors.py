from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from connections.models import Connection, EntitySync, Membership, Organization


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
