"""Brick inventory pages: the stock list, an item's ledger, and order items no stock matched. Thin doors."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from connections.middleware import organization_or_404
from inventory import selectors
from inventory.services import inventory_adjust


@login_required
@require_GET
def inventory_list(request):
    organization = organization_or_404(request)
    part = request.GET.get("part", "").strip()
    color = request.GET.get("color", "").strip()
    location = request.GET.get("location", "").strip()
    drift = request.GET.get("drift") in ("1", "on", "true")
    items = selectors.inventory_item_list(organization=organization, part=part, color=color, location=location, drift_only=drift)
    page = Paginator(items, 100).get_page(request.GET.get("page"))
    rows = [(item, [(lot, selectors.lot_drift(item=item, lot=lot)) for lot in item.live_lots]) for item in page.object_list]
    return render(request, "inventory/inventory_list.html", {
        "page": page, "rows": rows, "part": part, "color": color, "location": location, "drift": drift,
        "unmatched_count": selectors.unmatched_item_list(organization=organization).count(),
        "webhooks": selectors.webhook_addresses(organization=organization, base=request.build_absolute_uri("/"))
        if request.is_org_owner else [],
    })


@login_required
@require_GET
def inventory_item_detail(request, pk: int):
    organization = organization_or_404(request)
    item = selectors.inventory_item_get(organization=organization, item_id=pk)
    if item is None:
        raise Http404("No such inventory item.")
    lots = [(lot, selectors.lot_drift(item=item, lot=lot)) for lot in item.lots.select_related("connection").order_by("connection_id")]
    movements = Paginator(selectors.stock_movement_list(item=item), 200).get_page(request.GET.get("page"))
    reservations = item.reservations.filter(state="open").select_related("order_item__order").order_by("-created_at")
    return render(request, "inventory/inventory_item.html", {
        "item": item, "lots": lots, "movements": movements, "reservations": reservations,
        "can_write": bool(request.is_org_owner),
    })


@login_required
@require_POST
def inventory_item_adjust(request, pk: int):
    organization = organization_or_404(request)
    item = selectors.inventory_item_get(organization=organization, item_id=pk)
    if item is None:
        raise Http404("No such inventory item.")
    if not request.is_org_owner:
        messages.error(request, "Only an owner of the organization can adjust stock.")
        return redirect("inventory:inventory_item", pk=item.pk)
    try:
        delta = int(request.POST.get("delta", ""))
        movement = inventory_adjust(organization=organization, item_id=item.pk, delta=delta, reason=request.POST.get("reason", ""),
                                    user=request.user, source="page")
    except ValueError as exc:
        text = str(exc) if "delta" in str(exc) or "reason" in str(exc) else "The change must be a whole number, e.g. -3 or 5."
        messages.error(request, text)
    else:
        messages.success(request, f"On hand {movement.on_hand_before} → {movement.on_hand_after}.")
    return redirect("inventory:inventory_item", pk=item.pk)


@login_required
@require_GET
def unmatched_items(request):
    organization = organization_or_404(request)
    page = Paginator(selectors.unmatched_item_list(organization=organization), 100).get_page(request.GET.get("page"))
    return render(request, "inventory/unmatched.html", {"page": page})


def moved_from_listings(request, rest: str):
    """The pages' addresses before stock had its own app, ``/listings/inventory/<rest>``: moved for good.

    301 for GET and HEAD; 308 for anything else, so a POST (an adjust form left open in a tab) stays a POST.
    The query string is kept.
    """
    url = reverse("inventory:inventory_list") + quote(rest)
    if request.META.get("QUERY_STRING"):
        url = f"{url}?{request.META['QUERY_STRING']}"
    response = HttpResponsePermanentRedirect(url)
    if request.method not in ("GET", "HEAD"):
        response.status_code = 308
    return response
