"""Back Market actions on an order's page: IMEI/serial, accept, cancel, ship, invoice (POST only)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from backship import services
from marketsync.marketplaces.backmarket.client import LocalValidationError
from marketsync.sync.errors import MarketplaceError
from orders.models import Order, OrderItem

INVOICE_MAX_BYTES = 10 * 1024 * 1024


def _order(request, order_id: int) -> Order:
    organization = getattr(request, "organization", None)
    if not organization:
        raise Http404("No organization.")
    return get_object_or_404(
        Order.objects.filter(organization=organization, marketplace="backmarket").select_related("connection", "connection__organization"),
        pk=order_id,
    )


def _item(order: Order, item_id: int) -> OrderItem:
    return get_object_or_404(OrderItem.objects.filter(order=order), pk=item_id)


def _back(order: Order):
    try:
        return redirect(reverse("orders:order_detail", args=[order.pk]))
    except NoReverseMatch:  # pragma: no cover - the order page belongs to the workspace
        return redirect(f"/orders/{order.pk}/")


def _attempt(request, order: Order, success: str, call) -> None:
    try:
        call()
    except LocalValidationError as exc:
        messages.error(request, f"Not sent: {exc}")
    except MarketplaceError as exc:
        messages.error(request, f"Back Market refused it: {exc}")
    else:
        messages.success(request, success)


@login_required
@require_POST
def orderline_identifiers(request, order_id: int, item_id: int):
    order = _order(request, order_id)
    item = _item(order, item_id)
    _attempt(request, order, f"Identifiers saved on orderline {item.external_id}.", lambda: services.orderline_identifiers_set(
        item=item, imei=request.POST.get("imei", ""), serial_number=request.POST.get("serial_number", ""), user=request.user))
    return _back(order)


@login_required
@require_POST
def orderline_accept(request, order_id: int, item_id: int):
    order = _order(request, order_id)
    item = _item(order, item_id)
    _attempt(request, order, f"Orderline {item.external_id} accepted.",
             lambda: services.orderline_accept(item=item, user=request.user))
    return _back(order)


@login_required
@require_POST
def orderline_cancel(request, order_id: int, item_id: int):
    order = _order(request, order_id)
    item = _item(order, item_id)
    _attempt(request, order, f"Orderline {item.external_id} cancelled.",
             lambda: services.orderline_cancel(item=item, user=request.user))
    return _back(order)


@login_required
@require_POST
def order_ship(request, order_id: int):
    order = _order(request, order_id)
    _attempt(request, order, f"Order {order.external_id} marked shipped.", lambda: services.order_ship(
        order=order, tracking_number=request.POST.get("tracking_number", ""),
        tracking_url=request.POST.get("tracking_url", ""), shipper=request.POST.get("shipper", ""), user=request.user))
    return _back(order)


@login_required
@require_POST
def order_invoice(request, order_id: int):
    order = _order(request, order_id)
    upload = request.FILES.get("invoice")
    if upload is None:
        messages.error(request, "Choose the invoice PDF to upload.")
        return _back(order)
    if upload.size > INVOICE_MAX_BYTES:
        messages.error(request, "The invoice is larger than 10 MB.")
        return _back(order)
    content = upload.read()
    _attempt(request, order, f"Invoice {upload.name} uploaded.", lambda: services.order_invoice_upload(
        order=order, filename=upload.name, content=content, user=request.user))
    return _back(order)
