"""Brick Owl's catalog in BrickLink's terms: the one translation the storing services use.

Brick Owl names an item by its BOID ("306255-64": item 306255 in Brick Owl
colour 64), its own colour ids and its own type names; stock, BrickLink and the
matching of a Brick Owl sale to stock speak BrickLink's part number, colour id
and type. The tables behind the translation are built from Brick Owl's API
(``inventory/catalog_sync.py``), never kept by hand:

- ``CatalogColor``: ``/catalog/color_list``, each colour with its ``bl_ids``;
- ``CatalogItem``: a BOID's BrickLink number, from a payload's ``ids``
  (``bl_item_no``) or from ``/catalog/id_lookup``.

A BOID met for the first time is queued (a pending ``CatalogItem``) for the
next catalog run. Until then, and whenever Brick Owl names no BrickLink number
or colour, the item is unmapped: its lot waits in ``UnmappedLot`` (unless its
BrickLink lot id links it), its order item keeps blank BrickLink ids. Neither is
dropped; a catalog run that maps them stores them (``catalog_sync``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Q

from connections.models import Connection
from inventory.models import CatalogColor, CatalogItem, InventoryItem, UnmappedLot
from marketsync.marketplaces.brickowl.mapping import split_boid
from marketsync.sync.records import LotRecord
from marketsync.sync.upsert import bulk_upsert
from orders.models import OrderItem

# BrickLink's colour of an item Brick Owl sells without one (minifigures, sets): BrickLink says 0 there.
NO_COLOR = "0"


@dataclass(frozen=True)
class Translation:
    """BrickLink's names for one Brick Owl item, or why there are none yet (``problem``)."""

    part_number: str = ""
    item_type: str = ""
    color_ids: tuple[str, ...] = ()  # Brick Owl's order; more than one when its colour is several of BrickLink's
    color_name: str = ""
    problem: str = ""

    @property
    def mapped(self) -> bool:
        return not self.problem


def item_boid(boid: str) -> str:
    return split_boid(boid)[0]


def catalog_color_table() -> dict[str, CatalogColor]:
    """Every Brick Owl colour by its id (a few hundred rows)."""
    return {c.brickowl_color_id: c for c in CatalogColor.objects.all()}


def catalog_translate(rows: Sequence, *, remember: bool = True) -> list[Translation]:
    """Translate each row: a record or a stored row with ``brickowl_boid``, ``brickowl_color_id``, ``brickowl_type``
    and what its payload already said in BrickLink's terms (``part_number`` from ``bl_item_no``, ``item_type``).

    With ``remember`` (storing services), BOIDs met for the first time are queued for lookup and BrickLink numbers
    the payloads state are kept for the rows that lack them; without (pages, commands), nothing is written.
    """
    wanted: dict[str, tuple[str, str]] = {}  # item BOID -> (Brick Owl type, a number a payload stated)
    for row in rows:
        item = item_boid(row.brickowl_boid)
        if item:
            kind, number = wanted.get(item, ("", ""))
            wanted[item] = (kind or row.brickowl_type, number or row.part_number)
    known = {c.boid: c for c in CatalogItem.objects.filter(boid__in=list(wanted))} if wanted else {}
    if remember:
        known.update(_remember(wanted, known))
    colors = catalog_color_table()
    return [_translate(row, known.get(item_boid(row.brickowl_boid)), colors) for row in rows]


def _remember(wanted: dict[str, tuple[str, str]], known: dict[str, CatalogItem]) -> dict[str, CatalogItem]:
    """Queue unknown BOIDs (mapped at once where a payload named the number); map queued ones a payload now names.
    Sorted, so two imports meeting the same new BOIDs lock them in one order (no deadlock)."""
    new = [
        CatalogItem(boid=item, brickowl_type=kind[:20], bricklink_item_no=number[:64],
                    state=CatalogItem.State.MAPPED if number else CatalogItem.State.PENDING)
        for item, (kind, number) in sorted(wanted.items()) if item not in known
    ]
    if new:
        CatalogItem.objects.bulk_create(new, ignore_conflicts=True)
    for item, (_kind, number) in sorted(wanted.items()):
        entry = known.get(item)
        if number and entry is not None and entry.state != CatalogItem.State.MAPPED:
            CatalogItem.objects.filter(pk=entry.pk).exclude(state=CatalogItem.State.MAPPED).update(
                state=CatalogItem.State.MAPPED, bricklink_item_no=number[:64], lookup_error=""
            )
            entry.state, entry.bricklink_item_no = CatalogItem.State.MAPPED, number[:64]
    return {c.boid: c for c in new}


def _translate(row, entry: CatalogItem | None, colors: dict[str, CatalogColor]) -> Translation:
    item = item_boid(row.brickowl_boid)
    problems = []
    item_type = row.item_type
    if not item_type:
        problems.append(f"Brick Owl type {row.brickowl_type!r} has no BrickLink type")
    part = row.part_number or (entry.bricklink_item_no if entry is not None and entry.state == CatalogItem.State.MAPPED else "")
    if not part:
        if entry is not None and entry.state == CatalogItem.State.UNMAPPED:
            problems.append(f"Brick Owl's catalog names no BrickLink number for BOID {item}")
        else:
            problems.append(f"BOID {item} waits for Brick Owl's catalog lookup")
    color_ids: tuple[str, ...] = ()
    color_name = ""
    if not row.brickowl_color_id:
        color_ids = (NO_COLOR,)
    else:
        color = colors.get(row.brickowl_color_id)
        if color is None:
            read = "" if colors else " (not read yet)"
            problems.append(f"Brick Owl colour {row.brickowl_color_id} is not in Brick Owl's colour list{read}")
        elif not color.bricklink_color_ids:
            problems.append(f"Brick Owl colour {row.brickowl_color_id} ({color.name}) has no BrickLink colour")
        else:
            color_ids, color_name = tuple(color.bricklink_color_ids), color.name
    return Translation(part_number=part, item_type=item_type, color_ids=color_ids, color_name=color_name,
                       problem="; ".join(problems))


