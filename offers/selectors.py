"""Reads of offers and market offers, scoped to an organization."""

from __future__ import annotations

from django.db.models import QuerySet

from connections.models import Connection, Organization
from offers.models import MarketOffer, Offer

MAX_LIMIT = 500


def offer_list(
    *,
    organization: Organization,
    state: str | None = None,
    include_removed: bool = False,
    connection: Connection | None = None,
    limit: int = 50,
) -> list[Offer]:
    """Newest offers first; removed ones hidden unless asked for."""
    qs: QuerySet[Offer] = Offer.objects.filter(organization=organization).defer("raw")
    if state:
        qs = qs.filter(state=state)
    if not include_removed:
        qs = qs.filter(removed_at__isnull=True)
    if connection is not None:
        qs = qs.filter(connection=connection)
    return list(qs.order_by("-marketplace_created_at", "-id")[: max(1, min(limit, MAX_LIMIT))])


def offer_get(*, organization: Organization, pk: int | None = None, external_id: str | None = None) -> Offer | None:
    qs = Offer.objects.filter(organization=organization)
    if pk is not None:
        return qs.filter(pk=pk).first()
    return qs.filter(external_id=str(external_id)).order_by("pk").first()


def offer_states(*, organization: Organization) -> list[str]:
    return sorted(set(Offer.objects.filter(organization=organization).values_list("state", flat=True).distinct()) - {""})


def market_offer_list(
    *,
    organization: Organization,
    offer_external_id: str | None = None,
    offer_external_ids: list[str] | None = None,
    include_removed: bool = False,
    limit: int = 200,
) -> list[MarketOffer]:
    qs: QuerySet[MarketOffer] = MarketOffer.objects.filter(organization=organization).defer("raw")
    if offer_external_id is not None:
        qs = qs.filter(offer_external_id=str(offer_external_id))
    if offer_external_ids is not None:
        qs = qs.filter(offer_external_id__in=[str(i) for i in offer_external_ids])
    if not include_removed:
        qs = qs.filter(removed_at__isnull=True)
    return list(qs.order_by("offer_external_id", "market_code")[: max(1, min(limit, 5000))])


def market_offer_get(*, organization: Organization, key: str) -> MarketOffer | None:
    """One market offer by ``offerId:marketCode``."""
    offer_id, sep, code = str(key).partition(":")
    if not sep or not offer_id or not code:
        return None
    return MarketOffer.objects.filter(organization=organization, external_id=f"{offer_id}:{code}").order_by("pk").first()
