"""Stock writes for all four marketplaces: imports that link lots, listings and offers to stock items,
order-item matching, the reservation ledger, and owners' link changes.

Every stock change goes through ``_moves``, which bumps each item's version with
a conditional UPDATE and writes one ``StockMovement`` per change keyed by (item, sequence):
a movement computed from a stale read cannot be stored. A page of orders moves its
stock in one batch (``_reservation_steps``): a constant number of queries per page. A reservation's steps
are keyed the same way, and a reservation is settled (released or consumed) at
most once — database constraints, so a re-synced order, a duplicate
notification, a retried task or two workers at once cannot count twice.

On hand is the seller's figure: a stock item first seen in an import starts from that listing's quantity, and
orders of that connection placed before the quantity was read reserve *and* add to on hand (the marketplace
had already taken them out of its figure), whichever of the two imports, listings or orders, comes first.
Available then equals the marketplace's quantity and nothing is subtracted twice.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Max, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Lower
from django.utils import timezone

from connections.models import Connection, EntitySync, Organization
from connections.services import CONTROL_CHARACTERS, audit_record
from inventory.catalog import catalog_lots_translate, unmapped_lots_remove_unseen
from inventory.models import InventoryItem, InventoryLot, Reservation, StockMovement
from inventory.outbox import stock_push_enqueue, stock_push_enqueue_items
from inventory.selectors import MARKETPLACE_LINK_KIND, LinkKind, link_row_get
from listings.models import Listing
from marketsync.sync.errors import BadRecord
from marketsync.sync.limits import fit_row
from marketsync.sync.records import LotRecord, UnifiedStatus
from marketsync.sync.upsert import UpsertResult, bulk_upsert, fitting_rows, mark_unseen_removed
from offers.models import Offer
from orders.models import Order, OrderItem

BRICK_MARKETPLACES = ("bricklink", "brickowl")
SKU_MARKETPLACES = ("backmarket", "refurbed")  # their order lines each have their own state
ITEM_KEY = ("part_number", "item_type", "color_id", "condition", "location")
ITEM_UNIQUE = ["organization", *ITEM_KEY, "sku"]  # the items' unconditional key (sku "" for brick items)
# What matching an order item to stock and reserving for it read of the item (a named row, not a model: cheaper).
MATCH_FIELDS = ("order_id", "external_id", "status", "quantity", "listing_ref", "sku", "part_number", "color_id", "condition",
                "location", "details")
# How long before an import stored a listing its quantity is taken to have been read, when the import's run start
# is unknown (``_import_read_from``). Only the fallback of ``_read_before_import`` compares that time with an
# order's placement time (the marketplace's clock).
IMPORT_READ_MARGIN = timedelta(seconds=60)
# A run start older than this is not the current import's (a page stored outside a run): the margin is used instead.
MAX_IMPORT_RUN = timedelta(hours=6)
# The entity sync whose run reads each marketplace's listing quantities.
IMPORT_ENTITY = {"bricklink": "inventory", "brickowl": "inventory", "backmarket": "listings", "refurbed": "offers"}

# What an order in each unified status does to its items' stock.
RESERVE, RELEASE, CONSUME = "reserve", "release", "consume"
# A manual adjustment, either way, in pieces: a typo of a few digits is refused, a real recount never is. The
# quantity after it must still fit its column (a 32-bit integer).
ADJUST_LIMIT = 1_000_000
ON_HAND_LIMIT = 2**31 - 1
REASON_MAX = 255
CONSUMING = frozenset({UnifiedStatus.SHIPPED, UnifiedStatus.DELIVERED})
RELEASING = frozenset({UnifiedStatus.CANCELLED, UnifiedStatus.REFUNDED, UnifiedStatus.RETURNED})
# Rows given their own values by one UPDATE of the ledger (``_update_each``): about 8 parameters each, well within
# every database's limit per statement; a page's ledger takes one statement per this many reservations or items.
UPDATE_CHUNK = 500


class StockConflict(Exception):
    """The item moved between our read and our write; the page's transaction is retried by the engine."""


def stock_lock_organization(*, organization_id: int) -> None:
    """Hold the organization's stock until the caller's transaction ends: its order pages' stock steps, imports
    that create items or link listings, and owners' link changes then run one at a time. Without it an order page
    could find no stock item for a line (and flag it) while an import is creating that item and looking for
    flagged orders, each blind to the other's uncommitted rows, and the line would never reserve.

    Callers take it before any other row lock of theirs on stock or orders, so it cannot deadlock with them.
    ``FOR NO KEY UPDATE`` on the organization's row: rows that merely reference the organization are still
    inserted freely. (SQLite has one writer at a time anyway.)
    """
    list(Organization.objects.select_for_update(no_key=True).filter(pk=organization_id).values_list("pk", flat=True))


def stock_effect(status: str) -> str:
    if status in CONSUMING:
        return CONSUME
    if status in RELEASING:
        return RELEASE
    return RESERVE


# --- the ledger -------------------------------------------------------------------------------------


@dataclass
class _Move:
    """One ledger line to write: what moves on one stock item, and why."""

    item_id: int
    kind: str
    on_hand_delta: int = 0
    reserved_delta: int = 0
    reason: str = ""
    reservation: Reservation | None = None
    reservation_sequence: int | None = None
    order_item_id: int | None = None


