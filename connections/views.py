"""The workspace's connection pages: sync health and the audit log for everyone, connection management for owners.

Thin doors onto ``connections.services`` (the same functions the admin and the CLI use), ``connections.selectors``,
``connections.health`` and ``marketsync.sync.services.trigger_sync``. Another organization's connection is
a 404; a member (not an owner) who tries to manage one gets a 403.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from connections import selectors, services
from connections.forms import (
    AuditFilterForm,
    ConnectionCreateForm,
    CredentialsForm,
    DeleteConnectionForm,
    DisconnectForm,
    EntitySyncToggleForm,
    OrganizationSwitchForm,
)
from connections.health import sync_health_list
from connections.middleware import SESSION_KEY, organization_or_404
from connections.models import Connection
from marketsync.keyset import CursorForm
from marketsync.marketplaces import SUPPORTED_ENTITIES, Marketplace


@login_required
@require_POST
def organization_switch(request):
    form = OrganizationSwitchForm(request.POST, user=request.user)
    form.is_valid()
    organization = form.cleaned_data.get("organization")
    if organization is None:  # not one of the user's organizations, or junk
        raise Http404("No such organization.")
    request.session[SESSION_KEY] = organization.pk
    target = form.cleaned_data.get("next") or request.META.get("HTTP_REFERER") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)


def _connection_or_404(request, pk: int) -> Connection:
    connection = selectors.connection_get(organization=organization_or_404(request), connection_id=pk)
    if connection is None:
        raise Http404("No such connection.")
    return connection


def _owner_connection(request, pk: int) -> Connection:
    connection = _connection_or_404(request, pk)
    if not request.is_org_owner:
        raise PermissionDenied("Only an owner of the organization can change its connections.")
    return connection


@login_required
@require_GET
def connection_list(request):
    """Connections and their sync health, per entity."""
    try:
        organization = organization_or_404(request)
    except Http404:  # a landing page: it explains rather than answering a bare 404
        return render(request, "orders/no_organization.html")
    health = sync_health_list(organization=organization)
    connected = {h.connection.marketplace for h in health}
    context = {
        "health": health,
        "available": [m for m in Marketplace if m.value not in connected],
        "is_owner": bool(request.is_org_owner),
    }
    if request.headers.get("HX-Request"):
        return render(request, "connections/_health.html", context)
    return render(request, "connections/connection_list.html", context)


@login_required
@require_GET
def connection_create(request):
    """Pick the marketplace to connect."""
    organization = organization_or_404(request)
    if not request.is_org_owner:
        raise PermissionDenied("Only an owner of the organization can connect a marketplace.")
    connected = selectors.connection_marketplaces(organization=organization)
    return render(
        request, "connections/connection_create.html", {"choices": [(m, m.value in connected) for m in Marketplace]}
    )


@sensitive_post_parameters()  # credentials never reach an error report
@login_required
@require_http_methods(["GET", "POST"])
def connection_create_form(request, marketplace: str):
    organization = organization_or_404(request)
    if marketplace not in {m.value for m in Marketplace}:
        raise Http404("No such marketplace.")
    if not request.is_org_owner:
        raise PermissionDenied("Only an owner of the organization can connect a marketplace.")
    market = Marketplace(marketplace)
    form = ConnectionCreateForm(request.POST if request.method == "POST" else None, marketplace=market.value)
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_create(
                organization=organization,
                marketplace=market.value,
                credentials=form.cleaned_data["credentials"],
                environment=form.cleaned_data["environment"],
                platform=form.cleaned_data.get("platform", ""),
            )
        except services.LifecycleError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{connection.marketplace_label} connected: the first sync starts within a few minutes.")
            return redirect("connections:connection_list")
    return render(request, "connections/connection_form.html", {"form": form, "marketplace": market})


@sensitive_post_parameters()
@login_required
@require_http_methods(["GET", "POST"])
def connection_rotate(request, pk: int):
    connection = _owner_connection(request, pk)
    form = CredentialsForm(request.POST if request.method == "POST" else None, marketplace=connection.marketplace)
    if request.method == "POST" and form.is_valid():
        try:
            services.connection_rotate_credentials(connection=connection, credentials=form.cleaned_data["credentials"])
        except services.LifecycleError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"The {connection.marketplace_label} API key was replaced: syncing resumes at the next run.")
            return redirect("connections:connection_list")
    return render(request, "connections/connection_rotate.html", {"form": form, "connection": connection})


@login_required
@require_POST
def connection_sync_now(request, pk: int):
    from marketsync.sync.services import trigger_sync

    connection = _owner_connection(request, pk)
    ids = trigger_sync(connection=connection)
    if ids:
        messages.success(request, f"Sync of {connection.marketplace_label} started for {len(ids)} data type(s).")
    else:
        messages.warning(request, f"Nothing to sync for {connection.marketplace_label}: its syncs are off or waiting for a new API key.")
    return redirect("connections:connection_list")


@login_required
@require_POST
def connection_test(request, pk: int):
    """One cheap call to the marketplace; on success a stop left by a refused key or call is lifted and synced now."""
    from marketsync.sync.services import trigger_sync

    connection = _owner_connection(request, pk)
    result = services.connection_test(connection=connection)
    if not result.ok:
        messages.error(request, result.message)
    else:
        if result.resumed and connection.enabled:
            trigger_sync(connection=connection, entities=list(result.resumed))
        messages.success(request, result.message)
    return redirect("connections:connection_list")


@login_required
@require_http_methods(["GET", "POST"])
def connection_disconnect(request, pk: int):
    connection = _owner_connection(request, pk)
    form = DisconnectForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.connection_disable(connection=connection, wipe_credentials=form.cleaned_data["wipe_credentials"])
        messages.success(request, f"{connection.marketplace_label} disconnected: its data stays, syncing stopped.")
        return redirect("connections:connection_list")
    return render(request, "connections/connection_disconnect.html", {"form": form, "connection": connection})


@login_required
@require_POST
def connection_reconnect(request, pk: int):
    connection = _owner_connection(request, pk)
    try:
        services.connection_enable(connection=connection)
    except services.LifecycleError as exc:
        messages.error(request, str(exc))
        return redirect("connections:connection_rotate", pk=connection.pk)
    messages.success(request, f"{connection.marketplace_label} reconnected: syncing resumes at the next run.")
    return redirect("connections:connection_list")


@login_required
@require_http_methods(["GET", "POST"])
def connection_delete(request, pk: int):
    connection = _owner_connection(request, pk)
    form = DeleteConnectionForm(request.POST if request.method == "POST" else None, connection=connection)
    if request.method == "POST" and form.is_valid():
        label = connection.marketplace_label
        services.connection_delete(connection=connection)
        messages.success(request, f"The {label} connection and all its synced data were deleted.")
        return redirect("connections:connection_list")
    counts = {table: n for table, n in services.connection_rows_count(connections=[connection]).items() if n}
    return render(request, "connections/connection_delete.html", {"form": form, "connection": connection, "counts": counts})


@login_required
@require_POST
def entity_sync_toggle(request, pk: int, entity: str):
    connection = _owner_connection(request, pk)
    # ``stock_push`` is the connection's switch (off until an owner turns it on), at the same door as the syncs.
    if entity != services.STOCK_PUSH and entity not in {e.value for e in SUPPORTED_ENTITIES[Marketplace(connection.marketplace)]}:
        raise Http404("No such entity.")
    form = EntitySyncToggleForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing changed: {' '.join(form.errors['enabled'])}")
        return redirect("connections:connection_list")
    enable = form.cleaned_data["enabled"]
    try:
        services.entity_sync_toggle(connection=connection, **({"enable": [entity]} if enable else {"disable": [entity]}))
    except services.LifecycleError as exc:
        messages.error(request, str(exc))
    else:
        state = "on" if enable else "off"
        what = "stock push" if entity == "stock_push" else f"{entity.replace('_', ' ')} sync"
        messages.success(request, f"{connection.marketplace_label} {what} switched {state}.")
    return redirect("connections:connection_list")


@login_required
@require_POST
def entity_sync_skipped_dismiss(request, pk: int, entity: str):
    """An owner has seen the records a sync skipped: they are no longer shown (a run skipping them again shows them)."""
    connection = _owner_connection(request, pk)
    if entity not in {e.value for e in SUPPORTED_ENTITIES[Marketplace(connection.marketplace)]}:
        raise Http404("No such entity.")
    syncs = selectors.entity_sync_list(organization=connection.organization, connection=connection).filter(entity=entity)
    services.entity_sync_skipped_dismiss(entity_syncs=syncs)
    messages.success(request, f"{connection.marketplace_label} {entity.replace('_', ' ')}: skipped records dismissed.")
    return redirect("connections:connection_list")


@login_required
@require_GET
def audit_log(request):
    """Every change sent to a marketplace (or to local stock) for this organization: pages, admin, CLI and tasks."""
    organization = organization_or_404(request)
    form = AuditFilterForm(request.GET or None)
    cursor = CursorForm(request.GET)
    page = selectors.audit_entry_page(organization=organization, **form.filters(), **cursor.cursors())
    return render(request, "connections/audit_log.html", {"form": form, "page": page, "base_query": cursor.base_query()})
