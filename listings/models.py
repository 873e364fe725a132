"""Back Market listings and bulk CSV tasks; brick inventory, its marketplace lots, reservations and ledger."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from connections.models import Connection, Organization


class Listing(models.Model):
    """A Back Market listing (the seller's offer of a product at a grade)."""

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

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="listing_unique_per_connection")]
        indexes = [
            models.Index(fields=["organization", "sku"], name="listing_org_sku_idx"),
            models.Index(fields=["connection", "last_seen_at"], name="listing_conn_seen_idx"),
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


# --- Brick inventory (BrickLink, Brick Owl): local stock, marketplace lots, reservations, ledger ---------------


class InventoryItem(models.Model):
    """The seller's own stock of one part in one colour, condition and bin.

    ``quantity_on_hand`` is the seller's figure: an import sets it once, when
    the item is first seen, and only the ledger moves it afterwards.
    ``quantity_reserved`` is the sum of open reservations; ``version`` is bumped
    by every movement, and the ledger's (item, sequence) key makes a movement
    computed from a stale read impossible to store.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="inventory_items")
    part_number = models.CharField(max_length=64)
    item_type = models.CharField(max_length=20, default="PART")
    color_id = models.CharField(max_length=16, blank=True, default="")
    color_name = models.CharField(max_length=64, blank=True, default="")
    condition = models.CharField(max_length=8, help_text="new or used")
    location = models.CharField(max_length=120, blank=True, default="")
    name = models.CharField(max_length=300, blank=True, default="")
    quantity_on_hand = models.IntegerField(default=0)
    quantity_reserved = models.IntegerField(default=0)
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "part_number", "item_type", "color_id", "condition", "location"],
                name="inventoryitem_unique_key",
            ),
            models.CheckConstraint(condition=models.Q(quantity_reserved__gte=0), name="inventoryitem_reserved_not_negative"),
        ]
        indexes = [models.Index(fields=["organization", "location"], name="inventoryitem_org_loc_idx")]
        ordering = ["location", "part_number", "color_id", "id"]

    def __str__(self) -> str:
        return f"{self.part_number} c{self.color_id} {self.condition} @{self.location or '-'}"

    @property
    def quantity_available(self) -> int:
        return self.quantity_on_hand - self.quantity_reserved


class InventoryLot(models.Model):
    """A lot of a store on one marketplace, linked to the local inventory item it sells."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="inventory_lots")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="inventory_lots")
    item = models.ForeignKey(InventoryItem, on_delete=models.CASCADE, related_name="lots")
    external_id = models.CharField(max_length=64, help_text="BrickLink inventory_id or Brick Owl lot_id.")
    external_bricklink_id = models.CharField(max_length=64, blank=True, default="", help_text="Brick Owl: the BrickLink lot id.")
    marketplace_quantity = models.IntegerField(default=0)
    unit_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    remarks = models.CharField(max_length=255, blank=True, default="")
    raw = models.JSONField(default=dict, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True, help_text="No longer returned by a full import.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="inventorylot_unique_per_connection")]
        indexes = [models.Index(fields=["organization", "external_bricklink_id"], name="inventorylot_org_bl_idx")]
        ordering = ["connection_id", "external_id"]

    def __str__(self) -> str:
        return f"lot {self.external_id} ({self.marketplace_quantity})"


class Reservation(models.Model):
    """Stock held for one order item: at most one per order item, settled (released or consumed) once."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RELEASED = "released", "Released"
        CONSUMED = "consumed", "Consumed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="reservations")
    item = models.ForeignKey(InventoryItem, on_delete=models.CASCADE, related_name="reservations")
    order_item = models.ForeignKey("orders.OrderItem", on_delete=models.CASCADE, related_name="reservations")
    quantity = models.IntegerField(default=0, help_text="Held now (open); what was held when settled.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order_item"], name="one_reservation_per_order_item"),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="reservation_quantity_not_negative"),
        ]
        indexes = [models.Index(fields=["item", "state"], name="reservation_item_state_idx")]

    def __str__(self) -> str:
        return f"reservation {self.pk}: {self.quantity} of {self.item_id} ({self.state})"


class StockMovement(models.Model):
    """One line of the stock ledger. Rows are only ever added.

    Constraints make double counting impossible rather than unlikely:
    ``(item, sequence)`` is unique, so two movements computed from the same
    read of an item cannot both be stored; ``(reservation, reservation_sequence)``
    is unique, so one change of a reservation is applied once; and a
    reservation is released or consumed at most once.
    """

    class Kind(models.TextChoices):
        RESERVE = "reserve", "Reserve"
        RELEASE = "release", "Release"
        CONSUME = "consume", "Consume"
        ADJUST = "adjust", "Manual adjust"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="stock_movements")
    item = models.ForeignKey(InventoryItem, on_delete=models.CASCADE, related_name="movements")
    sequence = models.PositiveIntegerField(help_text="The item's version after this movement.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # SET_NULL: the ledger outlives a deleted connection's orders (their reservations are released first).
    reservation = models.ForeignKey(Reservation, on_delete=models.SET_NULL, null=True, blank=True, related_name="movements")
    reservation_sequence = models.PositiveIntegerField(null=True, blank=True)
    order_item = models.ForeignKey("orders.OrderItem", on_delete=models.SET_NULL, null=True, blank=True, related_name="stock_movements")
    on_hand_before = models.IntegerField()
    on_hand_after = models.IntegerField()
    reserved_before = models.IntegerField()
    reserved_after = models.IntegerField()
    source = models.CharField(max_length=60, help_text="sync, webhook, import, command, admin, ...")
    reason = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "sequence"], name="stockmovement_unique_item_sequence"),
            models.UniqueConstraint(
                fields=["reservation", "reservation_sequence"],
                condition=models.Q(reservation__isnull=False),
                name="stockmovement_unique_reservation_step",
            ),
            models.UniqueConstraint(
                fields=["reservation"],
                condition=models.Q(kind__in=["release", "consume"]),
                name="stockmovement_one_settlement_per_reservation",
            ),
            models.CheckConstraint(
                condition=models.Q(reservation__isnull=True) | models.Q(reservation_sequence__isnull=False),
                name="stockmovement_reservation_step_set",
            ),
        ]
        ordering = ["item_id", "sequence"]

    def __str__(self) -> str:
        return f"{self.kind} item {self.item_id} #{self.sequence}"
