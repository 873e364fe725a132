"""Back Market listings and bulk CSV tasks."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from connections.models import Connection, Organization
from inventory.models import StockLinkFields


class Listing(StockLinkFields):
    """A Back Market listing (the seller's offer of a product at a grade), linked to the stock item it sells
    (by SKU on import; an owner can change it)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="listings")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="listings")
    external_id = models.CharField(max_length=64, help_text="Back Market's listing UUID.")
    legacy_id = models.CharField(max_length=32, blank=True, default="")
    product_id = models.CharField(max_length=64, blank=True, default="")
    sku = models.CharField(max_length=120, blank=True, default="")
    title = models.CharField(max_length=500, blank=True, default="")
    price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    min_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    quantity = models.IntegerField(default=0)
    publication_state = models.CharField(max_length=32, blank=True, default="")
    grade = models.CharField(max_length=32, blank=True, default="")
    warranty_delay = models.IntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    shipping_options = models.JSONField(default=list, blank=True)
    details = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True, help_text="No longer returned by a full sweep.")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(auto_now=True)
    stock_item = models.ForeignKey("inventory.InventoryItem", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="listings")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="listing_unique_per_connection")]
        indexes = [
            models.Index(fields=["organization", "sku", "id"], name="listing_org_sku_id_idx"),
            models.Index(fields=["connection", "last_seen_at"], name="listing_conn_seen_idx"),
            # An orderline names its listing by the legacy id: the order's reservation finds the link through it.
            models.Index(fields=["connection", "legacy_id"], name="listing_conn_legacy_idx"),
            # The unlinked queue walks only the listings without a stock item.
            models.Index(fields=["organization", "id"], condition=models.Q(stock_item__isnull=True),
                         name="listing_org_unlinked_idx"),
        ]
        ordering = ["sku", "id"]

    def __str__(self) -> str:
        return f"{self.sku or self.external_id}"


class BulkListingTask(models.Model):
    """A bulk CSV listing update sent to Back Market and followed to its end."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        PENDING = "pending", "Pending at Back Market"
        SUCCESS = "success", "Succeeded"
        FAILURE = "failure", "Failed"
        TIMEOUT = "timeout", "Timed out"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="bulk_listing_tasks")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="bulk_listing_tasks")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    file_name = models.CharField(max_length=255, blank=True, default="")
    line_count = models.PositiveIntegerField(default=0)
    marketplace_task_id = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SUBMITTED)
    error = models.TextField(blank=True, default="")
    raw = models.JSONField(default=dict, blank=True)
    polls = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"], name="bulktask_org_time_idx")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"bulk task {self.marketplace_task_id or self.pk} ({self.status})"


class BulkListingResult(models.Model):
    """Back Market's answer for one SKU of a bulk task."""

    task = models.ForeignKey(BulkListingTask, on_delete=models.CASCADE, related_name="results")
    sku = models.CharField(max_length=120)
    success = models.BooleanField(default=False)
    message = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "sku"], name="one_result_per_task_sku")]
        ordering = ["task_id", "sku"]

    def __str__(self) -> str:
        return f"{self.sku}: {'ok' if self.success else self.message}"