def _lock_items(item_ids: Iterable[int]) -> dict[int, InventoryItem]:
    """Hold these stock items until the transaction ends. Every ledger writer locks its reservations first, then its
    items, each in pk order, one statement each: two writers (two pages, a page and an adjustment or a connection's
    release) then never wait on each other in a cycle."""
    return {item.pk: item for item in InventoryItem.objects.select_for_update().filter(pk__in=set(item_ids)).order_by("pk")}


def _update_each(queryset, values: dict[int, dict], versions: dict[int, int], **common) -> int:
    """Give each row (by pk) its own values, each only if still at the version it was read at: one UPDATE per
    ``UPDATE_CHUNK`` rows (a statement's parameters are bounded). Returns how many rows were updated."""
    model, rows, updated = queryset.model, list(values.items()), 0
    for start in range(0, len(rows), UPDATE_CHUNK):
        chunk = dict(rows[start:start + UPDATE_CHUNK])
        fields = {field for row in chunk.values() for field in row}
        cases = {
            field: Case(*[When(pk=pk, then=Value(row[field])) for pk, row in chunk.items() if field in row],
                        default=F(field), output_field=model._meta.get_field(field))
            for field in fields
        }
        guard = reduce(or_, (Q(pk=pk, version=versions[pk]) for pk in chunk))
        updated += queryset.filter(guard).update(**cases, **common)
    return updated


def _moves(moves: list[_Move], *, source: str, clamp_reserved: bool = False,
           items: dict[int, InventoryItem] | None = None) -> list[StockMovement]:
    """Write these ledger lines in their order, with the items' figures they change: a constant number of queries.

    Each line gets its item's next sequence (gapless per item), and the item's version becomes the last one; the
    conditional UPDATE refuses figures computed from a stale read (``StockConflict``). ``items``: the moves' items,
    already locked by the caller (``_lock_items``). A line that changes available queues the item's push.
    """
    if not moves:
        return []
    if items is None:
        items = _lock_items(move.item_id for move in moves)
    missing = {move.item_id for move in moves} - set(items)
    if missing:
        raise InventoryItem.DoesNotExist(f"No inventory item {min(missing)}.")
    last = StockMovement.objects.filter(item_id=OuterRef("pk")).order_by("-sequence").values("sequence")[:1]
    last_sequence = dict(InventoryItem.objects.filter(pk__in=list(items)).annotate(last=Subquery(last))
                         .values_list("pk", "last"))
    # Each item's figures as the moves go: on hand, reserved, sequence.
    now_at = {pk: [item.quantity_on_hand, item.quantity_reserved, max(item.version, last_sequence.get(pk) or 0)]
              for pk, item in items.items()}
    rows, triggers = [], {}
    for move in moves:
        item = items[move.item_id]
        on_hand, reserved, sequence = now_at[move.item_id]
        reserved_delta = move.reserved_delta
        if clamp_reserved:  # never below zero, even if the figures were already off (the check command reports that)
            reserved_delta = max(reserved_delta, -reserved)
        sequence += 1
        rows.append(StockMovement(
            organization_id=item.organization_id, item_id=item.pk, sequence=sequence, kind=move.kind,
            reservation=move.reservation, reservation_sequence=move.reservation_sequence, order_item_id=move.order_item_id,
            on_hand_before=on_hand, on_hand_after=on_hand + move.on_hand_delta,
            reserved_before=reserved, reserved_after=reserved + reserved_delta, source=source, reason=move.reason[:255],
        ))
        now_at[item.pk] = [on_hand + move.on_hand_delta, reserved + reserved_delta, sequence]
        if move.on_hand_delta != reserved_delta:  # available changed: the push is queued in this same transaction
            changes = triggers.get(item.pk, ("", 0))[1] + 1
            triggers[item.pk] = (f"{move.kind} · {source}" + (f" · {move.reason}" if move.reason else ""), changes)
    moved = {move.item_id for move in moves}
    updated = _update_each(
        InventoryItem.objects.all(),
        {pk: dict(zip(("quantity_on_hand", "quantity_reserved", "version"), now_at[pk], strict=True)) for pk in moved},
        {pk: items[pk].version for pk in moved}, updated_at=timezone.now(),
    )
    if updated != len(moved):
        raise StockConflict(f"inventory items {sorted(moved)} changed while moving stock; try again")
    StockMovement.objects.bulk_create(rows)
    if triggers:
        stock_push_enqueue_items(triggers=triggers)
    return rows


def _orders_out_until(*, connection_id: int, items: Iterable[InventoryItem]) -> dict[datetime, datetime | None]:
    """For each import read time (``imported_at``, our clock) of these items imported from the connection: the
    newest placement time (the marketplace's clock) among its orders stored before it; None when there is none.
    One query, one pass over the connection's orders, however many items and read times."""
    read_times = sorted({i.imported_at for i in items if i.imported_from_id == connection_id and i.imported_at is not None})
    if not read_times:
        return {}
    newest = Order.objects.filter(connection_id=connection_id, placed_at__isnull=False).aggregate(
        **{f"t{n}": Max("placed_at", filter=Q(first_synced_at__lte=read_from)) for n, read_from in enumerate(read_times)}
    )
    return {read_from: newest[f"t{n}"] for n, read_from in enumerate(read_times)}


