"""Reads of Back Market listings and bulk tasks, always scoped to an organization."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from connections.models import Connection, Organization
from listings.models import BulkListingResult, BulkListingTask, Listing
from marketsync.keyset import KeysetPage, keyset_page
from marketsync.marketplaces.backmarket.mapping import PUBLICATION_STATE_LABELS

PAGE_SIZE = 50


def listing_filter(
    *, organization: Organization, publication_state: str = "", q: str = "", include_removed: bool = False
) -> QuerySet[Listing]:
    qs = Listing.objects.filter(organization=organization).select_related("connection")
    if not include_removed:
        qs = qs.filter(removed_at__isnull=True)
    if publication_state != "":
        qs = qs.filter(publication_state=str(publication_state))
    if q:
        qs = qs.filter(Q(sku__icontains=q) | Q(title__icontains=q))
    return qs


def listing_page(
    *, organization: Organization, publication_state: str = "", q: str = "", include_removed: bool = False,
    after: str = "", before: str = "", limit: int = PAGE_SIZE,
) -> KeysetPage:
    """One page of the listings, by SKU, by keyset on ``(sku, id)`` (the ``listing_org_sku_id_idx`` index)."""
    qs = listing_filter(organization=organization, publication_state=publication_state, q=q, include_removed=include_removed)
    return keyset_page(qs, key="sku", after=after, before=before, limit=limit, descending=False)


def listing_get(*, organization: Organization, pk: int) -> Listing | None:
    return Listing.objects.filter(organization=organization, pk=pk).select_related("connection").first()


def listing_get_by_external_id(
    *, organization: Organization, external_id: str, connection: Connection | None = None
) -> Listing | None:
    """By Back Market UUID (or legacy integer id), of one connection when given."""
    qs = _listings(organization=organization, connection=connection)
    return qs.filter(external_id=str(external_id)).first() or qs.filter(legacy_id=str(external_id)).first()


def listing_get_by_sku(*, organization: Organization, sku: str, connection: Connection | None = None) -> Listing | None:
    """By SKU, any case; a live listing before a removed one."""
    qs = _listings(organization=organization, connection=connection).filter(sku__iexact=sku)
    return qs.order_by(F("removed_at").asc(nulls_first=True), "id").first()


def _listings(*, organization: Organization, connection: Connection | None) -> QuerySet[Listing]:
    qs = Listing.objects.filter(organization=organization)
    return qs if connection is None else qs.filter(connection=connection)


def publication_state_choices() -> list[tuple[str, str]]:
    return [(str(k), f"{k} · {v}") for k, v in PUBLICATION_STATE_LABELS.items()]


def bulk_task_list(*, organization: Organization, limit: int = 20) -> list[BulkListingTask]:
    """The newest bulk tasks."""
    return list(_bulk_tasks(organization=organization).order_by("-created_at", "-id")[:limit])


def bulk_task_get(*, organization: Organization, pk: int) -> BulkListingTask | None:
    return _bulk_tasks(organization=organization).filter(pk=pk).first()


def _bulk_tasks(*, organization: Organization) -> QuerySet[BulkListingTask]:
    return BulkListingTask.objects.filter(organization=organization).select_related("connection", "user")


def bulk_task_result_list(*, task: BulkListingTask) -> QuerySet[BulkListingResult]:
    return task.results.all()
