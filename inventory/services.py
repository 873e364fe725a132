"""Brick inventory writes: lot imports, order-item matching, and the reservation ledger.

Every stock change goes through ``_move``, which bumps the item's version with
a conditional UPDATE and writes one ``StockMovement`` keyed by (item, version):
a movement computed from a stale read cannot be stored. A reservation's steps
are keyed the same way, and a reservation is settled (released or consumed) at
most once — database constraints, so a re-synced order, a duplicate
notification, a retried task or two workers at once cannot count twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from connections.models import Connection, Organization
from connections.services import CONTROL_CHARACTERS, audit_record
from inventory.catalog import catalog_lots_translate, unmapped_lots_remove_unseen
from inventory.models import InventoryItem, InventoryLot, Reservation, StockMovement
from marketsync.sync.errors import BadRecord
from marketsync.sync.limits import fit_row
from marketsync.sync.records import LotRecord, UnifiedStatus
from marketsync.sync.upsert import UpsertResult, bulk_upsert, fitting_rows, mark_unseen_removed
from orders.models import Order, OrderItem

BRICK_MARKETPLACES = ("bricklink", "brickowl")
ITEM_KEY = ("part_number", "item_type", "color_id", "condition", "location")

# What an order in each unified status does to its items' stock.
RESERVE, RELEASE, CONSUME = "reserve", "release", "consume"
# A manual adjustment, either way, in pieces: a typo of a few digits is refused, a real recount never is. The
# quantity after it must still fit its column (a 32-bit integer).
ADJUST_LIMIT = 1_000_000
ON_HAND_LIMIT = 2**31 - 1
REASON_MAX = 255
CONSUMING = frozenset({UnifiedStatus.SHIPPED, UnifiedStatus.DELIVERED})
RELEASING = frozenset({UnifiedStatus.CANCELLED, UnifiedStatus.REFUNDED, UnifiedStatus.RETURNED})


class StockConflict(Exception):
    """The item moved between our read and our write; the page's transaction is retried by the engine."""


def stock_effect(status: str) -> str:
    if status in CONSUMING:
        return CONSUME
    if status in RELEASING:
        return RELEASE
    return RESERVE


# --- the ledger -------------------------------------------------------------------------------------


def _move(
    *,
    item_id: int,
    kind: str,
    on_hand_delta: int = 0,
    reserved_delta: int = 0,
    source: str,
    reason: str = "",
    reservation: Reservation | None = None,
    reservation_sequence: int | None = None,
    order_item_id: int | None = None,
    clamp_reserved: bool = False,
) -> StockMovement:
    item = InventoryItem.objects.select_for_update().get(pk=item_id)
    if clamp_reserved:  # never below zero, even if the figures were already off (the check command reports that)
        reserved_delta = max(reserved_delta, -item.quantity_reserved)
    last = StockMovement.objects.filter(item_id=item_id).order_by("-sequence").values_list("sequence", flat=True).first() or 0
    sequence = max(item.version, last) + 1
    updated = InventoryItem.objects.filter(pk=item_id, version=item.version).update(
        quantity_on_hand=F("quantity_on_hand") + on_hand_delta,
        quantity_reserved=F("quantity_reserved") + reserved_delta,
        version=sequence,
        updated_at=timezone.now(),
    )
    if updated != 1:
        raise StockConflict(f"inventory item {item_id} changed while moving stock; try again")
    return StockMovement.objects.create(
        organization_id=item.organization_id,
        item_id=item_id,
        sequence=sequence,
        kind=kind,
        reservation=reservation,
        reservation_sequence=reservation_sequence,
        order_item_id=order_item_id,
        on_hand_before=item.quantity_on_hand,
        on_hand_after=item.quantity_on_hand + on_hand_delta,
        reserved_before=item.quantity_reserved,
        reserved_after=item.quantity_reserved + reserved_delta,
        source=source,
        reason=reason[:255],
    )


