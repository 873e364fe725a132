"""Staff admin: a door onto connections.services. Credentials are write-only here: forms never render a stored
value, lists and pages show at most the hint (last four characters)."""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.views.decorators.debug import sensitive_post_parameters

from connections import selectors, services
from connections.forms import ConnectionAdminForm, CredentialsForm
from connections.models import ApiCallCount, AuditEntry, Connection, EntitySync, Membership, Organization
from connections.templatetags.health_tags import time_ago
from marketsync.sync.services import trigger_sync

# --- organizations ------------------------------------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    raw_id_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "member_count", "connection_count", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    @admin.display(description="members")
    def member_count(self, obj: Organization) -> int:
        return obj.memberships.count()

    @admin.display(description="connections")
    def connection_count(self, obj: Organization) -> int:
        return obj.connections.count()


# --- connections ---------------------------------------------------------------------------------------------


def _entity_state(sync: EntitySync) -> str:
    if not sync.enabled:
        return "off"
    if sync.error_kind:
        return f"{sync.get_error_kind_display().lower()} error: {Truncator(sync.last_error).chars(80)}"
    if sync.last_success_at:
        return f"ok {time_ago(sync.last_success_at)}"
    return "not synced yet"


class EntitySyncInline(admin.TabularInline):
    model = EntitySync
    extra = 0
    can_delete = False
    fields = ["entity", "enabled", "last_success_at", "error_kind", "last_error", "consecutive_failures", "next_attempt_at"]
    readonly_fields = ["entity", "last_success_at", "error_kind", "last_error", "consecutive_failures", "next_attempt_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionAdminForm
    list_display = ["__str__", "organization", "marketplace", "environment", "enabled", "stock_push", "credentials_hint",
                    "entity_states"]
    list_filter = ["marketplace", "environment", "enabled", "stock_push"]
    search_fields = ["organization__name", "organization__slug"]
    list_select_related = ["organization"]
    actions = ["enable_sync", "disable_sync", "sync_now"]
    inlines = [EntitySyncInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("entity_syncs")

    def get_readonly_fields(self, request, obj=None):
        base = ["credentials_hint", "credentials_wiped", "created_at", "updated_at"]
        return base if obj is None else ["organization", "marketplace", *base]

    def get_fieldsets(self, request, obj=None):
        settings_fields = ["environment", "platform", "base_url", "options", "enabled", "stock_push"]
        if obj is None:
            return [
                (None, {"fields": ["organization", "marketplace", *settings_fields]}),
                (
                    "Credentials (write-only)",
                    {
                        "fields": list(ConnectionAdminForm.credential_names(None)),
                        "description": "Enter the fields of the chosen marketplace only. Stored encrypted; never shown again.",
                    },
                ),
            ]
        return [
            (None, {"fields": ["organization", "marketplace", *settings_fields, "created_at", "updated_at"]}),
            (
                "Credentials (write-only)",
                {
                    "fields": ["credentials_hint", "credentials_wiped", *ConnectionAdminForm.credential_names(obj)],
                    "description": "Only the last four characters of the stored key are shown. "
                    "Fill every field to replace the credentials (this clears an authentication error).",
                },
            ),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # Credential fields are added by the form itself; keep them out of the model-field lookup.
        names = set(ConnectionAdminForm.credential_names(obj))
        kwargs["fields"] = [f for f in admin.utils.flatten_fieldsets(self.get_fieldsets(request, obj)) if f not in names]
        kwargs["fields"] = [f for f in kwargs["fields"] if f not in self.get_readonly_fields(request, obj)]
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="entities (last success / error)")
    def entity_states(self, obj: Connection) -> str:
        return format_html(
            "<ul style='margin:0;padding-left:1em'>{}</ul>",
            format_html_join("", "<li><b>{}</b>: {}</li>", ((s.entity, _entity_state(s)) for s in obj.entity_syncs.all())),
        )

    def save_model(self, request, obj: Connection, form, change: bool) -> None:
        data = form.cleaned_data
        options = data.get("options") or {}
        if not change:
            created = services.connection_create(
                organization=data["organization"],
                marketplace=data["marketplace"],
                credentials=data["credentials"],
                environment=data["environment"],
                platform=data.get("platform", ""),
                options=options,
                base_url=data.get("base_url", ""),
                ops=True,
            )
            if not data.get("enabled", True):
                services.connection_disable(connection=created)
            if data.get("stock_push"):
                services.entity_sync_toggle(connection=created, enable=[services.STOCK_PUSH])
                created.refresh_from_db(fields=["stock_push"])
            for field in Connection._meta.concrete_fields:
                setattr(obj, field.attname, getattr(created, field.attname))
            obj._state.adding, obj._state.db = False, created._state.db
            return
        connection = selectors.connection_get(organization=None, connection_id=obj.pk)
        if data.get("credentials"):
            services.connection_rotate_credentials(connection=connection, credentials=data["credentials"])
        services.connection_update_settings(
            connection=connection,
            environment=data["environment"],
            platform=data.get("platform", ""),
            options=options,
            base_url=data.get("base_url", ""),
            ops=True,
        )
        if "stock_push" in form.changed_data:  # the same switch as the page and the CLI
            services.entity_sync_toggle(connection=connection, **{"enable" if data["stock_push"] else "disable": [services.STOCK_PUSH]})
            connection.refresh_from_db(fields=["stock_push"])
        if "enabled" in form.changed_data:
            if data["enabled"]:
                services.connection_enable(connection=connection)
            else:
                services.connection_disable(connection=connection)
        for field in Connection._meta.concrete_fields:
            setattr(obj, field.attname, getattr(connection, field.attname))

    def get_deleted_objects(self, objs, request):
        """Counts per table instead of Django's list of every row (a connection may have 100,000 orders), and no
        per-table permission check: deleting a connection is the service's job and removes its rows by design."""
        connections = list(objs)
        if not connections:
            return [], {}, set(), []
        counts = services.connection_rows_count(connections=connections)
        summary = [f"{c} (connection {c.pk})" for c in connections]
        summary.append([f"{n} {label}" for label, n in counts.items() if n])
        perms_needed = set() if self.has_delete_permission(request) else {self.opts.verbose_name}
        return summary, counts, perms_needed, []

    def delete_model(self, request, obj: Connection) -> None:
        services.connection_delete(connection=obj)

    def delete_queryset(self, request, queryset) -> None:
        for connection in queryset:
            services.connection_delete(connection=connection)

    # --- actions ---

    @admin.action(description="Enable sync for the selected connections", permissions=["change"])
    def enable_sync(self, request, queryset) -> None:
        done = 0
        for connection in queryset:
            try:
                services.connection_enable(connection=connection)
                done += 1
            except services.LifecycleError as exc:
                self.message_user(request, str(exc), messages.WARNING)
        self.message_user(request, f"Enabled {done} connection(s).", messages.SUCCESS)

    @admin.action(description="Disable sync for the selected connections", permissions=["change"])
    def disable_sync(self, request, queryset) -> None:
        connections = list(queryset)
        for connection in connections:
            services.connection_disable(connection=connection)
        self.message_user(request, f"Disabled {len(connections)} connection(s).", messages.SUCCESS)

    @admin.action(description="Sync now (every enabled entity)", permissions=["change"])
    def sync_now(self, request, queryset) -> None:
        connections = list(queryset)  # the rows chosen: the action reads nothing else
        queued = sum(len(trigger_sync(connection=c)) for c in connections if c.enabled)
        skipped = sum(1 for c in connections if not c.enabled)
        note = f"; {skipped} disabled connection(s) skipped" if skipped else ""
        self.message_user(request, f"Queued {queued} entity sync(s){note}.", messages.SUCCESS)

    # --- rotate credentials page ---

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:object_id>/rotate-credentials/",
                self.admin_site.admin_view(self.rotate_credentials_view),
                name=f"{info[0]}_{info[1]}_rotate_credentials",
            ),
            *super().get_urls(),
        ]

    @method_decorator(sensitive_post_parameters())
    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, extra_context)

    @method_decorator(sensitive_post_parameters())
    def change_view(self, request, object_id, form_url="", extra_context=None):
        return super().change_view(request, object_id, form_url, extra_context)

    @method_decorator(sensitive_post_parameters())
    def rotate_credentials_view(self, request, object_id: int):
        connection = selectors.connection_get(organization=None, connection_id=object_id)
        if connection is None:
            raise Http404("No such connection.")
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        form = CredentialsForm(request.POST or None, marketplace=connection.marketplace)
        if request.method == "POST" and form.is_valid():
            services.connection_rotate_credentials(connection=connection, credentials=form.cleaned_data["credentials"])
            self.message_user(
                request,
                f"Replaced the credentials of {connection} (now {connection.credentials_hint}); authentication errors cleared.",
                messages.SUCCESS,
            )
            return redirect(reverse("admin:connections_connection_change", args=[connection.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": connection,
            "title": f"Rotate credentials: {connection}",
            "form": form,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/connections/connection/rotate_credentials.html", context)


# --- entity syncs ------------------------------------------------------------------------------------------------


@admin.register(EntitySync)
class EntitySyncAdmin(admin.ModelAdmin):
    list_display = [
        "connection", "entity", "enabled", "last_success_at", "error_kind", "short_error", "consecutive_failures", "next_attempt_at",
    ]  # fmt: skip
    list_editable = ["enabled"]
    list_filter = ["entity", "enabled", "error_kind", "connection__marketplace"]
    search_fields = ["connection__organization__name", "connection__organization__slug"]
    list_select_related = ["connection__organization"]
    actions = ["enable_sync", "disable_sync", "sync_now", "dismiss_skipped"]
    fields = [
        "connection", "entity", "enabled", "cursor", "locked_until", "last_started_at", "last_finished_at",
        "last_success_at", "error_kind", "last_error", "skipped_records", "consecutive_failures", "next_attempt_at",
        "last_run_seen", "last_run_created", "last_run_changed", "last_run_unchanged", "last_run_removed", "last_run_duration_ms",
    ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return [f for f in self.fields if f != "enabled"]

    def has_add_permission(self, request) -> bool:
        return False  # created with their connection

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleted with their connection

    @admin.display(description="last error")
    def short_error(self, obj: EntitySync) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.action(description="Enable the selected entity syncs", permissions=["change"])
    def enable_sync(self, request, queryset) -> None:
        n = services.entity_sync_set_enabled(entity_syncs=queryset, enabled=True)
        self.message_user(request, f"Enabled {n} entity sync(s).", messages.SUCCESS)

    @admin.action(description="Disable the selected entity syncs", permissions=["change"])
    def disable_sync(self, request, queryset) -> None:
        n = services.entity_sync_set_enabled(entity_syncs=queryset, enabled=False)
        self.message_user(request, f"Disabled {n} entity sync(s).", messages.SUCCESS)

    @admin.action(description="Dismiss the skipped records kept on the selected entity syncs", permissions=["change"])
    def dismiss_skipped(self, request, queryset) -> None:
        n = services.entity_sync_skipped_dismiss(entity_syncs=queryset)
        self.message_user(request, f"Dismissed the skipped records of {n} entity sync(s).", messages.SUCCESS)

    @admin.action(description="Sync now", permissions=["change"])
    def sync_now(self, request, queryset) -> None:
        # The changelist's rows come with their connection (list_select_related).
        queued = sum(len(trigger_sync(connection=s.connection, entities=[s.entity])) for s in queryset if s.connection.enabled)
        self.message_user(request, f"Queued {queued} entity sync(s).", messages.SUCCESS)


# --- read-only records -------------------------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organization", "connection", "actor", "action", "target_type", "target_id", "outcome"]
    list_filter = ["outcome", "action", "target_type"]
    search_fields = ["target_id", "action", "organization__slug"]
    list_select_related = ["organization", "connection__organization"]
    date_hierarchy = "created_at"


@admin.register(ApiCallCount)
class ApiCallCountAdmin(ReadOnlyAdmin):
    list_display = ["connection", "hour", "calls"]
    list_filter = ["connection__marketplace"]
    list_select_related = ["connection__organization"]
    date_hierarchy = "hour"
