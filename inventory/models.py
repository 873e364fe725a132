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
from marketsync.sync.records import LotSaleStatus

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
    Which orders those are is decided without comparing the marketplace's clock with ours where possible (see
    ``services._read_before_import``): ``imported_at`` is when the import's run began reading.
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
    ``pushed_version`` / ``pushed_unseen``: the stock item's version whose available quantity that push was
    computed from, and how many units it held back as sold at the marketplace but not yet seen here
    (``push.Plan``); null / 0 before the first push and after a link change.
    """

    link_manual = models.BooleanField(default=False, help_text="Set or removed by an owner; imports leave it.")
    pushed_quantity = models.IntegerField(null=True, blank=True, help_text="What marketsync last pushed.")
    pushed_at = models.DateTimeField(null=True, blank=True)
    pushed_version = models.PositiveIntegerField(null=True, blank=True, help_text="The stock item's version that push read.")
    pushed_unseen = models.PositiveIntegerField(default=0, help_text="Units held back: sold there, not yet seen here.")

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
    # Both marketplaces' names of what the lot sells: BrickLink's (translated, for a Brick Owl lot; blank when only
    # its BrickLink lot id linked it) and Brick Owl's own BOID, colour id and type name (blank on BrickLink lots).
    part_number = models.CharField(max_length=64, blank=True, default="")
    item_type = models.CharField(max_length=20, blank=True, default="")
    color_id = models.CharField(max_length=16, blank=True, default="")
    brickowl_boid = models.CharField(max_length=40, blank=True, default="")
    brickowl_color_id = models.CharField(max_length=16, blank=True, default="")
    brickowl_type = models.CharField(max_length=20, blank=True, default="")
    # In a stockroom, unavailable or reserved: the seller's units (counted on hand by its item), offered to nobody.
    sale_status = models.CharField(max_length=16, choices=LotSaleStatus.choices, default=LotSaleStatus.FOR_SALE)

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

    @property
    def quantity_for_sale(self) -> int:
        """What buyers can order from this lot: its quantity when it is for sale, else none."""
        return self.marketplace_quantity if self.sale_status == LotSaleStatus.FOR_SALE else 0


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
        indexes = [models.Index(fields=["organization", "-id"], name="stockmovement_org_id_idx")]  # the ledger page
        ordering = ["item_id", "sequence"]

    def __str__(self) -> str:
        return f"{self.kind} item {self.item_id} #{self.sequence}"


# --- Brick Owl's catalog in BrickLink's terms (inventory/catalog.py) -----------------------------------------


class CatalogColor(models.Model):
    """One Brick Owl colour and the BrickLink colour ids Brick Owl lists for it (``GET /catalog/color_list``).

    Global: Brick Owl's catalog is the same for every store. Rebuilt from the API, never edited by hand.
    """

    brickowl_color_id = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=64, blank=True, default="")
    # BrickLink ids in Brick Owl's order; several when Brick Owl's one colour is more than one of BrickLink's.
    bricklink_color_ids = models.JSONField(default=list, blank=True)
    refreshed_at = models.DateTimeField()

    class Meta:
        ordering = ["brickowl_color_id"]

    def __str__(self) -> str:
        return f"Brick Owl colour {self.brickowl_color_id} {self.name} -> BrickLink {', '.join(self.bricklink_color_ids) or '-'}"


class CatalogItem(models.Model):
    """One Brick Owl item (its BOID without a colour) and its BrickLink number: the cache of
    ``GET /catalog/id_lookup?id_type=boid``, or what a lot's ``ids`` list said (``bl_item_no``). Global.

    ``pending`` rows are the lookup queue, filled as imports meet BOIDs; a catalog run looks a bounded number up.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for lookup"
        MAPPED = "mapped", "Mapped"
        UNMAPPED = "unmapped", "No BrickLink number"

    boid = models.CharField(max_length=40, unique=True)
    brickowl_type = models.CharField(max_length=20, blank=True, default="")
    bricklink_item_no = models.CharField(max_length=64, blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    ids = models.JSONField(default=list, blank=True, help_text="The catalog ids Brick Owl answered.")
    looked_up_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never looked up (queued, or named by a lot).")
    lookup_error = models.CharField(max_length=255, blank=True, default="")
    # A lookup run claims its rows until then, so two runs never look the same BOID up at once.
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["state", "looked_up_at"], name="catalogitem_due_idx")]
        ordering = ["boid"]

    def __str__(self) -> str:
        return f"BOID {self.boid} -> {self.bricklink_item_no or self.state}"