def _reservation_step(reservation_id: int, effect: str, quantity: int, *, source: str, clamp_reserved: bool = False) -> None:
    """Bring one reservation to what its order item needs now; a no-op when it already is."""
    with transaction.atomic():
        res = Reservation.objects.select_for_update().get(pk=reservation_id)
        if res.state != Reservation.State.OPEN:
            return  # settled once, for good
        quantity = max(0, quantity)
        if effect == RESERVE:
            delta = quantity - res.quantity
            if delta == 0:
                return
            changes = {"quantity": quantity}
            kind, on_hand_delta, reserved_delta = StockMovement.Kind.RESERVE, 0, delta
        elif effect == RELEASE:
            changes = {"state": Reservation.State.RELEASED}
            kind, on_hand_delta, reserved_delta = StockMovement.Kind.RELEASE, 0, -res.quantity
        else:
            changes = {"state": Reservation.State.CONSUMED}
            kind, on_hand_delta, reserved_delta = StockMovement.Kind.CONSUME, -res.quantity, -res.quantity
        last = (
            StockMovement.objects.filter(reservation_id=res.pk).order_by("-reservation_sequence")
            .values_list("reservation_sequence", flat=True).first()
        ) or 0
        step = max(res.version, last) + 1
        updated = Reservation.objects.filter(pk=res.pk, state=Reservation.State.OPEN, version=res.version).update(
            version=step, updated_at=timezone.now(), **changes
        )
        if updated != 1:
            return  # another worker applied this step first
        _move(
            item_id=res.item_id,
            kind=kind,
            on_hand_delta=on_hand_delta,
            reserved_delta=reserved_delta,
            source=source,
            reservation=res,
            reservation_sequence=step,
            order_item_id=res.order_item_id,
            clamp_reserved=clamp_reserved,
        )


def _reservation_open(*, organization_id: int, item_id: int, order_item_id: int) -> Reservation:
    """The order item's one reservation (created empty; the constraint keeps it single under races)."""
    try:
        with transaction.atomic():
            return Reservation.objects.get_or_create(
                order_item_id=order_item_id, defaults={"organization_id": organization_id, "item_id": item_id}
            )[0]
    except IntegrityError:
        return Reservation.objects.get(order_item_id=order_item_id)


# --- matching ---------------------------------------------------------------------------------------


@dataclass
class _Matcher:
    by_lot: dict[str, int]
    by_bricklink_lot: dict[str, int]
    by_key: dict[tuple, int]

    def match(self, item: OrderItem) -> int | None:
        if item.listing_ref and item.listing_ref in self.by_lot:
            return self.by_lot[item.listing_ref]
        bl_lot = str((item.details or {}).get("bl_lot_id") or "")
        if bl_lot and bl_lot in self.by_bricklink_lot:
            return self.by_bricklink_lot[bl_lot]
        return self.by_key.get((item.part_number, item.color_id, item.condition, item.location))


def _matcher(connection: Connection, items: list[OrderItem]) -> _Matcher:
    lot_ids = {i.listing_ref for i in items if i.listing_ref}
    bl_lots = {str((i.details or {}).get("bl_lot_id")) for i in items if (i.details or {}).get("bl_lot_id")}
    parts = {i.part_number for i in items if i.part_number}
    by_lot = dict(
        InventoryLot.objects.filter(connection=connection, external_id__in=lot_ids).values_list("external_id", "item_id")
    ) if lot_ids else {}
    by_bl = dict(
        InventoryLot.objects.filter(
            organization_id=connection.organization_id, connection__marketplace="bricklink", external_id__in=bl_lots
        ).values_list("external_id", "item_id")
    ) if bl_lots else {}
    by_key: dict[tuple, int] = {}
    if parts:
        rows = InventoryItem.objects.filter(organization_id=connection.organization_id, part_number__in=parts).values_list(
            "pk", "part_number", "color_id", "condition", "location"
        )
        for pk, *key in rows.order_by("pk"):
            by_key.setdefault(tuple(key), pk)
    return _Matcher(by_lot, by_bl, by_key)


# --- orders -> reservations -------------------------------------------------------------------------


def reservation_apply_orders(
    *,
    connection: Connection,
    orders: Iterable[Order],
    present: dict[str, set[str]] | None = None,
    source: str = "sync",
) -> None:
    """Settle the stock of these (just stored) orders: reserve, adjust, release or consume, each once.

    ``present`` maps an order's external id to the external ids of the items it
    has now, when they were fetched; a stored item no longer present is released.
    Orders first seen already shipped or cancelled move no stock.
    """
    orders = list(orders)
    if not orders:
        return
    present = present or {}
    items = list(OrderItem.objects.filter(order__in=orders).select_related("order").order_by("order_id", "id"))
    reservations = dict(Reservation.objects.filter(order_item__in=items).values_list("order_item_id", "pk"))
    matcher = _matcher(connection, [i for i in items if i.pk not in reservations])
    unmatched: set[int] = set()
    for item in items:
        order = item.order
        effect = stock_effect(order.status)
        fetched = present.get(order.external_id)
        if fetched is not None and item.external_id not in fetched:
            effect = RELEASE  # a batch was removed from the order
        reservation_id = reservations.get(item.pk)
        if reservation_id is None:
            if effect != RESERVE:
                continue
            inventory_item_id = matcher.match(item)
            if inventory_item_id is None:
                unmatched.add(order.pk)
                continue
            reservation_id = _reservation_open(
                organization_id=connection.organization_id, item_id=inventory_item_id, order_item_id=item.pk
            ).pk
        refunded = int((item.details or {}).get("refunded_quantity") or 0)  # Brick Owl partial refunds
        _reservation_step(reservation_id, effect, item.quantity - refunded, source=source)
    order_ids = [o.pk for o in orders]
    Order.objects.filter(pk__in=order_ids).exclude(pk__in=unmatched).filter(has_unmatched_items=True).update(
        has_unmatched_items=False
    )
    if unmatched:
        Order.objects.filter(pk__in=unmatched, has_unmatched_items=False).update(has_unmatched_items=True)


