"""Brick inventory reads shared by pages, admin, commands and the connections page."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from connections.models import Connection, Organization
from inventory.models import InventoryItem, InventoryLot, Reservation, StockMovement
from orders.models import Order, OrderItem

BRICK_MARKETPLACES = ("bricklink", "brickowl")


def inventory_item_list(
    *, organization: Organization, part: str = "", color: str = "", location: str = "", drift_only: bool = False
) -> QuerySet[InventoryItem]:
    """Items of an organization with their live lots and the lots' total marketplace quantity per connection."""
    lots = InventoryLot.objects.filter(removed_at__isnull=True).select_related("connection").order_by("connection__marketplace")
    qs = InventoryItem.objects.filter(organization=organization).prefetch_related(Prefetch("lots", queryset=lots, to_attr="live_lots"))
    if part:
        qs = qs.filter(Q(part_number__icontains=part) | Q(name__icontains=part))
    if color:
        qs = qs.filter(Q(color_name__icontains=color) | Q(color_id=color))
    if location:
        qs = qs.filter(location__icontains=location)
    qs = qs.annotate(
        quantity_available_db=F("quantity_on_hand") - F("quantity_reserved"),
        lots_count=Count("lots", filter=Q(lots__removed_at__isnull=True)),
    )
    if drift_only:
        drifting = InventoryLot.objects.filter(item=OuterRef("pk"), removed_at__isnull=True).exclude(
            marketplace_quantity=F("item__quantity_on_hand") - F("item__quantity_reserved")
        )
        qs = qs.filter(Q(pk__in=Subquery(drifting.values("item_id"))))
    return qs.order_by("location", "part_number", "color_id", "pk")


def lot_drift(*, item: InventoryItem, lot: InventoryLot) -> int:
    """Marketplace quantity minus what the seller has available locally (0 = in step)."""
    return lot.marketplace_quantity - item.quantity_available


def inventory_item_get(*, organization: Organization, item_id: int) -> InventoryItem | None:
    return InventoryItem.objects.filter(organization=organization, pk=item_id).first()


def stock_movement_list(*, item: InventoryItem) -> QuerySet[StockMovement]:
    return (
        StockMovement.objects.filter(item=item)
        .select_related("order_item", "order_item__order")
        .order_by("-sequence")
    )


def unmatched_item_list(*, organization: Organization) -> QuerySet[OrderItem]:
    """Order items of brick orders that no inventory item matched (flagged on their order)."""
    return (
        OrderItem.objects.filter(
            organization=organization,
            order__marketplace__in=BRICK_MARKETPLACES,
            order__has_unmatched_items=True,
            reservations__isnull=True,
        )
        .select_related("order", "connection")
        .order_by("-order__placed_at", "order_id", "id")
    )


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
