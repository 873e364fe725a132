"""The order book, its live cue, the CSV export, the order page and its fulfilment actions (every marketplace).

Thin doors onto ``orders.selectors`` and ``orders.writes``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from backship import selectors as backship_selectors
from connections.middleware import organization_or_404
from connections.selectors import connection_list
from marketsync.keyset import CursorForm
from marketsync.marketplaces import Entity, Marketplace
from marketsync.sync.records import UnifiedStatus
from marketsync.sync.writes import WriteRefused
from orders import bulk_ship, fulfilment, presentation, selectors, writes
from orders.export import csv_stream
from orders.forms import (
    OrderBookPageForm,
    OrderExportForm,
    OrderFilterForm,
    OrderInvoiceForm,
    OrderlineIdentifiersForm,
    OrderPollForm,
    OrderSelectionForm,
    OrderShipForm,
    ShipFileForm,
)
from orders.models import Order, OrderItem
from orders.selectors import STATUS_TABS
from orders.tasks import ship_batch

POLL_SECONDS = 15  # the live cue polls this often; settings.ORDER_POLL_SECONDS overrides it


def _filters(request, organization):
    form = OrderFilterForm(request.GET or None, organization=organization)
    return form, form.to_filters()


_MARKETPLACE_LABELS = {m.value: m.label for m in Marketplace}
_STATUS_LABELS = dict(UnifiedStatus.choices)


def _label_rows(orders) -> None:
    """Labels, local times and amounts formatted once per row in Python: template filters cost more than the query."""
    now = timezone.now()
    for order in orders:
        order.marketplace_label = _MARKETPLACE_LABELS.get(order.marketplace, order.marketplace)
        order.status_label = _STATUS_LABELS.get(order.status, order.status)
        order.state_words = presentation.order_state(order)
        if order.placed_at is not None:
            local = timezone.localtime(order.placed_at)
            order.placed_iso, order.placed_display = local.isoformat(), local.strftime("%Y-%m-%d %H:%M")
        if order.ship_by is not None:
            local = timezone.localtime(order.ship_by)
            order.ship_by_iso, order.ship_by_display = local.isoformat(), local.strftime("%Y-%m-%d %H:%M")
            order.ship_by_state = presentation.ship_by_state(order, now)
        if order.total_amount is not None:
            order.total_display = presentation.money_text(order.total_amount)


@login_required
@require_GET
def order_list(request):
    try:
        organization = organization_or_404(request)
    except Http404:  # a landing page: it explains rather than answering a bare 404
        return render(request, "orders/no_organization.html")
    since = timezone.now()
    form, filters = _filters(request, organization)
    view = OrderBookPageForm(request.GET)
    page = selectors.order_book_page(organization=organization, filters=filters, **view.cursors())
    _label_rows(page.rows)
    counts = selectors.order_tab_counts(organization=organization, filters=filters)
    has_connection = bool(page.rows) or (counts or {}).get("all", 0) > 0 or filters.q != "" or (
        connection_list(organization=organization).exists()
    )
    base_query = view.base_query("partial")
    tab_query = view.base_query("partial", "status")
    sort_query = view.base_query("partial", "sort")
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "tabs": [
            (key, label, counts.get(key, 0) if counts is not None else None)
            for key, label, _ in STATUS_TABS
            if key != "unknown" or (counts or {}).get(key)
        ],
        "count_all": counts["all"] if counts is not None else None,
        "active_tab": filters.status,
        "has_connection": has_connection,
        "base_query": base_query,
        "tab_query": tab_query,
        "sort_query": sort_query,
        "sorted_by_ship_by": filters.ship_by_first,
        "since": since.isoformat(),
        "detail_prefix": reverse("orders:order_list"),
        "poll_seconds": getattr(settings, "ORDER_POLL_SECONDS", POLL_SECONDS),
        "filtered": any([filters.marketplace, filters.status, filters.connection_id, filters.date_from, filters.date_to, filters.q]),
    }
    if request.headers.get("HX-Request") and view.rows_only():
        return render(request, "orders/_order_rows.html", context)
    return render(request, "orders/order_list.html", context)


@login_required
@require_GET
def order_poll(request):
    """The live cue: how many orders (matching the current filters) arrived or changed since the page was drawn."""
    organization = organization_or_404(request)
    poll = OrderPollForm(request.GET)
    if not poll.is_valid():  # no moment: nothing to say; a junk one: a 400
        return HttpResponse("", status=200 if poll.has_error("since", code="required") else 400)
    _form, filters = _filters(request, organization)
    changes = selectors.order_changes_since(organization=organization, filters=filters, since=poll.cleaned_data["since"])
    return render(request, "orders/_new_orders.html", {"changes": changes, "base_query": CursorForm(request.GET).base_query("since")})


@login_required
@require_GET
def order_export(request):
    """The current filtered list as CSV, streamed: one row per order, or per item with ``items=1``."""
    organization = organization_or_404(request)
    _form, filters = _filters(request, organization)
    export = OrderExportForm(request.GET)
    items = export.is_valid() and export.cleaned_data["items"]
    rows = selectors.order_export_rows(organization=organization, filters=filters, items=items)
    response = StreamingHttpResponse(csv_stream(rows, selectors.export_columns(items=items)), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    kind = "order-items" if items else "orders"
    response["Content-Disposition"] = f'attachment; filename="{organization.slug}-{kind}-{stamp}.csv"'
    return response


@login_required
@require_GET
def order_detail(request, pk: int):
    organization = organization_or_404(request)
    order = selectors.order_detail_get(organization=organization, pk=pk)
    if order is None:
        raise Http404("No such order.")
    items = selectors.order_detail_items(order=order)
    backmarket = order.marketplace == Marketplace.BACKMARKET
    context = {
        "order": order,
        "connection": order.connection,
        "items": items,
        "view": presentation.order_view(order, items),
        "audit_entries": selectors.order_audit_entries(order=order),
        "raw_json": json.dumps(order.raw, indent=2, ensure_ascii=False, sort_keys=True, default=str),
        "marketplace_partials": [f"orders/_detail_{order.marketplace}.html", "orders/_detail_none.html"],
        "can_write": bool(request.is_org_owner),
        "actions": fulfilment.order_actions(order=order),
        "pending_writes": fulfilment.pending_writes_of(order=order),
        "deliveries": backship_selectors.delivery_list(organization=organization, order=order) if backmarket else [],
        "returns": backship_selectors.return_list(organization=organization, order=order) if backmarket else [],
    }
    return render(request, "orders/order_detail.html", context)


@login_required
@require_POST
def order_refresh(request, pk: int):
    """Ask for a fresh copy of this order from its marketplace (a task, enqueued once this request commits)."""
    from marketsync.sync.tasks import refresh_record_task

    order = selectors.order_detail_get(organization=organization_or_404(request), pk=pk)
    if order is None:
        raise Http404("No such order.")
    transaction.on_commit(partial(refresh_record_task.delay, order.connection_id, Entity.ORDERS.value, order.external_id))
    messages.success(request, f"Refresh of order {order.external_id} requested: the page shows the new copy in a few seconds.")
    return redirect("orders:order_detail", pk=order.pk)


# --- Fulfilment actions on the order page: the same forms and views for every marketplace ------------------------
# Each view parses its form and calls one ``orders.fulfilment`` entry point, which dispatches to the order's
# marketplace (and refuses what that marketplace does not allow in the order's state). The Back Market URL names
# (orderline_accept, orderline_cancel, orderline_identifiers, order_ship) serve every marketplace now.


def _order(request, pk: int) -> Order:
    order = selectors.order_detail_get(organization=organization_or_404(request), pk=pk)
    if order is None:
        raise Http404("No such order.")
    return order


def _backmarket_order(request, pk: int) -> Order:
    order = _order(request, pk)
    if order.marketplace != Marketplace.BACKMARKET:
        raise Http404("No such order.")
    return order


def _order_item(request, order: Order, item_id: int) -> OrderItem:
    item = selectors.order_item_get(organization=organization_or_404(request), pk=item_id)
    if item is None or item.order_id != order.pk:
        raise Http404("No such orderline.")
    return item


def _send(request, order: Order, form: forms.Form, write: Callable[[dict], str]):
    """Parse ``form``, run ``write(cleaned_data)`` (it returns the success message); report, and back to the order."""
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("orders:order_detail", pk=order.pk)
    try:
        done = write(form.cleaned_data)
    except fulfilment.WritePending as exc:
        messages.warning(request, exc.message)
    except WriteRefused as exc:
        messages.error(request, f"Not sent: {exc.message}" if exc.refused_locally else exc.message)
    else:
        messages.success(request, done)
    return redirect("orders:order_detail", pk=order.pk)


@login_required
@require_POST
def orderline_identifiers(request, pk: int, item_id: int):
    order = _order(request, pk)
    item = _order_item(request, order, item_id)

    def write(data: dict) -> str:
        fulfilment.order_item_identifiers(item=item, imei=data["imei"], serial_number=data["serial_number"], user=request.user)
        return f"Identifiers saved on item {item.external_id}."

    return _send(request, order, OrderlineIdentifiersForm(request.POST), write)


ORDERLINE_DECISIONS = {
    "accept": (fulfilment.order_accept_item, "accepted"),
    "cancel": (fulfilment.order_reject_item, "refused"),
}


@login_required
@require_POST
def orderline_decide(request, pk: int, item_id: int, decision: str):
    """Accept or refuse an item (``decision`` comes from the URL pattern)."""
    order = _order(request, pk)
    item = _order_item(request, order, item_id)
    write_decision, done = ORDERLINE_DECISIONS[decision]
    if decision == "cancel" and request.POST.get("confirm") != "yes":  # cannot be undone: ask first (works without JS)
        return render(request, "orders/confirm_orderline_cancel.html", {"order": order, "item": item})

    def write(data: dict) -> str:
        write_decision(item=item, user=request.user)
        return f"Item {item.external_id} {done}."

    return _send(request, order, forms.Form(request.POST), write)


@login_required
@require_POST
def order_ship(request, pk: int):
    order = _order(request, pk)

    def write(data: dict) -> str:
        fulfilment.order_ship(order=order, user=request.user, **data)
        return f"Order {order.external_id} marked shipped."

    return _send(request, order, OrderShipForm(request.POST), write)


ORDER_STEPS = {
    "paid": (fulfilment.order_mark_paid, "marked paid"),
    "packed": (fulfilment.order_mark_packed, "marked packed"),
}


@login_required
@require_POST
def order_step(request, pk: int, step: str):
    """Mark paid (payment taken outside the marketplace) or packed/processed (``step`` comes from the URL pattern)."""
    order = _order(request, pk)
    write_step, done = ORDER_STEPS[step]

    def write(data: dict) -> str:
        write_step(order=order, user=request.user)
        return f"Order {order.external_id} {done}."

    return _send(request, order, forms.Form(request.POST), write)


@login_required
@require_POST
def order_invoice(request, pk: int):
    order = _backmarket_order(request, pk)

    def write(data: dict) -> str:
        upload = data["invoice"]
        writes.order_invoice_upload(order=order, filename=upload.name, content=upload.read(), user=request.user)
        return f"Invoice {upload.name} uploaded."

    return _send(request, order, OrderInvoiceForm(request.POST, request.FILES), write)


# --- a day's parcels at once: ship the selected orders, print their slips and one pick list --------------------------


def _selection(request, organization) -> tuple[OrderSelectionForm, list[Order]]:
    form = OrderSelectionForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        return form, []
    return form, selectors.orders_selected(organization=organization, pks=form.cleaned_data["ids"],
                                           tab=form.cleaned_data.get("tab") or "")


def _ship_rows(request, orders: list[Order]) -> list[bulk_ship.ShipRequest]:
    """The per-order form's rows that were filled in (a row left blank is not shipped)."""
    rows = []
    for order in orders:
        values = {name: request.POST.get(f"{name}_{order.pk}", "").strip()
                  for name in ("carrier", "tracking_number", "tracking_url")}
        if any(values.values()):
            label = _MARKETPLACE_LABELS.get(order.marketplace, order.marketplace)
            rows.append(bulk_ship.ShipRequest(where=f"Order {order.external_id} ({label})", order=order,
                                              marketplace=order.marketplace, order_id=order.external_id, **values))
    return rows