def reservation_retry_unmatched(*, organization: Organization, source: str = "import") -> int:
    """After an inventory import: try again to match the items of open orders that had none."""
    count = 0
    for connection in Connection.objects.filter(organization=organization, marketplace__in=BRICK_MARKETPLACES):
        orders = list(Order.objects.filter(connection=connection, has_unmatched_items=True).exclude(
            status__in=list(CONSUMING | RELEASING)
        ))
        reservation_apply_orders(connection=connection, orders=orders, source=source)
        count += len(orders)
    return count


# --- inventory import -------------------------------------------------------------------------------


def inventory_upsert_lots(*, connection: Connection, records: list[LotRecord]) -> UpsertResult:
    """Store a store's lots and link each to a local inventory item (created with the lot's quantity).

    A re-import updates the lot's marketplace quantity but never the item's
    on-hand figure, which only the ledger moves. A Brick Owl lot carrying a
    BrickLink lot id joins that lot's item. A lot with a value that does not
    fit its column, or whose item's would not, is skipped and named in
    ``bad_records`` (and creates no item). A lot not for sale (stockroom, unavailable, reserved) keeps that
    status: its units are the seller's, counted on hand, never as offered for sale (``quantity_for_sale``).
    """
    if not records:
        return UpsertResult()
    now = timezone.now()
    org_id = connection.organization_id
    lots, bad = fitting_rows(
        (
            InventoryLot(
                organization_id=org_id, connection=connection,
                external_id=r.external_id, external_bricklink_id=r.external_bricklink_id,
                marketplace_quantity=r.quantity, unit_price=r.unit_price, remarks=r.remarks[:255], raw=r.raw,
                last_seen_at=now, removed_at=None,
            )
            for r in records
        ),
        unique_fields=["connection", "external_id"],
    )
    fitting = {lot.external_id for lot in lots}
    records = [r for r in records if r.external_id in fitting]
    bl_ids = {r.external_bricklink_id for r in records if r.external_bricklink_id}
    linked_items = {
        external_id: (item_id, names)
        for external_id, item_id, *names in InventoryLot.objects.filter(
            organization_id=org_id, connection__marketplace="bricklink", external_id__in=bl_ids
        ).exclude(connection=connection).values_list("external_id", "item_id", "item__part_number", "item__item_type", "item__color_id")
    } if bl_ids else {}
    linked = {external_id: item_id for external_id, (item_id, _names) in linked_items.items()}
    if connection.marketplace == "brickowl":
        # Brick Owl's own ids in BrickLink's terms; what cannot be translated nor linked waits in the unmapped queue.
        records = catalog_lots_translate(connection=connection, records=records, linked_bricklink_lots=linked, now=now)
        if not records:
            return UpsertResult()
    own = [r for r in records if r.external_bricklink_id not in linked]
    existing = {
        tuple(row[1:]): row[0]
        for row in InventoryItem.objects.filter(organization_id=org_id, part_number__in={r.part_number for r in own}).values_list(
            "pk", *ITEM_KEY
        )
    }
    fresh: dict[tuple, int] = {}
    names: dict[tuple, LotRecord] = {}
    for record in own:
        names[record.key] = record
        if record.key not in existing:
            fresh[record.key] = fresh.get(record.key, 0) + max(0, record.quantity)
    items, unfit = [], {}
    for key, r in names.items():
        item = InventoryItem(
            organization_id=org_id,
            part_number=r.part_number, item_type=r.item_type, color_id=r.color_id, condition=r.condition, location=r.location,
            color_name=r.color_name, name=r.name,
            quantity_on_hand=fresh.get(key, 0), version=1 if key in fresh else 0,
        )
        problem = fit_row(item)
        if problem:
            unfit[key] = problem
        else:
            items.append(item)
    if unfit:
        bad += [BadRecord(r.external_id, f"its inventory item: {unfit[r.key]}") for r in own if r.key in unfit]
        records = [r for r in records if r.external_bricklink_id in linked or r.key not in unfit]
    _, stored = bulk_upsert(
        InventoryItem, items, unique_fields=["organization", *ITEM_KEY], update_fields=["color_name", "name", "updated_at"],
        fitted=True,
    )
    item_ids = {tuple(getattr(o, f) for f in ITEM_KEY): o.pk for o in stored}
    StockMovement.objects.bulk_create(
        StockMovement(
            organization_id=org_id, item_id=item_ids[key], sequence=1, kind=StockMovement.Kind.ADJUST,
            on_hand_before=0, on_hand_after=qty, reserved_before=0, reserved_after=0,
            source=f"import:{connection.marketplace}", reason="first seen in the marketplace's inventory",
        )
        for key, qty in fresh.items() if key in item_ids
    )
    lots = []
    for r in records:
        # A lot joining a BrickLink lot's item is named as that item is; any other as its record (translated).
        item_id, names = linked_items.get(r.external_bricklink_id) or (item_ids[r.key], (r.part_number, r.item_type, r.color_id))
        lots.append(InventoryLot(
            organization_id=org_id, connection=connection, item_id=item_id,
            external_id=r.external_id, external_bricklink_id=r.external_bricklink_id,
            marketplace_quantity=r.quantity, unit_price=r.unit_price, remarks=r.remarks[:255], raw=r.raw,
            last_seen_at=now, removed_at=None, part_number=names[0], item_type=names[1], color_id=names[2],
            brickowl_boid=r.brickowl_boid, brickowl_color_id=r.brickowl_color_id, brickowl_type=r.brickowl_type,
            sale_status=r.sale_status,
        ))
    result, _ = bulk_upsert(
        InventoryLot, lots, unique_fields=["connection", "external_id"],
        update_fields=["item", "external_bricklink_id", "marketplace_quantity", "unit_price", "remarks", "raw", "last_seen_at",
                       "removed_at", "part_number", "item_type", "color_id", "brickowl_boid", "brickowl_color_id",
                       "brickowl_type", "sale_status"],
    )
    # The translated names were not part of the first fit: bulk_upsert fits them again and names any misfit.
    result.bad_records = bad + result.bad_records
    reservation_retry_unmatched(organization=connection.organization)
    return result