def _read_before_import(*, item: InventoryItem, connection_id: int | None, placed_at: datetime | None,
                        out_until: dict[datetime, datetime | None]) -> bool:
    """Was this order (of ``connection_id``, placed at ``placed_at``) already out of the marketplace quantity that
    set the item's on hand? Only that connection's orders, placed before the quantity was read, were.

    ``placed_at`` is the marketplace's clock, so it is compared with a time of the same clock where there is one:
    the newest placement among the connection's orders we had stored before the import's run began reading
    (``imported_at``, our clock against our clock: ``_orders_out_until``, which gives ``out_until``). Every such
    order, and any placed no later, was placed before the read, whatever the two clocks say; one placed after it
    but before the read counts as not out (on hand too low: drift, never an oversell). Only when no order was
    stored before the read (a new connection whose listings are imported before its orders) is the placement
    compared with ``imported_at`` itself: a marketplace clock behind ours by less than the time from the run's
    start to the read (at least ``IMPORT_READ_MARGIN`` when the start is unknown) is harmless; one further behind
    could count an order placed just after the read (README, "Stock push").
    """
    if connection_id is None or placed_at is None or item.imported_from_id != connection_id or item.imported_at is None:
        return False
    newest = out_until.get(item.imported_at)
    return placed_at <= (newest if newest is not None else item.imported_at)


def _import_read_from(connection: Connection, now: datetime) -> datetime:
    """When an import of ``connection`` began reading the quantities it stores now (our clock): its run's start,
    else ``IMPORT_READ_MARGIN`` before ``now``."""
    started = EntitySync.objects.filter(connection=connection, entity=IMPORT_ENTITY[connection.marketplace]).values_list(
        "last_started_at", flat=True).first()
    return started if started is not None and now - MAX_IMPORT_RUN <= started <= now else now - IMPORT_READ_MARGIN


@dataclass
class _Step:
    """Bring one reservation to what its order item needs now: reserve ``quantity``, release or consume it."""

    reservation_id: int
    effect: str
    quantity: int = 0
    placed_at: datetime | None = None  # the order's, for ``_read_before_import``


def _reservation_steps(steps: list[_Step], *, source: str, clamp_reserved: bool = False,
                       connection_id: int | None = None) -> None:
    """Apply these steps in their order, each a no-op when its reservation already is what it needs, with a
    constant number of queries: the reservations and then their items locked in pk order (``_lock_items``), every
    step computed in memory, then one UPDATE of the reservations and the ledger lines of ``_moves``.

    A reservation's first step also adds the quantity to on hand when the order was already out of the
    marketplace quantity that set on hand (``_read_before_import``): available stays what the marketplace shows.
    A settled reservation never moves again; the (reservation, step) key applies each change once.
    """
    if not steps:
        return
    with transaction.atomic():
        reservations = {res.pk: res for res in Reservation.objects.select_for_update().filter(
            pk__in={s.reservation_id for s in steps}, state=Reservation.State.OPEN).order_by("pk")}
        if not reservations:
            return  # all settled once, for good
        items = _lock_items(res.item_id for res in reservations.values())
        versions = {pk: res.version for pk, res in reservations.items()}
        last = StockMovement.objects.filter(reservation_id=OuterRef("pk")).order_by("-reservation_sequence")
        last_step = dict(Reservation.objects.filter(pk__in=list(reservations))
                         .annotate(last=Subquery(last.values("reservation_sequence")[:1])).values_list("pk", "last"))
        out_until = None  # read once, when a first step needs it
        moves: list[_Move] = []
        for step in steps:
            res = reservations.get(step.reservation_id)
            if res is None or res.state != Reservation.State.OPEN:
                continue  # settled once, for good
            quantity = max(0, step.quantity)
            reason = ""
            if step.effect == RESERVE:
                delta = quantity - res.quantity
                if delta == 0:
                    continue
                res.quantity = quantity
                kind, on_hand_delta, reserved_delta = StockMovement.Kind.RESERVE, 0, delta
                if res.version == 0 and delta > 0:  # its first step
                    if out_until is None:
                        out_until = _orders_out_until(connection_id=connection_id, items=items.values()) if connection_id else {}
                    if _read_before_import(item=items[res.item_id], connection_id=connection_id, placed_at=step.placed_at,
                                           out_until=out_until):
                        on_hand_delta = delta
                        reason = "placed before the import read the marketplace's quantity, which already left it out"
            elif step.effect == RELEASE:
                res.state = Reservation.State.RELEASED
                kind, on_hand_delta, reserved_delta = StockMovement.Kind.RELEASE, 0, -res.quantity
            else:
                res.state = Reservation.State.CONSUMED
                kind, on_hand_delta, reserved_delta = StockMovement.Kind.CONSUME, -res.quantity, -res.quantity
            res.version = max(res.version, last_step.get(res.pk) or 0) + 1
            last_step[res.pk] = res.version
            moves.append(_Move(item_id=res.item_id, kind=kind, on_hand_delta=on_hand_delta, reserved_delta=reserved_delta,
                               reason=reason, reservation=res, reservation_sequence=res.version,
                               order_item_id=res.order_item_id))
        if not moves:
            return
        changed = {m.reservation.pk: m.reservation for m in moves}
        updated = _update_each(
            Reservation.objects.filter(state=Reservation.State.OPEN),
            {pk: {"quantity": res.quantity, "state": res.state, "version": res.version} for pk, res in changed.items()},
            versions, updated_at=timezone.now(),
        )
        if updated != len(changed):
            raise StockConflict(f"reservations {sorted(changed)} changed while stepping them; try again")
        _moves(moves, source=source, clamp_reserved=clamp_reserved, items=items)


