"""Reads of Back Market listings and bulk tasks, always scoped to an organization."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from connections.models import Organization
from listings.models import BulkListingTask, Listing
from marketsync.marketplaces.backmarket.mapping import PUBLICATION_STATE_LABELS


def listing_list(
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


def listing_get(*, organization: Organization, pk: int) -> Listing | None:
    return Listing.objects.filter(organization=organization, pk=pk).select_related("connection").first()


def listing_get_by_external_id(*, organization: Organization, external_id: str) -> Listing | None:
    """By Back Market UUID (or legacy integer id)."""
    qs = Listing.objects.filter(organization=organization)
    return qs.filter(external_id=external_id).first() or qs.filter(legacy_id=external_id).first()


def listing_get_by_sku(*, organization: Organization, sku: str) -> Listing | None:
    return Listing.objects.filter(organization=organization, sku__iexact=sku).order_by("removed_at", "id").first()


def publication_state_choices() -> list[tuple[str, str]]:
    return [(str(k), f"{k} · {v}") for k, v in PUBLICATION_STATE_LABELS.items()]


def bulk_task_list(*, organization: Organization) -> QuerySet[BulkListingTask]:
    return BulkListingTask.objects.filter(organization=organization).select_related("connection", "user")


def bulk_task_get(*, organization: Organization, pk: int) -> BulkListingTask | None:
    return bulk_task_list(organization=organization).filter(pk=pk).first()


# Orderline getters of the seed component, over the shared order tables.
def orderline_list(*, organization: Organization, order=None, sku: str = "", state: str = ""):
    from orders.models import OrderItem

    qs = OrderItem.objects.filter(organization=organization, connection__marketplace="backmarket").select_related("order")
    if order is not None:
        qs = qs.filter(order=order)
    if sku:
        qs = qs.filter(sku__iexact=sku)
    if state != "":
        qs = qs.filter(marketplace_status=str(state))
    return qs


def orderline_get(*, organization: Organization, external_id: str):
    return orderline_list(organization=organization).filter(external_id=str(external_id)).first()


def backmarket_order_list(*, organization: Organization, state: str = ""):
    from orders.models import Order

    qs = Order.objects.filter(organization=organization, marketplace="backmarket")
    if state != "":
        qs = qs.filter(marketplace_status=str(state))
    return qs