def inventory_mark_removed(*, connection: Connection, seen_before) -> int:
    unmapped_lots_remove_unseen(connection=connection, seen_before=seen_before)
    return mark_unseen_removed(InventoryLot, connection=connection, seen_before=seen_before)


def inventory_adjust(
    *, organization: Organization, item_id: int, delta: int, reason: str, user=None, actor: str = "", source: str = "manual"
) -> StockMovement:
    """A manual correction of on-hand (counted the bin, found damage): one ledger row and one audit row.

    Every door (the item page, ``manage.py inventory adjust``) is checked here: a ``ValueError`` says what is wrong."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A reason is required for a manual stock adjustment.")
    if CONTROL_CHARACTERS.search(reason):
        raise ValueError("The reason contains a control character; type it again without it.")
    if len(reason) > REASON_MAX:
        raise ValueError(f"The reason must be at most {REASON_MAX} characters (got {len(reason)}).")
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise ValueError("The adjustment must be a whole number of pieces, e.g. -3 or 5.")
    if delta == 0:
        raise ValueError("The adjustment must change the quantity (delta is 0).")
    if not -ADJUST_LIMIT <= delta <= ADJUST_LIMIT:
        raise ValueError(f"An adjustment is at most {ADJUST_LIMIT:,} pieces either way (got {delta:,}).")
    with transaction.atomic():
        item = InventoryItem.objects.filter(organization=organization, pk=item_id).first()
        if item is None:
            raise InventoryItem.DoesNotExist(f"No inventory item {item_id} in {organization}.")
        if abs(item.quantity_on_hand + delta) > ON_HAND_LIMIT:
            raise ValueError(f"Item {item.pk} would hold {item.quantity_on_hand + delta:,} pieces: more than can be counted here.")
        movement = _move(item_id=item.pk, kind=StockMovement.Kind.ADJUST, on_hand_delta=delta, source=source, reason=reason)
        audit_record(
            organization=organization, action="inventory.adjust", target_type="inventory_item", target_id=str(item.pk),
            outcome="success", user=user, actor=actor, request_summary={"delta": delta, "reason": reason},
        )
    return movement


def reservation_release_for_connection(*, connection: Connection, source: str = "connection deleted") -> int:
    """Release the open reservations of a connection's order items (before the connection and its orders go)."""
    ids = list(
        Reservation.objects.filter(order_item__connection=connection, state=Reservation.State.OPEN).values_list("pk", flat=True)
    )
    for reservation_id in ids:
        _reservation_step(reservation_id, RELEASE, 0, source=source, clamp_reserved=True)
    return len(ids)