def _reservations_open(*, organization_id: int, item_by_order_item: dict[int, int]) -> dict[int, int]:
    """Each order item's one reservation id, the missing ones created empty in one statement (the constraint keeps
    them single under races: a reservation another worker created first is the one used)."""
    if not item_by_order_item:
        return {}
    Reservation.objects.bulk_create(
        [Reservation(organization_id=organization_id, item_id=item_id, order_item_id=order_item_id)
         for order_item_id, item_id in item_by_order_item.items()],
        ignore_conflicts=True,
    )
    return dict(Reservation.objects.filter(order_item_id__in=list(item_by_order_item)).values_list("order_item_id", "pk"))


# --- matching ---------------------------------------------------------------------------------------


@dataclass
class _Matcher:
    by_lot: dict[str, int]
    by_bricklink_lot: dict[str, int]
    by_key: dict[tuple, int]

    def match(self, item) -> int | None:  # an order item's MATCH_FIELDS, as a named row
        if item.listing_ref and item.listing_ref in self.by_lot:
            return self.by_lot[item.listing_ref]
        bl_lot = str((item.details or {}).get("bl_lot_id") or "")
        if bl_lot and bl_lot in self.by_bricklink_lot:
            return self.by_bricklink_lot[bl_lot]
        return self.by_key.get((item.part_number, item.color_id, item.condition, item.location))


@dataclass
class _SkuMatcher:
    """Back Market orderlines and Refurbed order items: through the listing or offer they came from (its link,
    or none when an owner unlinked it), else by SKU."""

    by_listing: dict[str, int | None]
    by_sku: dict[str, list[int]]

    def match(self, item) -> int | None:  # an order item's MATCH_FIELDS, as a named row
        if item.listing_ref and item.listing_ref in self.by_listing:
            return self.by_listing[item.listing_ref]
        found = self.by_sku.get(item.sku) or []
        return found[0] if len(found) == 1 else None


def sku_item_ids(*, organization_id: int, skus: Iterable[str]) -> dict[str, list[int]]:
    """The stock items of each SKU: the one whose SKU is exactly it, else those whose SKU differs only in case
    (Back Market's SKUs ignore case; more than one is ambiguous). A SKU with no item is left out. One query."""
    skus = {s for s in skus if s}
    if not skus:
        return {}
    rows = (InventoryItem.objects.filter(organization_id=organization_id).exclude(sku="").annotate(sku_ci=Lower("sku"))
            .filter(Q(sku__in=skus) | Q(sku_ci__in={s.lower() for s in skus})).order_by("pk").values_list("sku", "pk"))
    exact: dict[str, int] = {}
    by_lower: dict[str, list[int]] = {}
    for sku, pk in rows:
        exact[sku] = pk
        by_lower.setdefault(sku.lower(), []).append(pk)
    return {sku: [exact[sku]] if sku in exact else by_lower[sku.lower()] for sku in skus if sku in exact or sku.lower() in by_lower}


def _sku_matcher(connection: Connection, items: list) -> _SkuMatcher:
    refs = {i.listing_ref for i in items if i.listing_ref}
    by_listing: dict[str, int | None] = {}
    if refs and connection.marketplace == "backmarket":  # an orderline names its listing by the legacy id
        by_listing = dict(Listing.objects.filter(connection=connection, legacy_id__in=refs).exclude(legacy_id="")
                          .order_by("-pk").values_list("legacy_id", "stock_item_id"))
    elif refs:
        by_listing = dict(Offer.objects.filter(connection=connection, external_id__in=refs).values_list("external_id",
                                                                                                          "stock_item_id"))
    return _SkuMatcher(by_listing, sku_item_ids(organization_id=connection.organization_id, skus={i.sku for i in items}))


def _matcher(connection: Connection, items: list) -> _Matcher | _SkuMatcher:
    if connection.marketplace in SKU_MARKETPLACES:
        return _sku_matcher(connection, items)
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


# An order item as ``reservation_apply_orders`` reads it: what matching and stock need, and its reservation.
_ItemRow = namedtuple("_ItemRow", ["pk", *MATCH_FIELDS, "reservation_id"])