def _start_batch(request, organization, plan, *, source: str, filename: str = ""):
    with transaction.atomic():
        batch = bulk_ship.ship_batch_create(organization=organization, plan=plan, source=source, filename=filename,
                                            user=request.user)
        if batch.state != batch.State.DONE:
            transaction.on_commit(partial(ship_batch.delay, batch.pk))
    return redirect("orders:ship_batch", pk=batch.pk)


@login_required
def orders_ship(request):
    """The selected orders with a carrier and tracking field each, and a CSV upload; checked whole before a batch
    is kept and sent in the background."""
    organization = organization_or_404(request)
    selection, orders = _selection(request, organization)
    file_form = ShipFileForm()
    errors: list[str] = []
    if request.method == "POST":
        if request.FILES:
            file_form = ShipFileForm(request.POST, request.FILES)
            if file_form.is_valid():
                upload = file_form.cleaned_data["file"]
                plan = bulk_ship.ship_plan_from_csv(organization=organization, content=upload.read())
                if not plan.errors:
                    return _start_batch(request, organization, plan, source="csv", filename=upload.name)
                errors = plan.errors
        else:
            rows = _ship_rows(request, orders)
            plan = bulk_ship.ship_plan(organization=organization, requests=rows)
            if not rows:
                errors = ["Enter a tracking number (or URL) for at least one order."]
            elif not plan.errors:
                return _start_batch(request, organization, plan, source="form")
            errors = errors or plan.errors
    for order in orders:
        order.ship_actions = fulfilment.order_actions(order=order)
        order.posted = {name: request.POST.get(f"{name}_{order.pk}", "") for name in ("carrier", "tracking_number",
                                                                                      "tracking_url")}
    _label_rows(orders)
    return render(request, "orders/ship_orders.html", {
        "selection": selection, "orders": orders, "file_form": file_form, "errors": errors,
        "csv_columns": ",".join(bulk_ship.CSV_COLUMNS), "recent": bulk_ship.ship_batches_recent(organization=organization),
    }, status=400 if errors else 200)


