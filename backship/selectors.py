"""Reads of BackShip deliveries and returns, always scoped to an organization."""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse

from backship.models import Delivery, Return
from connections.models import Organization


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


def delivery_get_by_external_id(*, organization: Organization, external_id: str) -> Delivery | None:
    return delivery_list(organization=organization).filter(external_id=str(external_id)).first()


def return_get_by_external_id(*, organization: Organization, external_id: str) -> Return | None:
    return return_list(organization=organization).filter(external_id=str(external_id)).first()


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
