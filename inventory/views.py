"""Stock pages: the stock list, an item's links and ledger, order items no stock matched, lots/listings/offers no
stock item sells, and owners' link changes. Thin doors."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.http import Http404, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from connections.middleware import organization_or_404
from connections.selectors import connection_list
from inventory import selectors
from inventory.context_processors import stock_problems_refresh
from inventory.forms import InventoryAdjustForm, InventoryFilterForm, LedgerFilterForm, StockLinkForm, UnmatchedFilterForm
from inventory.push import reconcile_apply
from inventory.services import StockLinkError, inventory_adjust, stock_item_create_from_listing, stock_link_set, stock_unlink
from marketsync.keyset import CursorForm


@login_required
@require_GET
def inventory_list(request):
    organization = organization_or_404(request)
    form = InventoryFilterForm(request.GET or None)
    filters = form.filters()
    cursor = CursorForm(request.GET)
    page = selectors.inventory_item_page(organization=organization, **filters, **cursor.cursors())
    rows = []
    for item in page.rows:
        links = selectors.stock_item_links(item=item, include_removed=False)
        rows.append((item, links, any(link.drift for link in links)))
    problems = stock_problems_refresh(organization=organization)  # this page's counts are live, not cached
    unlinked = sum(selectors.unlinked_counts(organization=organization).values())
    return render(request, "inventory/inventory_list.html", {
        "form": form, "page": page, "rows": rows, "base_query": cursor.base_query(), "searched": any(filters.values()),
        "stock_problems": problems, "unmatched_count": problems.shown_unmatched if problems.unmatched else "",
        "unlinked_count": unlinked,
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
        "links": selectors.stock_item_links(item=item),
        "movements": selectors.stock_movement_page(item=item, **cursor.cursors()),
        "base_query": cursor.base_query(),
        "reservations": selectors.reservation_open_list(item=item),
        "pushes": selectors.stock_push_list(item=item),
        "can_write": bool(request.is_org_owner),
        "adjust_form": InventoryAdjustForm(),
        "connections": connection_list(organization=organization) if request.is_org_owner else [],
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
def unlinked_listings(request):
    organization = organization_or_404(request)
    kind = request.GET.get("kind", "listing")
    if kind not in selectors.LINK_KINDS:
        kind = "listing"
    cursor = CursorForm(request.GET)
    page = selectors.unlinked_page(organization=organization, kind=kind, **cursor.cursors())
    return render(request, "inventory/unlinked.html", {
        "page": page, "kind": kind, "counts": selectors.unlinked_counts(organization=organization),
        "base_query": cursor.base_query(), "can_write": bool(request.is_org_owner),
    })


@login_required
@require_POST
def stock_link_change(request):
    """An owner links, unlinks, or makes a stock item from a lot, listing or offer; back to where the form was."""
    organization = organization_or_404(request)
    form = StockLinkForm(request.POST)
    back = request.POST.get("next", "")
    # Only a path of this site (the page the form was on); anything else goes back to the unlinked queue.
    if not (back.startswith("/") and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                                                      require_https=request.is_secure())):
        back = ""
    back = back or reverse("inventory:inventory_unlinked")
    if not request.is_org_owner:
        messages.error(request, "Only an owner of the organization can change what a listing's stock is.")
        return HttpResponseRedirect(back)
    if not form.is_valid():
        messages.error(request, f"Not changed: {form.error_text()}")
        return HttpResponseRedirect(back)
    data = form.cleaned_data
    where = {"organization": organization, "connection_id": data["connection"], "external_id": data["external_id"],
             "user": request.user, "source": "page"}
    try:
        if data["action"] == "link":
            row = stock_link_set(item_id=data["item"], **where)
            messages.success(request, f"{row.connection.marketplace_label} {row.external_id} now sells stock item {data['item']}.")
        elif data["action"] == "unlink":
            row = stock_unlink(**where)
            messages.success(request, f"{row.connection.marketplace_label} {row.external_id} is unlinked: its stock is not tracked.")
        else:
            item = stock_item_create_from_listing(sku=data["sku"], **where)
            messages.success(request, f"Stock item {item.pk} ({item}) created, on hand {item.quantity_on_hand}.")
            if not request.POST.get("next"):
                back = reverse("inventory:inventory_item", args=[item.pk])
    except StockLinkError as exc:
        messages.error(request, f"Not changed: {exc}")
    return HttpResponseRedirect(back)


@login_required
@require_GET
def reconcile(request):
    """Before stock push is switched on: every linked lot, listing or offer whose marketplace quantity differs from
    local available, and how many are unlinked or unmapped."""
    organization = organization_or_404(request)
    return render(request, "inventory/reconcile.html", {
        "rows": selectors.reconcile_rows(organization=organization),
        "unlinked": selectors.unlinked_counts(organization=organization),
        "unmapped": selectors.unmapped_count(organization=organization),
        "cap": selectors.UNMATCHED_COUNT_CAP,
        "can_write": bool(request.is_org_owner),
    })


@login_required
@require_POST
def reconcile_push(request):
    """An owner pushes local available to every listed difference (queued, sent within a minute by the drain)."""
    organization = organization_or_404(request)
    if not request.is_org_owner:
        messages.error(request, "Only an owner of the organization can push stock to the marketplaces.")
        return redirect("inventory:reconcile")
    rows = selectors.reconcile_rows(organization=organization)
    if not rows:
        messages.info(request, "Nothing to push: every linked listing already shows local available.")
        return redirect("inventory:reconcile")
    try:
        queued = reconcile_apply(organization=organization, rows=rows)
    except DatabaseError:  # nothing was queued (one transaction): say so rather than fail the page
        messages.error(request, "Nothing was pushed: the stock could not be written just now. Try again in a minute.")
    else:
        messages.success(request, f"Queued {queued} push(es): each is sent within a minute and shown on its stock item's page.")
    return redirect("inventory:reconcile")


@login_required
@require_GET
def unmatched_items(request):
    organization = organization_or_404(request)
    form = UnmatchedFilterForm(request.GET or None)
    cursor = CursorForm(request.GET)
    page = selectors.unmatched_item_page(organization=organization, **form.filters(), **cursor.cursors())
    return render(request, "inventory/unmatched.html", {"form": form, "page": page, "base_query": cursor.base_query()})


@login_required
@require_GET
def ledger(request):
    """Every stock movement of the organization (reserve, release, consume, adjust), newest first."""
    organization = organization_or_404(request)
    form = LedgerFilterForm(request.GET or None)
    cursor = CursorForm(request.GET)
    page = selectors.stock_movement_org_page(organization=organization, **form.filters(), **cursor.cursors())
    return render(request, "inventory/ledger.html", {"form": form, "page": page, "base_query": cursor.base_query()})


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
