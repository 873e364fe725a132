"""Offers with their market offers, one offer, and a Refurbed connection's live reference data: thin doors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from connections.middleware import organization_or_404
from connections.selectors import connection_get, connection_list
from marketsync.keyset import CursorForm
from marketsync.marketplaces import Marketplace
from marketsync.sync.errors import MarketplaceError, NotFound, public_message
from offers import reference, selectors
from offers.forms import MarketOfferFilterForm, OfferFilterForm, ReferenceLookupForm


@login_required
@require_GET
def offer_list(request):
    organization = organization_or_404(request)
    form = OfferFilterForm(request.GET or None, organization=organization)
    filters, cursor = form.filters(), CursorForm(request.GET)
    page = selectors.offer_page(organization=organization, **filters, **cursor.cursors())
    market_offers = selectors.market_offer_list(
        organization=organization, offer_external_ids=[o.external_id for o in page.rows],
        include_removed=filters["include_removed"], limit=selectors.PAGE_SIZE * 20,
    )
    by_offer: dict[tuple[int, str], list] = {}
    for market_offer in market_offers:
        by_offer.setdefault((market_offer.connection_id, market_offer.offer_external_id), []).append(market_offer)
    rows = [(offer, by_offer.get((offer.connection_id, offer.external_id), [])) for offer in page.rows]
    return render(request, "offers/offer_list.html", {
        "form": form, "page": page, "rows": rows, "base_query": cursor.base_query(),
        "connections": connection_list(organization=organization, marketplace=Marketplace.REFURBED),
    })


@login_required
@require_GET
def market_offer_list(request):
    organization = organization_or_404(request)
    form = MarketOfferFilterForm(request.GET or None, organization=organization)
    cursor = CursorForm(request.GET)
    page = selectors.market_offer_page(organization=organization, **form.filters(), **cursor.cursors())
    return render(request, "offers/market_offer_list.html", {"form": form, "page": page, "base_query": cursor.base_query()})


@login_required
@require_GET
def reference_index(request):
    """Reference data is read per Refurbed connection: straight to it when there is one, else a choice."""
    connections = list(connection_list(organization=organization_or_404(request), marketplace=Marketplace.REFURBED))
    if len(connections) == 1:
        return redirect("offers:reference", connection_id=connections[0].pk)
    return render(request, "offers/reference_index.html", {"connections": connections})


@login_required
@require_GET
def offer_detail(request, pk: int):
    organization = organization_or_404(request)
    offer = selectors.offer_get(organization=organization, pk=pk)
    if offer is None:
        raise Http404("No such offer.")
    market_offers = selectors.market_offer_list(organization=organization, offer_external_ids=[offer.external_id],
                                                connection=offer.connection, include_removed=True)
    return render(request, "offers/offer_detail.html", {"offer": offer, "market_offers": market_offers})


@login_required
@require_GET
def reference_data(request, connection_id: int):
    connection = connection_get(organization=organization_or_404(request), connection_id=connection_id,
                                marketplace=Marketplace.REFURBED)
    if connection is None:
        raise Http404("No such Refurbed connection.")
    form = ReferenceLookupForm(request.GET or None)
    lookups = form.lookups()
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
            errors.append(f"{name.replace('_', ' ').capitalize()}: {public_message(exc)}")
            break  # the same failure would repeat for each section
    instance, template_rows = None, []
    if lookups["instance"] and not errors:
        try:
            instance = reference.reference_instance_get(connection=connection, instance_id=lookups["instance"])
        except NotFound:
            form.add_error("instance", "Refurbed has no instance with this id.")
        except MarketplaceError as exc:  # Refurbed's (or the service's) words, beside the field, without API paths
            form.add_error("instance", public_message(exc))
    if lookups["category_type"] and not errors:
        try:
            template_rows = reference.reference_catalog_template_list(
                connection=connection, category_type=lookups["category_type"], lang_code=lookups["lang"])
        except MarketplaceError as exc:
            form.add_error("category_type", public_message(exc))
    return render(request, "offers/reference.html", {
        "connection": connection, "sections": sections, "errors": errors, "instance": instance, "form": form,
        "templates": template_rows,
    })
