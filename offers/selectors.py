"""Reads of offers and market offers, scoped to an organization."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from connections.models import Connection, Organization
from marketsync.keyset import KeysetPage, keyset_page
from offers.models import MarketOffer, Offer

PAGE_SIZE = 100


def offer_page(
    *, organization: Organization, state: str = "", include_removed: bool = False, q: str = "", after: str = "",
    before: str = "", limit: int = PAGE_SIZE,
) -> KeysetPage:
    """One page of the offers, newest first (removed ones hidden unless asked for), by keyset on
    ``(marketplace_created_at, id)``: the ``offer_org_created_idx`` index, or ``offer_org_state_idx`` for a state.
    ``q`` finds an offer id, SKU or product name."""
    qs: QuerySet[Offer] = Offer.objects.filter(organization=organization).defer("raw")
    if q:
        qs = qs.filter(Q(external_id=q) | Q(sku__icontains=q) | Q(instance_name__icontains=q))
    if state:
        qs = qs.filter(state=state)
    if not include_removed:
        qs = qs.filter(removed_at__isnull=True)
    return keyset_page(qs, key="marketplace_created_at", after=after, before=before, limit=limit, descending=True)


MARKET_OFFER_PAGE_SIZE = 100


def market_offer_page(
    *, organization: Organization, market_code: str = "", visibility: str = "", q: str = "", include_removed: bool = False,
    after: str = "", before: str = "", limit: int = MARKET_OFFER_PAGE_SIZE,
) -> KeysetPage:
    """One page of the market offers (an offer's price and visibility in one market), by offer then market, by
    keyset on the ``marketoffer_org_offer_idx`` index. ``q`` finds an offer id or SKU."""
    qs: QuerySet[MarketOffer] = MarketOffer.objects.filter(organization=organization).defer("raw").select_related("connection")
    if market_code:
        qs = qs.filter(market_code=market_code)
    if visibility:
        qs = qs.filter(visibility=visibility)
    if q:
        qs = qs.filter(Q(offer_external_id=q) | Q(sku__icontains=q))
    if not include_removed:
        qs = qs.filter(removed_at__isnull=True)
    return keyset_page(qs, key=("offer_external_id", "market_code"), after=after, before=before, limit=limit,
                       descending=False)


def market_offer_choices(*, organization: Organization) -> dict[str, list[str]]:
    """The market codes and visibilities the organization's market offers use (for the filters)."""
    qs = MarketOffer.objects.filter(organization=organization)
    return {"market_code": sorted(set(qs.values_list("market_code", flat=True).distinct()) - {""}),
            "visibility": sorted(set(qs.values_list("visibility", flat=True).distinct()) - {""})}


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
    offer_external_ids: list[str] | None = None,
    connection: Connection | None = None,
    include_removed: bool = False,
    limit: int = 200,
) -> list[MarketOffer]:
    qs: QuerySet[MarketOffer] = MarketOffer.objects.filter(organization=organization).defer("raw")
    if connection is not None:
        qs = qs.filter(connection=connection)
    if offer_external_ids is not None:
        qs = qs.filter(offer_external_id__in=[str(i) for i in offer_external_ids])
    if not include_removed:
        qs = qs.filter(removed_at__isnull=True)
    return list(qs.order_by("offer_external_id", "market_code")[: max(1, min(limit, 5000))])
