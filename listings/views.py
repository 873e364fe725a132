"""Back Market listing pages: list, detail with the update form, bulk CSV upload and task progress."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from connections.middleware import organization_or_404
from listings import selectors, writes
from listings.forms import BulkUploadForm, ListingFilterForm, ListingUpdateForm
from marketsync.keyset import CursorForm
from marketsync.sync.writes import WriteRefused


@login_required
def listing_list(request):
    organization = organization_or_404(request)
    form = ListingFilterForm(request.GET or None)
    cursor = CursorForm(request.GET)
    page = selectors.listing_page(organization=organization, **form.filters(), **cursor.cursors())
    return render(request, "listings/listing_list.html", {"form": form, "page": page, "base_query": cursor.base_query()})


@login_required
@require_http_methods(["GET", "POST"])
def listing_detail(request, pk: int):
    organization = organization_or_404(request)
    listing = selectors.listing_get(organization=organization, pk=pk)
    if listing is None:
        raise Http404("No such listing.")
    initial = {"price": listing.price, "min_price": listing.min_price, "quantity": listing.quantity,
               "warranty_delay": listing.warranty_delay, "comment": listing.comment}
    form = ListingUpdateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        if "comment" in changed:
            changed["comment"] = changed["comment"] or ""
        try:
            writes.listing_update(listing=listing, user=request.user, **changed)
        except WriteRefused as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Listing {listing.sku} updated at Back Market.")
            return redirect("listings:listing_detail", pk=listing.pk)
    return render(request, "listings/listing_detail.html", {"listing": listing, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def bulk_upload(request):
    organization = organization_or_404(request)
    form = BulkUploadForm(request.POST or None, request.FILES or None, organization=organization)
    csv_errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            task = writes.bulk_listing_submit(
                connection=data["connection"], content=data["content"], file_name=data["file"].name,
                delimiter=data["delimiter"], quotechar=data["quotechar"], encoding=data["encoding"], user=request.user,
            )
        except WriteRefused as exc:
            if exc.errors:  # the CSV's own problems, by line
                csv_errors = exc.errors
                form.add_error("file", f"The CSV has {len(exc.errors)} problem(s); nothing was sent.")
            else:
                form.add_error(None, exc.message)
        else:
            messages.success(request, f"Sent {task.line_count} line(s); Back Market task {task.marketplace_task_id}.")
            return redirect("listings:bulk_task_detail", pk=task.pk)
    tasks = selectors.bulk_task_list(organization=organization)
    return render(request, "listings/bulk_upload.html", {"form": form, "csv_errors": csv_errors, "tasks": tasks})


@login_required
def bulk_task_detail(request, pk: int):
    organization = organization_or_404(request)
    task = selectors.bulk_task_get(organization=organization, pk=pk)
    if task is None:
        raise Http404("No such task.")
    template = "listings/_bulk_task_progress.html" if request.headers.get("HX-Request") else "listings/bulk_task_detail.html"
    return render(request, template, {"task": task, "results": selectors.bulk_task_result_list(task=task),
                                      "open": task.status in ("submitted", "pending")})


def moved_to(name: str, **defaults: str):
    """A view for a URL that moved to ``name`` (same arguments): 308, so a POST is re-sent there with its body.

    The query string goes along, with ``defaults`` for the parameters it does not set.
    """

    def moved(request, **kwargs):
        query = request.GET.copy()
        for key, value in defaults.items():
            query.setdefault(key, value)
        query = query.urlencode()
        return HttpResponsePermanentRedirect(reverse(name, kwargs=kwargs) + (f"?{query}" if query else ""), preserve_request=True)

    return moved