def catalog_color_choice(*, organization_id: int, rows: Sequence, translations: Sequence[Translation]) -> list[str]:
    """The BrickLink colour of each row: where Brick Owl's colour is several of BrickLink's, the one the seller
    stocks (an item of the same part, type, condition and location; else of the same part and type), else the
    first Brick Owl lists. Rows need ``condition`` and ``location``."""
    ambiguous = {t.part_number for t in translations if len(t.color_ids) > 1}
    exact: set[tuple] = set()
    loose: set[tuple] = set()
    if ambiguous:
        for part, kind, color, condition, location in InventoryItem.objects.filter(
            organization_id=organization_id, part_number__in=ambiguous
        ).values_list("part_number", "item_type", "color_id", "condition", "location"):
            exact.add((part, kind, color, condition, location))
            loose.add((part, kind, color))
    chosen = []
    for row, t in zip(rows, translations, strict=True):
        color = t.color_ids[0] if t.color_ids else ""
        if len(t.color_ids) > 1:
            color = next((c for c in t.color_ids if (t.part_number, t.item_type, c, row.condition, row.location) in exact),
                         next((c for c in t.color_ids if (t.part_number, t.item_type, c) in loose), color))
        chosen.append(color)
    return chosen


def catalog_apply(*, organization_id: int, rows: Sequence) -> list[Translation]:
    """Translate rows and write BrickLink's names onto them (``part_number``, ``item_type``, ``color_id``; the colour
    name where the row has none). An unmapped row gets what is known and a blank for the rest."""
    rows = list(rows)
    translations = catalog_translate(rows)
    colors = catalog_color_choice(organization_id=organization_id, rows=rows, translations=translations)
    for row, t, color in zip(rows, translations, colors, strict=True):
        row.part_number, row.item_type = t.part_number, t.item_type
        row.color_id = color if t.mapped else ""
        if not row.color_name:
            row.color_name = t.color_name
    return translations


# --- lots ---------------------------------------------------------------------------------------------


def catalog_lots_translate(
    *, connection: Connection, records: list[LotRecord], linked_bricklink_lots: Iterable[str], now
) -> list[LotRecord]:
    """Brick Owl lots in BrickLink's terms, the ones to store as lots: translated, or linked by their BrickLink lot
    id (``linked_bricklink_lots``). The others wait in ``UnmappedLot`` with what is known and why; a lot stored
    now leaves that queue."""
    linked = set(linked_bricklink_lots)
    stated = [r.part_number for r in records]  # what the payload said: the queue keeps that, not a partial translation
    translations = catalog_apply(organization_id=connection.organization_id, rows=records)
    storable, waiting = [], []
    for record, t, number in zip(records, translations, stated, strict=True):
        (storable if t.mapped or record.external_bricklink_id in linked else waiting).append((record, t, number))
    UnmappedLot.objects.filter(connection=connection, external_id__in=[r.external_id for r, _t, _n in storable]).delete()
    if waiting:
        bulk_upsert(UnmappedLot, [
            UnmappedLot(
                organization_id=connection.organization_id, connection=connection, external_id=r.external_id,
                brickowl_boid=r.brickowl_boid, brickowl_color_id=r.brickowl_color_id, brickowl_type=r.brickowl_type,
                part_number=number, item_type=r.item_type, condition=r.condition, quantity=r.quantity,
                location=r.location, name=r.name, unit_price=r.unit_price, external_bricklink_id=r.external_bricklink_id,
                remarks=r.remarks[:255], raw=r.raw, reason=t.problem[:255], last_seen_at=now,
            )
            for r, t, number in waiting
        ], unique_fields=["connection", "external_id"], update_fields=[
            "brickowl_boid", "brickowl_color_id", "brickowl_type", "part_number", "item_type", "condition", "quantity",
            "location", "name", "unit_price", "external_bricklink_id", "remarks", "raw", "reason", "last_seen_at",
        ])
    return [r for r, _t, _n in storable]


def unmapped_lot_records(*, connection: Connection) -> list[LotRecord]:
    """The connection's waiting lots as the records they came from, to be stored again once mapped."""
    return [
        LotRecord(
            external_id=u.external_id, part_number=u.part_number, item_type=u.item_type, color_id="", condition=u.condition,
            quantity=u.quantity, location=u.location, name=u.name, unit_price=u.unit_price,
            external_bricklink_id=u.external_bricklink_id, remarks=u.remarks, raw=u.raw,
            brickowl_boid=u.brickowl_boid, brickowl_color_id=u.brickowl_color_id, brickowl_type=u.brickowl_type,
        )
        for u in UnmappedLot.objects.filter(connection=connection).order_by("pk")
    ]


def unmapped_lots_remove_unseen(*, connection: Connection, seen_before) -> int:
    """After a full import: waiting lots Brick Owl no longer lists are gone (they never were stock)."""
    return UnmappedLot.objects.filter(connection=connection).filter(
        Q(last_seen_at__lt=seen_before) | Q(last_seen_at__isnull=True)
    ).delete()[0]


# --- order items --------------------------------------------------------------------------------------


def unmapped_order_items(*, organization_id: int | None = None):
    """Brick Owl order items not (fully) in BrickLink's terms yet."""
    qs = OrderItem.objects.exclude(brickowl_boid="").filter(Q(part_number="") | Q(item_type="") | Q(color_id=""))
    return qs if organization_id is None else qs.filter(organization_id=organization_id)
