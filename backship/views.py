"""BackShip pages: deliveries, returns, and their labels (served only to the owning organization)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import render

from backship import selectors
from backship.forms import ShipmentFilterForm
from connections.middleware import organization_or_404
from marketsync.keyset import CursorForm


@login_required
def delivery_list(request):
    return _shipment_list(request, kind="delivery", title="Deliveries")


@login_required
def return_list(request):
    return _shipment_list(request, kind="return", title="Returns")


def _shipment_list(request, *, kind: str, title: str):
    organization = organization_or_404(request)
    form = ShipmentFilterForm(request.GET or None)
    cursor = CursorForm(request.GET)
    page = selectors.shipment_page(organization=organization, kind=kind, **form.filters(), **cursor.cursors())
    return render(request, "backship/shipment_list.html",
                  {"page": page, "form": form, "base_query": cursor.base_query(), "kind": kind, "title": title})


def _shipment(request, kind: str, pk: int):
    organization = organization_or_404(request)
    if kind == "delivery":
        shipment = selectors.delivery_get(organization=organization, pk=pk)
    elif kind == "return":
        shipment = selectors.return_get(organization=organization, pk=pk)
    else:
        shipment = None
    if shipment is None:
        raise Http404("No such shipment.")
    return shipment


@login_required
def shipment_detail(request, kind: str, pk: int):
    shipment = _shipment(request, kind, pk)
    return render(request, "backship/shipment_detail.html", {
        "shipment": shipment, "kind": kind, "label_url": selectors.shipment_label_url(shipment=shipment),
    })


@login_required
def label(request, kind: str, pk: int):
    shipment = _shipment(request, kind, pk)
    if not shipment.label_file:
        raise Http404("The label has not been downloaded yet.")
    try:
        handle = shipment.label_file.open("rb")
    except FileNotFoundError:
        raise Http404("The label file is missing.") from None
    return FileResponse(handle, content_type="application/pdf", as_attachment=False,
                        filename=f"backship-{kind}-{shipment.external_id}.pdf")
