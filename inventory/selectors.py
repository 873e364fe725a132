"""Brick inventory reads shared by pages, admin, commands and the connections page."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from connections.models import Connection, Organization
from inventory.catalog import catalog_translate, unmapped_order_items
from inventory.models import InventoryItem, InventoryLot, Reservation, StockMovement, UnmappedLot
from marketsync.keyset import KeysetPage, keyset_page
from orders.models import Order, OrderItem

BRICK_MARKETPLACES = ("bricklink", "brickowl")


ITEM_PAGE_SIZE = 100
UNMATCHED_PAGE_SIZE = 100
MOVEMENT_PAGE_SIZE = 200
UNMATCHED_COUNT_CAP = 100


def inventory_item_page(
    *, organization: Organization, part: str = "", color: str = "", location: str = "", drift_only: bool = False,
    after: str = "", before: str = "", limit: int = ITEM_PAGE_SIZE,
) -> KeysetPage:
    """One page of the organization's items, in shelf order (location, part, colour), with their live lots
    (``live_lots``), by keyset on the ``inventoryitem_org_shelf_idx`` index."""
    lots = InventoryLot.objects.filter(removed_at__isnull=True).select_related("connection").order_by("connection__marketplace")
    qs = InventoryItem.objects.filter(organization=organization).prefetch_related(Prefetch("lots", queryset=lots, to_attr="live_lots"))
    if part:
        qs = qs.filter(Q(part_number__icontains=part) | Q(name__icontains=part))
    if color:
        qs = qs.filter(Q(color_name__icontains=color) | Q(color_id=color))
    if location:
        qs = qs.filter(location__icontains=location)
    if drift_only:
        drifting = InventoryLot.objects.filter(item=OuterRef("pk"), removed_at__isnull=True).exclude(
            marketplace_quantity=F("item__quantity_on_hand") - F("item__quantity_reserved")
        )
        qs = qs.filter(Q(pk__in=Subquery(drifting.values("item_id"))))
    return keyset_page(qs, key=("location", "part_number", "color_id"), after=after, before=before, limit=limit,
                       descending=False)


def lot_drift(*, item: InventoryItem, lot: InventoryLot) -> int:
    """Marketplace quantity minus what the seller has available locally (0 = in step)."""
    return lot.marketplace_quantity - item.quantity_available


def inventory_item_get(*, organization: Organization | None, item_id: int) -> InventoryItem | None:
    """One item of the organization (of any, with ``organization=None``: ops commands), or None."""
    qs = InventoryItem.objects.select_related("organization")
    return (qs if organization is None else qs.filter(organization=organization)).filter(pk=item_id).first()


def inventory_lot_list(*, item: InventoryItem) -> list[InventoryLot]:
    """Every lot linked to the item, gone ones included, by connection."""
    return list(item.lots.select_related("connection").order_by("connection_id", "id"))


def reservation_open_list(*, item: InventoryItem) -> list[Reservation]:
    """The item's open reservations, newest first, with their order items and orders."""
    return list(
        item.reservations.filter(state=Reservation.State.OPEN).select_related("order_item__order").order_by("-created_at", "-id")
    )


def stock_movement_page(*, item: InventoryItem, after: str = "", before: str = "", limit: int = MOVEMENT_PAGE_SIZE) -> KeysetPage:
    """One page of the item's ledger, newest movement first, by keyset on its sequence (the unique
    (item, sequence) index)."""
    qs = StockMovement.objects.filter(item=item, organization_id=item.organization_id).select_related(
        "order_item", "order_item__order"
    )
    return keyset_page(qs, key="sequence", after=after, before=before, limit=limit, descending=True)


def _unmatched_items(*, organization: Organization) -> QuerySet[OrderItem]:
    """Order items of brick orders that no inventory item matched (flagged on their order)."""
    return OrderItem.objects.filter(
        organization=organization,
        order__organization=organization,  # the same, said of the order: lets the partial index start there
        order__marketplace__in=BRICK_MARKETPLACES,
        order__has_unmatched_items=True,
        reservations__isnull=True,
    )


def unmatched_item_page(
    *, organization: Organization, after: str = "", before: str = "", limit: int = UNMATCHED_PAGE_SIZE
) -> KeysetPage:
    """One page of the unmatched order items: newest order first, its lines in order (keyset; the partial
    ``order_org_unmatched_idx`` index walks the flagged orders)."""
    qs = _unmatched_items(organization=organization).select_related("order", "connection").annotate(
        order_placed_at=F("order__placed_at")
    )
    return keyset_page(qs, key=("-order_placed_at", "order_id"), after=after, before=before, limit=limit, descending=False)


def unmatched_item_count(*, organization: Organization, cap: int = UNMATCHED_COUNT_CAP) -> int:
    """How many order items are unmatched, counted up to ``cap`` + 1 (the badge shows "100+"): a bounded read,
    never a COUNT of everything."""
    return len(_unmatched_items(organization=organization).values_list("pk", flat=True)[: cap + 1])


def pick_list(*, order: Order) -> list[OrderItem]:
    """An order's items sorted for walking the shelves: by location, then part and colour."""
    items = list(order.items.all())
    return sorted(items, key=lambda i: (i.location or "\uffff", i.part_number, i.color_name, i.condition, i.pk))


@dataclass
class CheckProblem:
    item_id: int
    message: str

    def __str__(self) -> str:
        return f"item {self.item_id}: {self.message}"


