from __future__ import annotations

from django.conf import settings
from django.db import models

from connections.models import MARKETPLACE_CHOICES, Connection, Organization
from marketsync.sync.records import UnifiedStatus


class Order(models.Model):
    """An order from any marketplace. ``external_id`` is the marketplace's own id."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="orders")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="orders")
    marketplace = models.CharField(max_length=20, choices=MARKETPLACE_CHOICES)
    external_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=UnifiedStatus.choices, default=UnifiedStatus.UNKNOWN)
    marketplace_status = models.CharField(max_length=64, blank=True, default="")
    placed_at = models.DateTimeField(null=True, blank=True)
    marketplace_updated_at = models.DateTimeField(null=True, blank=True)
    # The marketplace's dispatch deadline, where it gives one (Back Market's expected_dispatch_date).
    ship_by = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    total_amount = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    subtotal_amount = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    shipping_amount = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    customer_name = models.CharField(max_length=200, blank=True, default="")
    customer_email = models.CharField(max_length=254, blank=True, default="")
    shipping_address = models.JSONField(default=dict, blank=True)
    billing_address = models.JSONField(default=dict, blank=True)
    tracking_number = models.CharField(max_length=120, blank=True, default="")
    tracking_url = models.CharField(max_length=500, blank=True, default="")
    shipper = models.CharField(max_length=120, blank=True, default="")
    items_count = models.PositiveIntegerField(default=0)
    has_unmatched_items = models.BooleanField(default=False)
    # Marketplace-specific fields worth showing (payment method, is_backship, ...).
    details = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    first_synced_at = models.DateTimeField(auto_now_add=True)
    last_synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="order_unique_per_connection")]
        indexes = [
            models.Index(fields=["organization", "-placed_at", "-id"], name="order_org_placed_idx"),
            models.Index(fields=["organization", "status", "-placed_at", "-id"], name="order_org_status_idx"),
            models.Index(fields=["organization", "-last_synced_at"], name="order_org_synced_idx"),
            models.Index(fields=["connection", "status"], name="order_conn_status_idx"),
            # The order book sorted by ship-by date, soonest first (keyset on ship_by, id).
            models.Index(fields=["organization", "ship_by", "id"], name="order_org_ship_by_idx"),
            # The inventory's unmatched-items page walks only the flagged orders, newest first.
            models.Index(fields=["organization", "-placed_at", "id"], condition=models.Q(has_unmatched_items=True),
                         name="order_org_unmatched_idx"),
        ]
        ordering = ["-placed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.marketplace} order {self.external_id}"


class OrderItem(models.Model):
    """A line of an order: a refurbished device or a lot of LEGO parts."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="order_items")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="order_items")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=UnifiedStatus.choices, default=UnifiedStatus.UNKNOWN)
    marketplace_status = models.CharField(max_length=64, blank=True, default="")
    sku = models.CharField(max_length=120, blank=True, default="")
    title = models.CharField(max_length=500, blank=True, default="")
    quantity = models.IntegerField(default=1)
    unit_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    # Refurbished devices
    imei = models.CharField(max_length=32, blank=True, default="")
    serial_number = models.CharField(max_length=64, blank=True, default="")
    listing_ref = models.CharField(max_length=64, blank=True, default="", help_text="Offer, listing or lot id.")
    image_url = models.CharField(max_length=500, blank=True, default="")
    # LEGO parts
    part_number = models.CharField(max_length=64, blank=True, default="")
    item_type = models.CharField(max_length=20, blank=True, default="")
    color_id = models.CharField(max_length=16, blank=True, default="")
    color_name = models.CharField(max_length=64, blank=True, default="")
    condition = models.CharField(max_length=20, blank=True, default="")
    completeness = models.CharField(max_length=8, blank=True, default="")
    remarks = models.TextField(blank=True, default="")
    location = models.CharField(max_length=120, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    last_synced_at = models.DateTimeField(auto_now=True)
    # Brick Owl's own names of the item; part_number, item_type and color_id above are BrickLink's, translated
    # (blank until Brick Owl's catalog maps them: inventory/catalog.py).
    brickowl_boid = models.CharField(max_length=40, blank=True, default="")
    brickowl_color_id = models.CharField(max_length=16, blank=True, default="")
    brickowl_type = models.CharField(max_length=20, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="orderitem_unique_per_connection")]
        indexes = [
            models.Index(fields=["organization", "sku"], name="orderitem_org_sku_idx"),
            models.Index(fields=["organization", "part_number"], name="orderitem_org_part_idx"),
        ]
        ordering = ["order_id", "id"]

    def __str__(self) -> str:
        return f"{self.sku or self.part_number or self.external_id} × {self.quantity}"


class PendingOrderWrite(models.Model):
    """A write about an order that a marketplace did not answer (timeout, 5xx, 429): retried by a task until it is
    confirmed or fails for good. The order page shows it as pending meanwhile; the audit log keeps every attempt."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="pending_order_writes")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="pending_writes")
    item = models.ForeignKey(OrderItem, null=True, blank=True, on_delete=models.CASCADE, related_name="pending_writes")
    action = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=1)
    last_error = models.TextField(blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["order", "state"], name="pendingwrite_order_state_idx")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} on {self.order} ({self.state})"


class ShipBatch(models.Model):
    """A day's parcels shipped at once (the order list's form, a CSV upload or ``manage.py orders ship --org``): the
    orders are pushed to their marketplaces by a background job, one ``ShipBatchOrder`` each."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="ship_batches")
    source = models.CharField(max_length=10, default="form")  # form, csv or cli
    filename = models.CharField(max_length=200, blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"ship batch {self.pk} ({self.state})"


class ShipBatchOrder(models.Model):
    """One order of a ship batch and its outcome. Keyed on (organization, order) + tracking: the same order with the
    same tracking is sent once, however often the file is submitted (a later copy is kept as ``skipped``)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SHIPPED = "shipped", "Shipped"
        PENDING = "pending", "Pending (retried in the background)"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not sent again"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="ship_batch_orders")
    batch = models.ForeignKey(ShipBatch, on_delete=models.CASCADE, related_name="orders")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="ship_batch_orders")
    line = models.PositiveIntegerField(null=True, blank=True)  # the CSV line, when it came from a file
    carrier = models.CharField(max_length=200, blank=True, default="")
    tracking_number = models.CharField(max_length=200, blank=True, default="")
    tracking_url = models.CharField(max_length=300, blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    message = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Failed rows may be sent again by a later batch; skipped rows are the reports of those not sent again.
            models.UniqueConstraint(
                fields=["organization", "order", "tracking_number", "tracking_url"],
                condition=~models.Q(state__in=["failed", "skipped"]), name="shipbatchorder_once_per_tracking",
            ),
        ]
        ordering = ["batch_id", "id"]

    def __str__(self) -> str:
        return f"{self.order} in batch {self.batch_id} ({self.state})"