def reservation_apply_orders(
    *,
    connection: Connection,
    orders: Iterable[Order],
    present: dict[str, set[str]] | None = None,
    source: str = "sync",
    fresh_items: dict[int, list[OrderItem]] | None = None,
) -> None:
    """Settle the stock of these (just stored) orders: reserve, adjust, release or consume, each once.

    ``present`` maps an order's external id to the external ids of the items it
    has now, when they were fetched; a stored item no longer present is released.
    Orders first seen already shipped or cancelled move no stock. Back Market and Refurbed lines each have
    their own state, which decides; a brick order's status decides for all its items. The caller holds the
    organization's stock (``stock_lock_organization``).
    ``fresh_items``: orders (by pk) the caller has just inserted, with every item it inserted for them: no
    reservation refers to those yet, so they are taken as given rather than read back (a first import's page
    then reads no item at all).
    """
    orders = list(orders)
    if not orders:
        return
    present = present or {}
    fresh_items = fresh_items or {}
    by_id = {order.pk: order for order in orders}
    items = [_ItemRow(*(getattr(i, f) for f in ("pk", *MATCH_FIELDS)), None)
             for pk in by_id for i in fresh_items.get(pk, ())]
    stored = [pk for pk in by_id if pk not in fresh_items]
    if stored:
        # Only what stock needs: the rows' raw payloads would cost more to read than everything else here.
        items += OrderItem.objects.filter(order_id__in=stored).annotate(reservation_id=F("reservations__pk")).values_list(
            "pk", *MATCH_FIELDS, "reservation_id", named=True)
    items.sort(key=lambda i: (i.order_id, i.pk))  # one order of steps, however the items were found
    reservations = {i.pk: i.reservation_id for i in items if i.reservation_id is not None}
    matcher = _matcher(connection, [i for i in items if i.pk not in reservations])
    unmatched: set[int] = set()
    by_line = connection.marketplace in SKU_MARKETPLACES
    opening: dict[int, int] = {}  # order item -> the stock item its new reservation holds
    steps: list[tuple[int, str, int, datetime | None]] = []  # (order item, effect, quantity, placed at), in page order
    for item in items:
        order = by_id[item.order_id]
        effect = stock_effect(item.status if by_line else order.status)
        fetched = present.get(order.external_id)
        if fetched is not None and item.external_id not in fetched:
            effect = RELEASE  # a batch was removed from the order
        if item.pk not in reservations:
            if effect != RESERVE:
                continue
            inventory_item_id = matcher.match(item)
            if inventory_item_id is None:
                unmatched.add(order.pk)
                continue
            opening[item.pk] = inventory_item_id
        refunded = int((item.details or {}).get("refunded_quantity") or 0)  # Brick Owl partial refunds
        steps.append((item.pk, effect, item.quantity - refunded, order.placed_at))
    # The whole page's ledger at once: a constant number of queries however many items it has.
    reservations.update(_reservations_open(organization_id=connection.organization_id, item_by_order_item=opening))
    _reservation_steps([_Step(reservations[order_item_id], effect, quantity, placed_at)
                        for order_item_id, effect, quantity, placed_at in steps], source=source, connection_id=connection.pk)
    order_ids = [o.pk for o in orders]
    Order.objects.filter(pk__in=order_ids).exclude(pk__in=unmatched).filter(has_unmatched_items=True).update(
        has_unmatched_items=False
    )
    if unmatched:
        Order.objects.filter(pk__in=unmatched, has_unmatched_items=False).update(has_unmatched_items=True)


def reservation_retry_unmatched(*, organization: Organization, source: str = "import") -> int:
    """After an import or a link change: try again to match the items of open orders that had none (an item
    first seen now, or a listing newly linked, may be what they sell). The caller holds the organization's stock."""
    count = 0
    for connection in Connection.objects.filter(organization=organization):
        orders = list(Order.objects.filter(connection=connection, has_unmatched_items=True).exclude(
            status__in=list(CONSUMING | RELEASING)
        ).only("pk", "external_id", "status", "placed_at"))
        reservation_apply_orders(connection=connection, orders=orders, source=source)
        count += len(orders)
    return count


# --- inventory import -------------------------------------------------------------------------------


def inventory_upsert_lots(*, connection: Connection, records: list[LotRecord]) -> UpsertResult:
    """Store a store's lots and link each to a local inventory item (created with the lot's quantity).

    A re-import updates the lot's marketplace quantity but never the item's
    on-hand figure, which only the ledger moves. A Brick Owl lot carrying a
    BrickLink lot id joins that lot's item. A lot whose link an owner set or
    removed keeps it. Items first seen here remember this connection and when
    its quantities were read (``imported_from``/``imported_at``), and the open
    orders that were waiting for them reserve at once. A lot with a value that
    does not fit its column, or whose item's would not, is skipped and named in
    ``bad_records`` (and creates no item).
    A lot not for sale (stockroom, unavailable, reserved) keeps that status: its units are the seller's, counted
    on hand, never as offered for sale (``quantity_for_sale``).
    """
    if not records:
        return UpsertResult()
    with transaction.atomic(savepoint=False):  # the page's transaction, where there is one
        stock_lock_organization(organization_id=connection.organization_id)
        return _upsert_lots(connection=connection, records=records)


