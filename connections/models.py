from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from connections.crypto import decrypt_credentials, encrypt_credentials
from marketsync.marketplaces import CREDENTIAL_FIELDS, MARKETPLACE_LABELS, Entity, Marketplace
from marketsync.redaction import fingerprint

MARKETPLACE_CHOICES = [(m.value, MARKETPLACE_LABELS[m]) for m in Marketplace]
ENTITY_CHOICES = [(e.value, e.value.replace("_", " ")) for e in Entity]


class Organization(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_user_org")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


def _new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


class Connection(models.Model):
    class Environment(models.TextChoices):
        PRODUCTION = "production", "Production"
        SANDBOX = "sandbox", "Sandbox"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="connections")
    marketplace = models.CharField(max_length=20, choices=MARKETPLACE_CHOICES)
    environment = models.CharField(max_length=20, choices=Environment.choices, default=Environment.PRODUCTION)
    # Back Market platform (eu | us | ap); blank elsewhere.
    platform = models.CharField(max_length=8, blank=True, default="")
    # Staff and ops only: a sandbox, a proxy or the local simulator.
    base_url = models.URLField(max_length=500, blank=True, default="")
    enabled = models.BooleanField(default=True)
    # Stock push (inventory/push.py): off until the owner turns it on, after reconciling.
    stock_push = models.BooleanField(default=False, help_text="Send local available quantities to this marketplace.")
    # Marketplace-specific, non-secret settings: market locale, store id, ...
    options = models.JSONField(default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True, default="", editable=False)
    credentials_hint = models.CharField(max_length=16, blank=True, default="", editable=False)
    credentials_wiped = models.BooleanField(default=False, editable=False)
    webhook_token = models.CharField(max_length=64, unique=True, default=_new_webhook_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "marketplace"], name="one_connection_per_org_marketplace")
        ]
        ordering = ["organization__name", "marketplace"]

    def __str__(self) -> str:
        return f"{self.organization} · {self.marketplace_label}"

    def __repr__(self) -> str:
        return f"<Connection id={self.pk} org={self.organization_id} marketplace={self.marketplace}>"

    @property
    def marketplace_label(self) -> str:
        return MARKETPLACE_LABELS[Marketplace(self.marketplace)]

    @property
    def credentials(self) -> dict[str, str]:
        """Decrypted on each access; never cached on the instance, never in repr."""
        return decrypt_credentials(self.credentials_encrypted)

    def set_credentials(self, credentials: dict[str, str]) -> None:
        self.credentials_encrypted = encrypt_credentials(credentials)
        primary = credentials.get(CREDENTIAL_FIELDS[Marketplace(self.marketplace)][0], "")
        self.credentials_hint = fingerprint(primary)
        self.credentials_wiped = False

    def wipe_credentials(self) -> None:
        self.credentials_encrypted = ""
        self.credentials_hint = ""
        self.credentials_wiped = True

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)


class EntitySync(models.Model):
    class ErrorKind(models.TextChoices):
        AUTH = "auth", "Authentication"
        # The key is known but a call is refused (403, BrickLink's IP check): re-probed on a slow backoff.
        FORBIDDEN = "forbidden", "Refused (permission or IP)"
        TRANSIENT = "transient", "Transient"
        BAD_DATA = "bad_data", "Bad data"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="entity_syncs")
    entity = models.CharField(max_length=20, choices=ENTITY_CHOICES)
    enabled = models.BooleanField(default=True)
    cursor = models.JSONField(default=dict, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    error_kind = models.CharField(max_length=10, choices=ErrorKind.choices, blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_run_seen = models.PositiveIntegerField(default=0)
    last_run_created = models.PositiveIntegerField(default=0)
    # Of the rows the last run read: new, rewritten because a value changed, read again unchanged (not rewritten).
    last_run_changed = models.PositiveIntegerField(default=0)
    last_run_unchanged = models.PositiveIntegerField(default=0)
    last_run_removed = models.PositiveIntegerField(default=0)
    last_run_duration_ms = models.PositiveIntegerField(default=0)
    # The backlog (marketsync.sync.schedule): when the dispatcher enqueued the run that has not started yet (one
    # at a time: a tick skips a row still waiting, so work carries over instead of piling up or expiring), and how
    # many ticks found it still waiting — or its run lost or expired unrun. Ops read both on the sync health page.
    queued_at = models.DateTimeField(null=True, blank=True)
    missed_ticks = models.PositiveIntegerField(default=0)
    # The records runs skipped (bad data), newest first: ``{"id", "error", "at"}``, at most ``SKIPPED_KEPT``. Kept
    # across runs (an incremental run does not read them again, and ``last_error`` is only the last run's) until a
    # run stores that record or ops dismiss them, so the merchant can still see which ones are missing.
    skipped_records = models.JSONField(default=list, blank=True)

    SKIPPED_KEPT = 50

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "entity"], name="one_entity_sync_per_entity")]
        indexes = [models.Index(fields=["entity", "enabled"], name="entitysync_due_idx")]
        ordering = ["connection_id", "entity"]
        verbose_name = "entity sync"

    def __str__(self) -> str:
        return f"{self.connection} · {self.entity}"

    @property
    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()


class AuditEntry(models.Model):
    """One write to a marketplace (or to local stock) and how it went."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        PENDING = "pending", "Pending"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_entries")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    actor = models.CharField(max_length=100, help_text="Who acted when no user did: 'command', 'admin', 'task'.")
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=100)
    # The local order this write concerns, when it concerns one: the order page lists these.
    order = models.ForeignKey("orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries")
    request_summary = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at", "-id"], name="audit_org_created_idx")]
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.target_type} {self.target_id}: {self.outcome}"




class ApiCallCount(models.Model):
    """Calls made to a marketplace per connection and hour, for daily budgets (BrickLink: 5,000 a day)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="api_call_counts")
    hour = models.DateTimeField(help_text="Start of the hour (UTC) the calls fall in.")
    calls = models.PositiveIntegerField(default=0)
    # Of ``calls``, those made for each purpose (connections/budget.py); the rest are "other".
    orders_calls = models.PositiveIntegerField(default=0)
    inventory_calls = models.PositiveIntegerField(default=0)
    push_calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "hour"], name="one_call_count_per_hour")]

    def __str__(self) -> str:
        return f"{self.connection_id} {self.hour:%Y-%m-%d %H}:00 {self.calls}"