def inventory_check(*, organization: Organization | None = None) -> list[CheckProblem]:
    """Every item's reserved quantity against its open reservations, and both figures against the ledger."""
    open_reserved = (
        Reservation.objects.filter(item=OuterRef("pk"), state=Reservation.State.OPEN)
        .values("item").annotate(total=Sum("quantity")).values("total")
    )
    ledger = StockMovement.objects.filter(item=OuterRef("pk")).values("item")
    qs = InventoryItem.objects.all() if organization is None else InventoryItem.objects.filter(organization=organization)
    zero = Value(0, output_field=IntegerField())
    qs = qs.annotate(
        open_reserved=Coalesce(Subquery(open_reserved, output_field=IntegerField()), zero),
        ledger_on_hand=Coalesce(
            Subquery(ledger.annotate(t=Sum(F("on_hand_after") - F("on_hand_before"))).values("t"), output_field=IntegerField()), zero
        ),
        ledger_reserved=Coalesce(
            Subquery(ledger.annotate(t=Sum(F("reserved_after") - F("reserved_before"))).values("t"), output_field=IntegerField()), zero
        ),
        ledger_rows=Coalesce(Subquery(ledger.annotate(t=Count("pk")).values("t"), output_field=IntegerField()), zero),
    )
    problems = []
    for item in qs.order_by("pk").iterator():
        if item.quantity_reserved != item.open_reserved:
            problems.append(CheckProblem(item.pk, f"reserved {item.quantity_reserved} but open reservations hold {item.open_reserved}"))
        if item.quantity_reserved != item.ledger_reserved:
            problems.append(CheckProblem(item.pk, f"reserved {item.quantity_reserved} but the ledger sums to {item.ledger_reserved}"))
        if item.quantity_on_hand != item.ledger_on_hand:
            problems.append(CheckProblem(item.pk, f"on hand {item.quantity_on_hand} but the ledger sums to {item.ledger_on_hand}"))
        if item.version != item.ledger_rows:
            problems.append(CheckProblem(item.pk, f"version {item.version} but the ledger has {item.ledger_rows} row(s)"))
    return problems


@dataclass
class PickRow:
    item: OrderItem
    inventory_item_id: int | None
    reservation_state: str


def pick_list_rows(*, order: Order) -> list[PickRow]:
    """The pick list with, per line, the stock it is held against (None when unmatched)."""
    items = pick_list(order=order)
    held = {
        r.order_item_id: r
        for r in Reservation.objects.filter(order_item__in=[i.pk for i in items]).only("order_item_id", "item_id", "state")
    }
    return [
        PickRow(item=i, inventory_item_id=held[i.pk].item_id if i.pk in held else None,
                reservation_state=held[i.pk].state if i.pk in held else "")
        for i in items
    ]


def webhook_addresses(*, organization: Organization, base: str) -> list[tuple[Connection, str]]:
    """Where BrickLink and Brick Owl should send push notifications for this organization's connections."""
    from django.urls import reverse

    rows = []
    for connection in Connection.objects.filter(organization=organization, marketplace__in=BRICK_MARKETPLACES).order_by("marketplace"):
        name = "webhook_bricklink" if connection.marketplace == "bricklink" else "webhook_brickowl"
        rows.append((connection, base.rstrip("/") + reverse(name, args=[connection.webhook_token])))
    return rows


# --- Brick Owl items not (yet) in BrickLink's terms: the unmapped queue -----------------------------------

UNMAPPED_LIST_CAP = 200


@dataclass
class UnmappedRow:
    """One Brick Owl lot or order item that the catalog does not translate yet, with what is known of it."""

    kind: str  # "lot" or "order item"
    connection: Connection
    external_id: str  # the lot id, or the order item id
    order: Order | None
    brickowl_boid: str
    brickowl_color_id: str
    brickowl_type: str
    part_number: str  # BrickLink's, where known
    name: str
    quantity: int
    reason: str


def unmapped_count(*, organization: Organization, cap: int = UNMATCHED_COUNT_CAP) -> int:
    """Unmapped lots and order items, counted up to ``cap`` + 1 each (a bounded read)."""
    lots = len(UnmappedLot.objects.filter(organization=organization).values_list("pk", flat=True)[: cap + 1])
    items = len(unmapped_order_items(organization_id=organization.pk).values_list("pk", flat=True)[: cap + 1])
    return lots + items


def unmapped_list(*, organization: Organization, limit: int = UNMAPPED_LIST_CAP) -> list[UnmappedRow]:
    """The organization's unmapped queue: waiting lots (by BOID), then order items of the newest orders, each at
    most ``limit``. An order item's reason is worked out now (read only); a lot's is the one its import stored."""
    rows = [
        UnmappedRow(kind="lot", connection=lot.connection, external_id=lot.external_id, order=None,
                    brickowl_boid=lot.brickowl_boid, brickowl_color_id=lot.brickowl_color_id, brickowl_type=lot.brickowl_type,
                    part_number=lot.part_number, name=lot.name, quantity=lot.quantity, reason=lot.reason)
        for lot in UnmappedLot.objects.filter(organization=organization).select_related("connection")
        .order_by("brickowl_boid", "id")[:limit]
    ]
    items = list(unmapped_order_items(organization_id=organization.pk).select_related("order", "connection")
                 .order_by("-order__placed_at", "-order_id", "id")[:limit])
    for item, translation in zip(items, catalog_translate(items, remember=False), strict=True):
        rows.append(UnmappedRow(
            kind="order item", connection=item.connection, external_id=item.external_id, order=item.order,
            brickowl_boid=item.brickowl_boid, brickowl_color_id=item.brickowl_color_id, brickowl_type=item.brickowl_type,
            part_number=item.part_number, name=item.title, quantity=item.quantity,
            reason=translation.problem or "mapped at the next catalog run",
        ))
    return rows
