"""Offers with their market offers, one offer, and a Refurbed connection's live reference data: thin doors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from connections.middleware import organization_or_404
from connections.models import Connection
from marketsync.marketplaces import Marketplace
from marketsync.sync.errors import MarketplaceError
from offers import reference, selectors

PAGE_LIMIT = 100


@login_required
@require_GET
def offer_list(request):
    organization = organization_or_404(request)
    state = request.GET.get("state", "")
    include_removed = request.GET.get("removed") == "1"
    offers = selectors.offer_list(organization=organization, state=state or None, include_removed=include_removed,
                                  limit=PAGE_LIMIT)
    market_offers = selectors.market_offer_list(
        organization=organization, offer_external_ids=[o.external_id for o in offers], include_removed=include_removed,
        limit=PAGE_LIMIT * 20,
    )
    by_offer: dict[tuple[int, str], list] = {}
    for market_offer in market_offers:
        by_offer.setdefault((market_offer.connection_id, market_offer.offer_external_id), []).append(market_offer)
    rows = [(offer, by_offer.get((offer.connection_id, offer.external_id), [])) for offer in offers]
    connections = Connection.objects.filter(organization=organization, marketplace=Marketplace.REFURBED).order_by("pk")
    return render(request, "offers/offer_list.html", {
        "rows": rows, "state": state, "states": selectors.offer_states(organization=organization),
        "include_removed": include_removed, "limit": PAGE_LIMIT, "connections": connections,
    })


@login_required
@require_GET
def offer_detail(request, pk: int):
    organization = organization_or_404(request)
    offer = selectors.offer_get(organization=organization, pk=pk)
    if offer is None:
        raise Http404("No such offer.")
    market_offers = selectors.market_offer_list(organization=organization, offer_external_id=offer.external_id,
                                                include_removed=True)
    market_offers = [m for m in market_offers if m.connection_id == offer.connection_id]
    return render(request, "offers/offer_detail.html", {"offer": offer, "market_offers": market_offers})


@login_required
@require_GET
def reference_data(request, connection_id: int):
    organization = organization_or_404(request)
    connection = get_object_or_404(
        Connection.objects.filter(organization=organization, marketplace=Marketplace.REFURBED), pk=connection_id
    )
    sections, errors = {}, []
    calls = {
        "markets": lambda: reference.reference_market_list(connection=connection),
        "currencies": lambda: reference.reference_currency_list(connection=connection),
        "shipping_profiles": lambda: reference.reference_shipping_profile_list(connection=connection),
    }
    for name, call in calls.items():
        try:
            sections[name] = call()
        except MarketplaceError as exc:
            errors.append(f"{name.replace('_', ' ')}: {exc}")
            break  # the same failure would repeat for each section
    instance, template_rows = None, []
    instance_id = request.GET.get("instance", "").strip()
    if instance_id and not errors:
        try:
            instance = reference.reference_instance_get(connection=connection, instance_id=instance_id)
        except MarketplaceError as exc:
            errors.append(f"instance {instance_id}: {exc}")
    category = request.GET.get("category_type", "").strip().upper()
    if category and not errors:
        try:
            template_rows = reference.reference_catalog_template_list(
                connection=connection, category_type=category, lang_code=request.GET.get("lang", "EN"))
        except MarketplaceError as exc:
            errors.append(f"catalog templates: {exc}")
    return render(request, "offers/reference.html", {
        "connection": connection, "sections": sections, "errors": errors, "instance": instance,
        "instance_id": instance_id, "category_type": category, "templates": template_rows,
    })