@login_required
@require_GET
def ship_batch_detail(request, pk: int):
    """A ship batch's progress (the page refreshes itself until every order has its outcome), then its result."""
    batch = bulk_ship.ship_batch_get(organization=organization_or_404(request), pk=pk)
    if batch is None:
        raise Http404("No such ship batch.")
    rows = bulk_ship.ship_batch_rows(batch=batch)
    counts = bulk_ship.ship_batch_counts(rows)
    running = bool(counts.get("queued") or counts.get("sending"))
    return render(request, "orders/ship_batch.html", {"batch": batch, "rows": rows, "counts": counts, "running": running})


@login_required
@require_GET
def orders_packing_slips(request):
    organization = organization_or_404(request)
    selection, orders = _selection(request, organization)
    return render(request, "orders/packing_slips.html", {
        "selection": selection, "slips": selectors.packing_slips(orders=orders),
    }, status=200 if selection.is_valid() else 400)


@login_required
@require_GET
def orders_pick_list(request):
    organization = organization_or_404(request)
    selection, orders = _selection(request, organization)
    brick_orders = [o for o in orders if o.marketplace in selectors.BRICK_MARKETPLACES]
    lines = selectors.pick_list_combined(orders=brick_orders)
    return render(request, "orders/pick_list_combined.html", {
        "selection": selection, "orders": brick_orders, "lines": lines,
        "pieces": sum(line.quantity for line in lines),
    }, status=200 if selection.is_valid() else 400)