def _upsert_lots(*, connection: Connection, records: list[LotRecord]) -> UpsertResult:
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
    manual = dict(
        InventoryLot.objects.filter(connection=connection, external_id__in={r.external_id for r in records}, link_manual=True)
        .values_list("external_id", "item_id")
    )
    bl_ids = {r.external_bricklink_id for r in records if r.external_bricklink_id}
    linked_items = {
        external_id: (item_id, names)
        for external_id, item_id, *names in InventoryLot.objects.filter(
            organization_id=org_id, connection__marketplace="bricklink", external_id__in=bl_ids, item__isnull=False
        ).exclude(connection=connection).values_list("external_id", "item_id", "item__part_number", "item__item_type", "item__color_id")
    } if bl_ids else {}
    linked = {external_id: item_id for external_id, (item_id, _names) in linked_items.items()}
    if connection.marketplace == "brickowl":
        # Brick Owl's own ids in BrickLink's terms; what cannot be translated nor linked waits in the unmapped queue.
        records = catalog_lots_translate(connection=connection, records=records, linked_bricklink_lots=linked, now=now)
        if not records:
            return UpsertResult(bad_records=bad)
    own = [r for r in records if r.external_bricklink_id not in linked and r.external_id not in manual]
    # Each stored item's names by key: a lot that carries none (Brick Owl lots name neither part nor colour) keeps them.
    existing = {
        tuple(row[2:]): (row[0], row[1])
        for row in InventoryItem.objects.filter(organization_id=org_id, sku="", part_number__in={r.part_number for r in own})
        .values_list("name", "color_name", *ITEM_KEY)
    }
    fresh: dict[tuple, int] = {}
    names: dict[tuple, LotRecord] = {}
    for record in own:
        if record.name or record.key not in names:  # the lot that names the item, where one does
            names[record.key] = record
        if record.key not in existing:
            fresh[record.key] = fresh.get(record.key, 0) + max(0, record.quantity)
    items, unfit = [], {}
    read_from = _import_read_from(connection, now)
    for key, r in names.items():
        item = InventoryItem(
            organization_id=org_id,
            part_number=r.part_number, item_type=r.item_type, color_id=r.color_id, condition=r.condition, location=r.location,
            color_name=r.color_name or existing.get(key, ("", ""))[1], name=r.name or existing.get(key, ("", ""))[0],
            quantity_on_hand=fresh.get(key, 0), version=1 if key in fresh else 0,
            imported_from=connection, imported_at=read_from,
        )
        problem = fit_row(item)
        if problem:
            unfit[key] = problem
        else:
            items.append(item)
    if unfit:
        bad += [BadRecord(r.external_id, f"its inventory item: {unfit[r.key]}") for r in own if r.key in unfit]
        records = [r for r in records if r.external_bricklink_id in linked or r.external_id in manual or r.key not in unfit]
    _, stored = bulk_upsert(InventoryItem, items, unique_fields=ITEM_UNIQUE, update_fields=["color_name", "name", "updated_at"],
                            fitted=True)
    item_ids = {tuple(getattr(o, f) for f in ITEM_KEY): o.pk for o in stored}
    _record_first_counts(org_id, connection, {item_ids[key]: qty for key, qty in fresh.items() if key in item_ids})
    lots = []
    for r in records:
        # An owner's link stands; a lot joining a BrickLink lot's item is named as that item is; any other as its
        # record (translated).
        own_names = (r.part_number, r.item_type, r.color_id)
        if r.external_id in manual:
            item_id, lot_names = manual[r.external_id], own_names
        else:
            item_id, lot_names = linked_items.get(r.external_bricklink_id) or (item_ids[r.key], own_names)
        lots.append(InventoryLot(
            organization_id=org_id, connection=connection, item_id=item_id,
            external_id=r.external_id, external_bricklink_id=r.external_bricklink_id,
            marketplace_quantity=r.quantity, unit_price=r.unit_price, remarks=r.remarks[:255], raw=r.raw,
            last_seen_at=now, removed_at=None, part_number=lot_names[0], item_type=lot_names[1], color_id=lot_names[2],
            brickowl_boid=r.brickowl_boid, brickowl_color_id=r.brickowl_color_id, brickowl_type=r.brickowl_type,
            sale_status=r.sale_status,
        ))
    result, _ = bulk_upsert(
        InventoryLot, lots, unique_fields=["connection", "external_id"],
        update_fields=["item", "external_bricklink_id", "marketplace_quantity", "unit_price", "remarks", "raw", "last_seen_at",
                       "removed_at", "part_number", "item_type", "color_id", "brickowl_boid", "brickowl_color_id",
                       "brickowl_type", "sale_status"],
        stamps=["last_seen_at"],
    )
    # The translated names were not part of the first fit: bulk_upsert fits them again and names any misfit.
    result.bad_records = bad + result.bad_records
    reservation_retry_unmatched(organization=connection.organization)
    return result


def _record_first_counts(org_id: int, connection: Connection, first: dict[int, int]) -> None:
    """The ledger's first line of each item this import created: on hand from the marketplace's quantity.

    ``first`` holds the items the import found missing and inserted, but an insert that met a row another
    transaction had just created (another import of the same part at the same moment; its commit let our
    upsert through) left that row as it was: its on hand is not ours, and its line 1 is already in the ledger.
    So line 1 is written only for the items with no ledger line yet — exactly those this transaction inserted,
    since no one else sees them before we commit. (Writing it for all of them was the ``IntegrityError`` on
    ``stockmovement_unique_item_sequence`` of two syncs at once.)
    """
    if not first:
        return
    created = set(InventoryItem.objects.filter(pk__in=list(first), movements__isnull=True).values_list("pk", flat=True))
    StockMovement.objects.bulk_create(
        StockMovement(
            organization_id=org_id, item_id=item_id, sequence=1, kind=StockMovement.Kind.ADJUST,
            on_hand_before=0, on_hand_after=qty, reserved_before=0, reserved_after=0,
            source=f"import:{connection.marketplace}", reason="first seen in the marketplace's inventory",
        )
        for item_id, qty in first.items() if item_id in created
    )


