"""Reads of BackShip deliveries and returns, always scoped to an organization."""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse

from backship.models import Delivery, Return
from connections.models import Organization
from marketsync.keyset import KeysetPage, keyset_page

PAGE_SIZE = 50


def _model(kind: str):
    return Delivery if kind == "delivery" else Return


def delivery_list(*, organization: Organization, order=None, q: str = "") -> QuerySet[Delivery]:
    qs = Delivery.objects.filter(organization=organization).select_related("order", "connection")
    if order is not None:
        qs = qs.filter(order=order)
    if q:
        qs = qs.filter(tracking_number__icontains=q) | qs.filter(order_external_id=q.strip())
    return qs


def return_list(*, organization: Organization, order=None, order_item=None, q: str = "") -> QuerySet[Return]:
    qs = Return.objects.filter(organization=organization).select_related("order", "order_item", "connection")
    if order is not None:
        qs = qs.filter(order=order)
    if order_item is not None:
        qs = qs.filter(order_item=order_item)
    if q:
        qs = qs.filter(tracking_number__icontains=q) | qs.filter(order_external_id=q.strip())
    return qs


def delivery_get(*, organization: Organization, pk: int) -> Delivery | None:
    return delivery_list(organization=organization).filter(pk=pk).first()


def return_get(*, organization: Organization, pk: int) -> Return | None:
    return return_list(organization=organization).filter(pk=pk).first()


def shipment_page(
    *, organization: Organization, kind: str, q: str = "", after: str = "", before: str = "", limit: int = PAGE_SIZE
) -> KeysetPage:
    """One page of the deliveries (``kind="delivery"``) or returns, newest first, by keyset on ``(created_at, id)``
    (the ``delivery_org_created_idx`` / ``return_org_created_idx`` index)."""
    qs = delivery_list(organization=organization, q=q) if kind == "delivery" else return_list(organization=organization, q=q)
    return keyset_page(qs, key="created_at", after=after, before=before, limit=limit, descending=True)


def shipment_external_ids_with_label(*, connection, kind: str, external_ids: list[str]) -> set[str]:
    """Which of these shipments already have their label stored (the sync downloads only the others)."""
    return set(
        _model(kind).objects.filter(connection=connection, external_id__in=external_ids)
        .exclude(label_file="").values_list("external_id", flat=True)
    )


def shipment_label_url(*, shipment) -> str:
    """The URL (ours, access-checked) of a stored label, or '' when not downloaded yet."""
    if not shipment.label_file:
        return ""
    return reverse("backship:label", args=[shipment.kind, shipment.pk])
