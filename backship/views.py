"""BackShip pages: deliveries, returns, and their labels (served only to the owning organization)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import render

from backship import selectors
from connections.middleware import organization_or_404


@login_required
def delivery_list(request):
    organization = organization_or_404(request)
    q = request.GET.get("q", "").strip()[:120]
    page = Paginator(selectors.delivery_list(organization=organization, q=q), 50).get_page(request.GET.get("page"))
    return render(request, "backship/shipment_list.html", {"page": page, "q": q, "kind": "delivery", "title": "Deliveries"})


@login_required
def return_list(request):
    organization = organization_or_404(request)
    q = request.GET.get("q", "").strip()[:120]
    page = Paginator(selectors.return_list(organization=organization, q=q), 50).get_page(request.GET.get("page"))
    return render(request, "backship/shipment_list.html", {"page": page, "q": q, "kind": "return", "title": "Returns"})


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
        "items": shipment.items.all() if kind == "delivery" else [],
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
