"""Brick inventory pages: the stock list, an item's ledger, and order items no stock matched. Thin doors."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from connections.middleware import organization_or_404
from inventory import selectors
from inventory.forms import InventoryAdjustForm, InventoryFilterForm
from inventory.services import inventory_adjust
from marketsync.keyset import CursorForm


@login_required
@require_GET
def inventory_list(request):
    organization = organization_or_404(request)
    form = InventoryFilterForm(request.GET or None)
    filters = form.filters()
    cursor = CursorForm(request.GET)
    page = selectors.inventory_item_page(organization=organization, **filters, **cursor.cursors())
    rows = [(item, [(lot, selectors.lot_drift(item=item, lot=lot)) for lot in item.live_lots]) for item in page.rows]
    unmatched = selectors.unmatched_item_count(organization=organization)
    return render(request, "inventory/inventory_list.html", {
        "form": form, "page": page, "rows": rows, "base_query": cursor.base_query(), "searched": any(filters.values()),
        "unmatched_count": f"{selectors.UNMATCHED_COUNT_CAP}+" if unmatched > selectors.UNMATCHED_COUNT_CAP else unmatched,
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
    cursor = CursorForm(request.GET)
    return render(request, "inventory/inventory_item.html", {
        "item": item,
        "lots": [(lot, selectors.lot_drift(item=item, lot=lot)) for lot in selectors.inventory_lot_list(item=item)],
        "movements": selectors.stock_movement_page(item=item, **cursor.cursors()),
        "base_query": cursor.base_query(),
        "reservations": selectors.reservation_open_list(item=item),
        "can_write": bool(request.is_org_owner),
        "adjust_form": InventoryAdjustForm(),
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
    form = InventoryAdjustForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not adjusted: {form.error_text()}")
        return redirect("inventory:inventory_item", pk=item.pk)
    try:
        movement = inventory_adjust(organization=organization, item_id=item.pk, user=request.user, source="page", **form.cleaned_data)
    except ValueError as exc:  # the service's own checks: a change of 0, a blank reason
        messages.error(request, f"Not adjusted: {exc}")
    else:
        messages.success(request, f"On hand {movement.on_hand_before} → {movement.on_hand_after}.")
    return redirect("inventory:inventory_item", pk=item.pk)


@login_required
@require_GET
def unmatched_items(request):
    organization = organization_or_404(request)
    cursor = CursorForm(request.GET)
    page = selectors.unmatched_item_page(organization=organization, **cursor.cursors())
    return render(request, "inventory/unmatched.html", {"page": page, "base_query": cursor.base_query()})


@login_required
@require_GET
def unmapped_items(request):
    """Brick Owl lots and order items not in BrickLink's terms yet (the unmapped queue)."""
    organization = organization_or_404(request)
    rows = selectors.unmapped_list(organization=organization)
    return render(request, "inventory/unmapped.html", {"rows": rows, "cap": selectors.UNMAPPED_LIST_CAP})


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