# --- Back Market listings and Refurbed offers: linked by SKU ---------------------------------------------------


def stock_link_imported(*, connection: Connection, row_ids: Iterable[int]) -> int:
    """After a page of Back Market listings or Refurbed offers is stored: link each to the stock item of its
    SKU, creating the items first seen (on hand = the row's quantity). Returns how many rows were linked.

    Rows an owner linked or unlinked are left alone; a row whose SKU changed moves to the new SKU's item; a
    row with no SKU, or whose SKU matches several items (differing only in case), is left unlinked — it is
    listed in the unlinked queue, never dropped. Then the open orders waiting for these items reserve.
    """
    with transaction.atomic(savepoint=False):  # the page's transaction, where there is one
        stock_lock_organization(organization_id=connection.organization_id)
        return _link_imported(connection=connection, row_ids=list(row_ids))


def _link_imported(*, connection: Connection, row_ids: list[int]) -> int:
    kind = MARKETPLACE_LINK_KIND[connection.marketplace]
    org_id = connection.organization_id
    rows = list(
        kind.model.objects.filter(connection=connection, pk__in=row_ids, link_manual=False)
        .values_list("pk", "sku", kind.quantity, kind.title, f"{kind.link}_id", f"{kind.link}__sku")
    )
    due = [(pk, sku, qty, title, current) for pk, sku, qty, title, current, current_sku in rows
           if current is None or (current_sku or "").lower() != sku.lower()]
    if not due:
        return 0
    matches = sku_item_ids(organization_id=org_id, skus={sku for _, sku, *_ in due})
    now = timezone.now()
    fresh: dict[str, InventoryItem] = {}
    read_from = _import_read_from(connection, now)
    for _pk, sku, qty, title, _current in due:
        if sku and sku not in matches:
            item = fresh.setdefault(sku, InventoryItem(
                organization_id=org_id, sku=sku, item_type="", name=str(title or "")[:300], version=1,
                imported_from=connection, imported_at=read_from,
            ))
            item.quantity_on_hand += max(0, qty or 0)  # the same SKU twice in one store: both its listings' units
    if fresh:
        _, stored = bulk_upsert(InventoryItem, fresh.values(), unique_fields=ITEM_UNIQUE, update_fields=["updated_at"])
        _record_first_counts(org_id, connection, {o.pk: o.quantity_on_hand for o in stored})
        matches.update({o.sku: [o.pk] for o in stored})
    changed = []
    for pk, sku, _qty, _title, current in due:
        found = matches.get(sku) or []
        target = found[0] if sku and len(found) == 1 else None
        if target != current:
            changed.append(kind.model(pk=pk, **{f"{kind.link}_id": target}))
    kind.model.objects.bulk_update(changed, [kind.link], batch_size=500)
    reservation_retry_unmatched(organization=connection.organization)
    return sum(1 for row in changed if getattr(row, f"{kind.link}_id") is not None)


def inventory_mark_removed(*, connection: Connection, seen_before, seen: dict | None = None) -> int:
    unmapped_lots_remove_unseen(connection=connection, seen_before=seen_before)
    return mark_unseen_removed(InventoryLot, connection=connection, seen_before=seen_before, seen=seen)


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
        movement = _moves([_Move(item_id=item.pk, kind=StockMovement.Kind.ADJUST, on_hand_delta=delta, reason=reason)],
                          source=source)[0]
        audit_record(
            organization=organization, action="inventory.adjust", target_type="inventory_item", target_id=str(item.pk),
            outcome="success", user=user, actor=actor, request_summary={"delta": delta, "reason": reason},
        )
    return movement


def reservation_release_for_connection(*, connection: Connection, source: str = "connection deleted") -> int:
    """Release the open reservations of a connection's order items (before the connection and its orders go).

    The organization's stock is held first, as every writer of more than one stock item holds it, so this cannot
    deadlock with a page of the connection's orders storing them at the same time."""
    stock_lock_organization(organization_id=connection.organization_id)
    ids = list(
        Reservation.objects.filter(order_item__connection=connection, state=Reservation.State.OPEN).values_list("pk", flat=True)
    )
    _reservation_steps([_Step(reservation_id, RELEASE) for reservation_id in ids], source=source, clamp_reserved=True)
    return len(ids)


# --- owners' link changes (page and CLI) -------------------------------------------------------------------------


class StockLinkError(ValueError):
    """A link change that cannot be made; the message says why, for the page and the command line."""


def _link_target(*, organization: Organization, connection_id: int, external_id: str):
    row = link_row_get(organization=organization, connection_id=connection_id, external_id=str(external_id).strip())
    if row is None:
        raise StockLinkError(f"No lot, listing or offer {str(external_id)[:80]!r} on connection {connection_id} of "
                             f"{organization.slug}.")
    return row, MARKETPLACE_LINK_KIND[row.connection.marketplace]


