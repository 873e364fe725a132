"""Stock for all four marketplaces: local items, their links to marketplace lots, listings and offers,
reservations and the ledger.

A stock item is one sellable thing: a brick part (BrickLink and Brick Owl lots link to it) keyed by part,
type, colour, condition and location, or a refurbished product keyed by the merchant's SKU (Back Market
listings and Refurbed offers link to it, ``listings.Listing.stock_item`` and ``offers.Offer.stock_item``).

These models were born in ``listings``; their tables keep the names they had
there (``Meta.db_table``), so the move to this app changed no table, constraint
or index (see ``migrations/0001_initial.py``).
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from connections.models import Connection, Organization

# A SKU item leaves every field of the brick key blank.
BRICK_KEY_BLANK = models.Q(part_number="", item_type="", color_id="", condition="", location="")


class InventoryItem(models.Model):
    """The seller's own stock of one sellable thing: a part in one colour, condition and bin, or a SKU.

    ``quantity_on_hand`` is the seller's figure: an import sets it once, when
    the item is first seen, and only the ledger moves it afterwards.
    ``quantity_reserved`` is the sum of open reservations; ``version`` is bumped
    by every movement, and the ledger's (item, sequence) key makes a movement
    computed from a stale read impossible to store.

    ``imported_from`` / ``imported_at``: whose listing quantity set on hand, and when it was read. A marketplace
    lowers a listing's quantity itself when it sells, so orders of that connection placed before then were
    already taken out of the figure: their reservations add to on hand as they reserve (never subtracted twice).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="inventory_items")
    sku = models.CharField(max_length=256, blank=True, default="", help_text="Refurbished goods: the merchant's SKU.")
    part_number = models.CharField(max_length=64, blank=True, default="")
    item_type = models.CharField(max_length=20, blank=True, default="PART")
    color_id = models.CharField(max_length=16, blank=True, default="")
    color_name = models.CharField(max_length=64, blank=True, default="")
    condition = models.CharField(max_length=8, help_text="new or used")
    location = models.CharField(max_length=120, blank=True, default="")
    name = models.CharField(max_length=300, blank=True, default="")
    quantity_on_hand = models.IntegerField(default=0)
    quantity_reserved = models.IntegerField(default=0)
    version = models.PositiveIntegerField(default=0)
    imported_from = models.ForeignKey(Connection, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                      help_text="The connection whose listing quantity set on hand.")
    imported_at = models.DateTimeField(null=True, blank=True, help_text="When that quantity was read.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "listings_inventoryitem"
        constraints = [
            # Unconditional, so it is the conflict target of every import's upsert (brick items have sku "", SKU
            # items a blank brick key); brick lookups by (organization, part) use its prefix.
            models.UniqueConstraint(
                fields=["organization", "part_number", "item_type", "color_id", "condition", "location", "sku"],
                name="inventoryitem_unique_key",
            ),
            models.UniqueConstraint(fields=["organization", "sku"], condition=~models.Q(sku=""),
                                    name="inventoryitem_unique_sku"),
            models.CheckConstraint(
                condition=(models.Q(sku="") & ~models.Q(part_number="")) | (~models.Q(sku="") & BRICK_KEY_BLANK),
                name="inventoryitem_brick_or_sku",
            ),
            models.CheckConstraint(condition=models.Q(quantity_reserved__gte=0), name="inventoryitem_reserved_not_negative"),
        ]
        indexes = [
            # The stock list's shelf order (keyset): location, part, colour, then id.
            models.Index(fields=["organization", "location", "part_number", "color_id", "id"], name="inventoryitem_org_shelf_idx"),
            # A SKU that matches no item exactly is looked up regardless of case (Back Market's SKUs ignore it).
            models.Index("organization", Lower("sku"), name="inventoryitem_org_sku_ci_idx"),
        ]
        ordering = ["location", "part_number", "color_id", "id"]

    def __str__(self) -> str:
        if self.sku:
            return f"SKU {self.sku}"
        return f"{self.part_number} c{self.color_id} {self.condition} @{self.location or '-'}"

    @property
    def is_sku_item(self) -> bool:
        return bool(self.sku)

    @property
    def quantity_available(self) -> int:
        return self.quantity_on_hand - self.quantity_reserved


class StockLinkFields(models.Model):
    """What every row that sells a stock item on a marketplace carries besides the link itself: a lot here,
    ``listings.Listing`` and ``offers.Offer``.

    ``link_manual``: an owner set or removed the link; imports leave it as it is. ``pushed_quantity`` /
    ``pushed_at``: the quantity marketsync last sent the marketplace (null until it first pushes), so a
    marketplace quantity that differs from it was changed by someone at the marketplace (drift).
    """

    link_manual = models.BooleanField(default=False, help_text="Set or removed by an owner; imports leave it.")
    pushed_quantity = models.IntegerField(null=True, blank=True, help_text="What marketsync last pushed.")
    pushed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class InventoryLot(StockLinkFields):
    """A lot of a store on one marketplace, linked to the local inventory item it sells (none once an owner unlinks it)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="inventory_lots")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="inventory_lots")
    item = models.ForeignKey(InventoryItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="lots")
    external_id = models.CharField(max_length=64, help_text="BrickLink inventory_id or Brick Owl lot_id.")
    external_bricklink_id = models.CharField(max_length=64, blank=True, default="", help_text="Brick Owl: the BrickLink lot id.")
    marketplace_quantity = models.IntegerField(default=0)
    unit_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    remarks = models.CharField(max_length=255, blank=True, default="")
    raw = models.JSONField(default=dict, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True, help_text="No longer returned by a full import.")

    class Meta:
        db_table = "listings_inventorylot"
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="inventorylot_unique_per_connection")]
        indexes = [
            models.Index(fields=["organization", "external_bricklink_id"], name="inventorylot_org_bl_idx"),
            # The unlinked queue walks only the lots without an item.
            models.Index(fields=["organization", "id"], condition=models.Q(item__isnull=True), name="inventorylot_org_unlinked_idx"),
        ]
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
        db_table = "listings_reservation"
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
        db_table = "listings_stockmovement"
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
