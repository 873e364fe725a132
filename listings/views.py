"""Back Market listing pages: list, detail with the update form, bulk CSV upload and task progress."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from connections.middleware import organization_or_404
from connections.models import Connection
from listings import selectors, writes
from marketsync.sync.writes import WriteRefused

CSV_MAX_BYTES = 20 * 1024 * 1024


class ListingFilterForm(forms.Form):
    publication_state = forms.ChoiceField(required=False, choices=[("", "Any state")])
    q = forms.CharField(required=False, max_length=120, label="SKU or title")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["publication_state"].choices = [("", "Any state")] + selectors.publication_state_choices()


class ListingUpdateForm(forms.Form):
    price = forms.DecimalField(required=False, min_value=0.01, decimal_places=2, max_digits=12)
    min_price = forms.DecimalField(required=False, min_value=0.01, decimal_places=2, max_digits=12, label="Minimum price")
    quantity = forms.IntegerField(required=False, min_value=0, help_text="0 takes the listing offline.")
    warranty_delay = forms.IntegerField(required=False, min_value=12, label="Warranty (months)")
    comment = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class BulkUploadForm(forms.Form):
    connection = forms.ModelChoiceField(queryset=Connection.objects.none(), empty_label=None)
    file = forms.FileField(label="CSV file")
    delimiter = forms.ChoiceField(choices=[(",", "comma ,"), (";", "semicolon ;"), ("\t", "tab"), ("|", "pipe |")])
    quotechar = forms.ChoiceField(choices=[('"', 'double quote "'), ("'", "single quote '")], label="Quote character")
    encoding = forms.ChoiceField(choices=[("utf-8", "UTF-8"), ("latin-1", "Latin-1"), ("cp1252", "Windows-1252")])

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = Connection.objects.filter(organization=organization, marketplace="backmarket")


@login_required
def listing_list(request):
    organization = organization_or_404(request)
    form = ListingFilterForm(request.GET or None)
    state, q = "", ""
    if form.is_valid():
        state, q = form.cleaned_data["publication_state"], form.cleaned_data["q"].strip()
    qs = selectors.listing_list(organization=organization, publication_state=state, q=q,
                                include_removed=request.GET.get("removed") == "1")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "listings/listing_list.html", {"form": form, "page": page, "query": query.urlencode()})


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
        upload = form.cleaned_data["file"]
        encoding = form.cleaned_data["encoding"]
        if upload.size > CSV_MAX_BYTES:
            form.add_error("file", "The file is larger than 20 MB.")
        else:
            try:
                content = upload.read().decode(encoding)
            except UnicodeDecodeError as exc:
                form.add_error("encoding", f"The file is not {encoding}: {exc.reason} at byte {exc.start}.")
            else:
                try:
                    task = writes.bulk_listing_submit(
                        connection=form.cleaned_data["connection"], content=content, file_name=upload.name,
                        delimiter=form.cleaned_data["delimiter"], quotechar=form.cleaned_data["quotechar"],
                        encoding=encoding, user=request.user,
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
    tasks = selectors.bulk_task_list(organization=organization)[:20]
    return render(request, "listings/bulk_upload.html", {"form": form, "csv_errors": csv_errors, "tasks": tasks})


@login_required
def bulk_task_detail(request, pk: int):
    organization = organization_or_404(request)
    task = selectors.bulk_task_get(organization=organization, pk=pk)
    if task is None:
        raise Http404("No such task.")
    template = "listings/_bulk_task_progress.html" if request.headers.get("HX-Request") else "listings/bulk_task_detail.html"
    return render(request, template, {"task": task, "results": task.results.all(),
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