def _link_write(*, row, kind: LinkKind, item_id: int | None, action: str, user, actor: str, source: str, summary: dict) -> None:
    """Point the row at ``item_id`` (None: unlink) for good — imports leave it — and audit it; then the open orders
    that were waiting for a stock item try again."""
    with transaction.atomic():
        stock_lock_organization(organization_id=row.organization_id)
        before = getattr(row, f"{kind.link}_id")
        # A new link starts the push afresh (available, nothing held back): the last push was another item's.
        kind.model.objects.filter(pk=row.pk).update(**{f"{kind.link}_id": item_id, "link_manual": True,
                                                       "pushed_version": None, "pushed_unseen": 0})
        audit_record(
            organization=row.organization, connection=row.connection, action=action, target_type=kind.model._meta.model_name,
            target_id=row.external_id, outcome="success", user=user, actor=actor,
            request_summary={"from_item": before, "to_item": item_id, "source": source, **summary},
        )
        if item_id is not None:  # the row now sells this item: it shows its available quantity
            stock_push_enqueue(item_id=item_id, trigger=f"{action} · {source}", row=(kind.name, row.pk))
    setattr(row, f"{kind.link}_id", item_id)
    row.link_manual = True
    if item_id is not None:
        reservation_retry_unmatched(organization=row.organization, source=source)


def stock_link_set(
    *, organization: Organization, connection_id: int, external_id: str, item_id: int, user=None, actor: str = "",
    source: str = "page",
):
    """An owner links a lot, listing or offer to one of the organization's stock items (replacing its link)."""
    row, kind = _link_target(organization=organization, connection_id=connection_id, external_id=external_id)
    if not InventoryItem.objects.filter(organization=organization, pk=item_id).exists():
        raise StockLinkError(f"No stock item {item_id} in {organization.slug}.")
    if getattr(row, f"{kind.link}_id") == item_id:
        raise StockLinkError(f"{row.connection.marketplace_label} {row.external_id} is already linked to stock item {item_id}.")
    _link_write(row=row, kind=kind, item_id=item_id, action="inventory.link", user=user, actor=actor, source=source, summary={})
    return row


def stock_unlink(*, organization: Organization, connection_id: int, external_id: str, user=None, actor: str = "",
                 source: str = "page"):
    """An owner unlinks a lot, listing or offer: its stock is no longer tracked (it joins the unlinked queue), and
    imports do not link it again. Reservations already made against the item stay with it."""
    row, kind = _link_target(organization=organization, connection_id=connection_id, external_id=external_id)
    if getattr(row, f"{kind.link}_id") is None:
        raise StockLinkError(f"{row.connection.marketplace_label} {row.external_id} is not linked to a stock item.")
    _link_write(row=row, kind=kind, item_id=None, action="inventory.unlink", user=user, actor=actor, source=source, summary={})
    return row


def stock_item_create_from_listing(
    *, organization: Organization, connection_id: int, external_id: str, sku: str = "", user=None, actor: str = "",
    source: str = "page",
) -> InventoryItem:
    """An owner makes a new SKU stock item from a Back Market listing or a Refurbed offer (``sku``: the item's SKU,
    by default the row's own) and links the row to it. On hand starts from the row's quantity, as on import, and
    the connection's open orders placed before that quantity was read add to it as they reserve."""
    row, kind = _link_target(organization=organization, connection_id=connection_id, external_id=external_id)
    if kind.model is InventoryLot:
        raise StockLinkError("A lot's stock item comes from its part, colour, condition and location on import; link the "
                             "lot to an existing item instead.")
    sku = (sku or row.sku or "").strip()
    if not sku:
        raise StockLinkError(f"{row.connection.marketplace_label} {row.external_id} has no SKU: give the new item's SKU.")
    if len(sku) > InventoryItem._meta.get_field("sku").max_length or any(ord(c) < 32 for c in sku):
        raise StockLinkError("The SKU must be at most 256 printable characters.")
    if sku_item_ids(organization_id=organization.pk, skus=[sku]):
        raise StockLinkError(f"A stock item with SKU {sku!r} (or the same SKU in another case) exists: link to it instead.")
    quantity = max(0, getattr(row, kind.quantity) or 0)
    try:
        with transaction.atomic():
            stock_lock_organization(organization_id=organization.pk)
            item = InventoryItem.objects.create(
                organization=organization, sku=sku, item_type="", name=str(getattr(row, kind.title) or "")[:300],
                quantity_on_hand=quantity, version=1, imported_from=row.connection,
                imported_at=(row.last_seen_at or timezone.now()) - IMPORT_READ_MARGIN,
            )
            StockMovement.objects.create(
                organization=organization, item=item, sequence=1, kind=StockMovement.Kind.ADJUST, on_hand_before=0,
                on_hand_after=quantity, reserved_before=0, reserved_after=0, source=source,
                reason=f"created from {row.connection.marketplace_label} {row.external_id}"[:255],
            )
            _link_write(row=row, kind=kind, item_id=item.pk, action="inventory.create_from_listing", user=user, actor=actor,
                        source=source, summary={"sku": sku, "on_hand": quantity})
    except IntegrityError as exc:  # another owner made it at the same moment
        raise StockLinkError(f"A stock item with SKU {sku!r} exists: link to it instead.") from exc
    return item