class UnmappedLot(models.Model):
    """A Brick Owl lot that could not be translated to BrickLink's catalog and carries no BrickLink lot id that
    links it: kept with what is known, never dropped, and stored as a lot once a catalog run maps it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="unmapped_lots")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="unmapped_lots")
    external_id = models.CharField(max_length=64, help_text="Brick Owl lot_id.")
    brickowl_boid = models.CharField(max_length=40)
    brickowl_color_id = models.CharField(max_length=16, blank=True, default="")
    brickowl_type = models.CharField(max_length=20, blank=True, default="")
    # What Brick Owl's payload already said in BrickLink's terms (bl_item_no, the type): blank when it did not.
    part_number = models.CharField(max_length=64, blank=True, default="")
    item_type = models.CharField(max_length=20, blank=True, default="")
    condition = models.CharField(max_length=8, blank=True, default="")
    quantity = models.IntegerField(default=0)
    location = models.CharField(max_length=120, blank=True, default="")
    name = models.CharField(max_length=300, blank=True, default="")
    unit_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    external_bricklink_id = models.CharField(max_length=64, blank=True, default="")
    remarks = models.CharField(max_length=255, blank=True, default="")
    raw = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=255, blank=True, default="")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="unmappedlot_unique_per_connection")]
        indexes = [models.Index(fields=["organization", "brickowl_boid", "id"], name="unmappedlot_org_boid_idx")]
        ordering = ["brickowl_boid", "id"]

    def __str__(self) -> str:
        return f"unmapped lot {self.external_id} ({self.brickowl_boid})"


# --- the stock push outbox (inventory/push.py) ------------------------------------------------------------------


class StockPush(models.Model):
    """One lot, listing or offer whose marketplace quantity must be brought to its stock item's available quantity.

    Written in the same transaction as the ledger step that changed available (``services._moves``) or the link
    change (``services._link_write``), so no change is lost between the two; drained by ``push.stock_push_drain``.
    At most one pending row per target: further changes bump ``changes`` instead (coalescing), and the drain
    pushes the item's available *at send time* (less the marketplace's sales not seen yet: ``push.Plan``), never a
    stored delta. ``wanted_quantity`` is what available was
    when the row last changed, for the page.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Nothing to send"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="stock_pushes")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="stock_pushes")
    item = models.ForeignKey(InventoryItem, on_delete=models.CASCADE, related_name="pushes")
    target_kind = models.CharField(max_length=8, help_text="lot | listing | offer")
    target_id = models.BigIntegerField(help_text="The lot's, listing's or offer's row id.")
    external_id = models.CharField(max_length=64, blank=True, default="")
    trigger = models.CharField(max_length=255, blank=True, default="", help_text="The ledger step or link change.")
    wanted_quantity = models.IntegerField(default=0)
    changes = models.PositiveIntegerField(default=1, help_text="Changes coalesced into this push.")
    forced = models.BooleanField(default=False, help_text="An owner's reconcile: sent even while stock push is off.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text="Due from then; a drain claims a row by moving it later.")
    last_error = models.TextField(blank=True, default="")
    quantity_before = models.IntegerField(null=True, blank=True, help_text="The marketplace's quantity before the push.")
    quantity_after = models.IntegerField(null=True, blank=True, help_text="What the push set.")
    # What a BrickLink delta is about to set, written before the call: when its outcome is unknown, the retry also
    # considers that it landed (``push.Plan``).
    planned_quantity = models.IntegerField(null=True, blank=True)
    planned_version = models.PositiveIntegerField(null=True, blank=True)
    planned_unseen = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["target_kind", "target_id"], condition=models.Q(state="pending"),
                                    name="stockpush_one_pending_per_target"),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="stockpush_due_idx"),
            models.Index(fields=["item", "-created_at"], name="stockpush_item_idx"),
            models.Index(fields=["connection", "state", "sent_at"], name="stockpush_conn_sent_idx"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"push {self.target_kind} {self.external_id or self.target_id} -> {self.wanted_quantity} ({self.state})"
