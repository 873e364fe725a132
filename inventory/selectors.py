"""Stock reads shared by pages, admin, commands and the connections page: stock items of all four marketplaces,
the lots, listings and offers linked to them (with their drift), and the queues of what is not linked or matched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Lower

from connections.models import Connection, Organization
from inventory.catalog import catalog_translate, unmapped_order_items
from inventory.models import InventoryItem, InventoryLot, Reservation, StockMovement, UnmappedLot
from listings.models import Listing
from marketsync.forms import day_start
from marketsync.keyset import KeysetPage, keyset_page
from offers.models import Offer
from orders.models import Order, OrderItem

BRICK_MARKETPLACES = ("bricklink", "brickowl")
MARKETPLACE_LABELS = {"bricklink": "BrickLink", "brickowl": "Brick Owl", "backmarket": "Back Market", "refurbed": "Refurbed"}
UNLINKED_PAGE_SIZE = 100


@dataclass(frozen=True)
class LinkKind:
    """Where marketplaces keep the rows that sell a stock item (lots, listings, offers), and their fields' names."""

    name: str  # lot | listing | offer
    model: type
    link: str  # the foreign key to the stock item
    quantity: str  # the marketplace's quantity
    title: str


LINK_KINDS = {
    "lot": LinkKind("lot", InventoryLot, "item", "marketplace_quantity", "remarks"),
    "listing": LinkKind("listing", Listing, "stock_item", "quantity", "title"),
    "offer": LinkKind("offer", Offer, "stock_item", "stock", "instance_name"),
}
MARKETPLACE_LINK_KIND = {"bricklink": LINK_KINDS["lot"], "brickowl": LINK_KINDS["lot"], "backmarket": LINK_KINDS["listing"],
                         "refurbed": LINK_KINDS["offer"]}


ITEM_PAGE_SIZE = 100
UNMATCHED_PAGE_SIZE = 100
MOVEMENT_PAGE_SIZE = 200
UNMATCHED_COUNT_CAP = 100


def inventory_item_page(
    *, organization: Organization, part: str = "", color: str = "", location: str = "", drift_only: bool = False,
    negative_only: bool = False, problems_only: bool = False, marketplace: str = "", after: str = "", before: str = "",
    limit: int = ITEM_PAGE_SIZE,
) -> KeysetPage:
    """One page of the organization's items, in shelf order (location, part, colour; SKU items, which have none,
    first), with their live lots, listings and offers (``live_lots``, ``live_listings``, ``live_offers``: see
    ``stock_item_links``), by keyset on the ``inventoryitem_org_shelf_idx`` index. ``negative_only``: available
    below zero; ``drift_only``: a marketplace shows another quantity; ``problems_only``: either; ``marketplace``:
    sold there (a live lot, listing or offer on one of its connections)."""
    live = {"removed_at__isnull": True}
    qs = InventoryItem.objects.filter(organization=organization).prefetch_related(
        Prefetch("lots", queryset=InventoryLot.objects.filter(**live).select_related("connection").order_by("connection_id", "id"),
                 to_attr="live_lots"),
        Prefetch("listings", queryset=Listing.objects.filter(**live).select_related("connection").order_by("connection_id", "id"),
                 to_attr="live_listings"),
        Prefetch("offers", queryset=Offer.objects.filter(**live).select_related("connection").order_by("connection_id", "id"),
                 to_attr="live_offers"),
    )
    if part:
        qs = qs.filter(Q(part_number__icontains=part) | Q(name__icontains=part) | Q(sku__icontains=part))
    if color:
        qs = qs.filter(Q(color_name__icontains=color) | Q(color_id=color))
    if location:
        qs = qs.filter(location__icontains=location)
    if drift_only:
        qs = qs.filter(_drifting_q())
    if negative_only:
        qs = qs.filter(_negative_q())
    if problems_only:
        qs = qs.filter(_negative_q() | _drifting_q())
    if marketplace:
        link = MARKETPLACE_LINK_KIND.get(marketplace)
        qs = qs.filter(Exists(link.model.objects.filter(
            **{link.link: OuterRef("pk")}, connection__marketplace=marketplace, removed_at__isnull=True))) if link else qs.none()
    return keyset_page(qs, key=("location", "part_number", "color_id"), after=after, before=before, limit=limit,
                       descending=False)


def _negative_q() -> Q:
    """Items whose available quantity (on hand - reserved) is below zero: more sold than there is."""
    return Q(quantity_on_hand__lt=F("quantity_reserved"))


def _drifting_q() -> Q:
    return Q(_drifting(InventoryLot, "item", "marketplace_quantity")) | Q(_drifting(Listing, "stock_item", "quantity")) | Q(
        _drifting(Offer, "stock_item", "stock"))


@dataclass(frozen=True)
class StockProblemCounts:
    """What the navigation counts: items with negative available, drifting items, unmatched order items, each
    counted up to ``cap`` + 1 (shown "100+")."""

    negative: int
    drift: int
    unmatched: int
    cap: int = UNMATCHED_COUNT_CAP

    def _shown(self, value: int) -> str:
        return f"{self.cap}+" if value > self.cap else str(value)

    @property
    def shown_negative(self) -> str:
        return self._shown(self.negative)

    @property
    def shown_drift(self) -> str:
        return self._shown(self.drift)

    @property
    def shown_unmatched(self) -> str:
        return self._shown(self.unmatched)

    @property
    def total(self) -> int:
        return self.negative + self.drift + self.unmatched


def stock_problem_counts(*, organization: Organization, cap: int = UNMATCHED_COUNT_CAP) -> StockProblemCounts:
    """The navigation's counts of stock problems: bounded reads (at most ``cap`` + 1 ids each), never a COUNT of
    everything."""
    items = InventoryItem.objects.filter(organization=organization)
    return StockProblemCounts(
        negative=len(items.filter(_negative_q()).values_list("pk", flat=True)[: cap + 1]),
        drift=len(items.filter(_drifting_q()).values_list("pk", flat=True)[: cap + 1]),
        unmatched=unmatched_item_count(organization=organization, cap=cap),
        cap=cap,
    )


def _drifting(model, link: str, quantity: str) -> Exists:
    """Items with a live linked row whose marketplace quantity is not what marketsync last pushed (or, before any
    push, not what is available here)."""
    available = F(f"{link}__quantity_on_hand") - F(f"{link}__quantity_reserved")
    off = (Q(pushed_quantity__isnull=False) & ~Q(**{quantity: F("pushed_quantity")})) | (
        Q(pushed_quantity__isnull=True) & ~Q(**{quantity: available}))
    return Exists(model.objects.filter(off, **{link: OuterRef("pk")}, removed_at__isnull=True))


@dataclass
class LinkedListing:
    """One lot, listing or offer that sells a stock item, in the same shape for every marketplace.

    ``drift``: the marketplace's quantity minus what marketsync last pushed there (before any push: minus what is
    available here); ``changed_by``: "marketsync" when the marketplace shows what was last pushed, else who must
    have changed it, "someone at <marketplace>".
    """

    kind: str  # lot | listing | offer
    row_id: int
    marketplace: str
    connection: Connection
    external_id: str
    title: str
    marketplace_quantity: int
    pushed_quantity: int | None
    pushed_at: datetime | None
    drift: int
    changed_by: str
    removed: bool
    link_manual: bool

    @property
    def marketplace_label(self) -> str:
        return MARKETPLACE_LABELS.get(self.marketplace, self.marketplace)


def linked_listing(*, item: InventoryItem, row: InventoryLot | Listing | Offer) -> LinkedListing:
    """A lot, listing or offer of the item as a ``LinkedListing``."""
    if isinstance(row, InventoryLot):
        kind, quantity, title = "lot", row.marketplace_quantity, row.remarks
        if row.external_bricklink_id:
            title = f"BrickLink lot {row.external_bricklink_id}" + (f" · {title}" if title else "")
    elif isinstance(row, Listing):
        kind, quantity, title = "listing", row.quantity, row.title
    else:
        kind, quantity, title = "offer", row.stock, row.instance_name
    marketplace = row.connection.marketplace
    expected = row.pushed_quantity if row.pushed_quantity is not None else item.quantity_available
    by_us = row.pushed_quantity is not None and quantity == row.pushed_quantity
    return LinkedListing(
        kind=kind, row_id=row.pk, marketplace=marketplace, connection=row.connection, external_id=row.external_id,
        title=title, marketplace_quantity=quantity, pushed_quantity=row.pushed_quantity, pushed_at=row.pushed_at,
        drift=quantity - expected, changed_by="marketsync" if by_us else f"someone at {MARKETPLACE_LABELS.get(marketplace, marketplace)}",
        removed=row.removed_at is not None, link_manual=row.link_manual,
    )


def stock_item_links(*, item: InventoryItem, include_removed: bool = True) -> list[LinkedListing]:
    """Every lot, listing and offer linked to the item, on every connection, in one shape (gone ones included
    unless ``include_removed`` is false): for the item's page, reconcile and the stock push. Uses the rows
    prefetched by ``inventory_item_page`` when there are."""
    if hasattr(item, "live_lots") and not include_removed:
        rows = [*item.live_lots, *item.live_listings, *item.live_offers]
    else:
        live = {} if include_removed else {"removed_at__isnull": True}
        rows = [
            *InventoryLot.objects.filter(item=item, **live).select_related("connection").order_by("connection_id", "id"),
            *Listing.objects.filter(stock_item=item, **live).select_related("connection").order_by("connection_id", "id"),
            *Offer.objects.filter(stock_item=item, **live).select_related("connection").order_by("connection_id", "id"),
        ]
    return [linked_listing(item=item, row=row) for row in rows]


def inventory_item_get(*, organization: Organization | None, item_id: int) -> InventoryItem | None:
    """One item of the organization (of any, with ``organization=None``: ops commands), or None."""
    qs = InventoryItem.objects.select_related("organization")
    return (qs if organization is None else qs.filter(organization=organization)).filter(pk=item_id).first()


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


LEDGER_PAGE_SIZE = 100


def stock_movement_org_page(
    *, organization: Organization, kind: str = "", q: str = "", date_from=None, date_to=None, after: str = "",
    before: str = "", limit: int = LEDGER_PAGE_SIZE,
) -> KeysetPage:
    """One page of the organization's whole ledger, newest movement first, by keyset on its id (the
    ``stockmovement_org_id_idx`` index). ``q`` finds a part, SKU or order id; the days are the viewer's."""
    qs = StockMovement.objects.filter(organization=organization).select_related("item", "order_item__order")
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(item__part_number__iexact=q) | Q(item__sku__iexact=q) | Q(order_item__order__external_id=q)
                       | Q(reason__icontains=q))
    if date_from:
        qs = qs.filter(created_at__gte=day_start(date_from))
    if date_to:
        qs = qs.filter(created_at__lt=day_start(date_to + timedelta(days=1)))
    return keyset_page(qs, key="id", after=after, before=before, limit=limit, descending=True)


def _unmatched_items(*, organization: Organization) -> QuerySet[OrderItem]:
    """Order items of any marketplace that no stock item matched (flagged on their order)."""
    return OrderItem.objects.filter(
        organization=organization,
        order__organization=organization,  # the same, said of the order: lets the partial index start there
        order__has_unmatched_items=True,
        reservations__isnull=True,
    )


def unmatched_item_page(
    *, organization: Organization, q: str = "", marketplace: str = "", after: str = "", before: str = "",
    limit: int = UNMATCHED_PAGE_SIZE,
) -> KeysetPage:
    """One page of the unmatched order items: newest order first, its lines in order (keyset; the partial
    ``order_org_unmatched_idx`` index walks the flagged orders). ``q`` finds an order id, part, SKU or title."""
    qs = _unmatched_items(organization=organization).select_related("order", "connection").annotate(
        order_placed_at=F("order__placed_at")
    )
    if marketplace:
        qs = qs.filter(order__marketplace=marketplace)
    if q:
        qs = qs.filter(Q(order__external_id=q) | Q(part_number__iexact=q) | Q(sku__icontains=q) | Q(title__icontains=q))
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


# --- the unlinked queue: lots, listings and offers no stock item sells ------------------------------------------


@dataclass
class UnlinkedRow:
    """A lot, listing or offer without a stock item, and why (its stock is not tracked until it is linked)."""

    kind: str
    row_id: int
    connection: Connection
    external_id: str
    sku: str
    title: str
    marketplace_quantity: int
    reason: str

    @property
    def marketplace_label(self) -> str:
        return MARKETPLACE_LABELS.get(self.connection.marketplace, self.connection.marketplace)

    @property
    def can_create_item(self) -> bool:
        """A SKU item can be made from a listing or an offer (a lot's item comes from its part, on import)."""
        return self.kind != "lot"


def _unlinked_rows(organization: Organization, kind: str) -> QuerySet:
    link = LINK_KINDS[kind]
    return link.model.objects.filter(organization=organization, **{f"{link.link}__isnull": True}, removed_at__isnull=True)


def unlinked_page(
    *, organization: Organization, kind: str = "listing", after: str = "", before: str = "", limit: int = UNLINKED_PAGE_SIZE
) -> KeysetPage:
    """One page of the organization's live lots, listings or offers (``kind``) that no stock item sells, oldest
    first (keyset on the partial ``*_org_unlinked_idx`` indexes), each as an ``UnlinkedRow`` with its reason."""
    quantity, title = LINK_KINDS[kind].quantity, LINK_KINDS[kind].title
    page = keyset_page(_unlinked_rows(organization, kind).select_related("connection"), key="id", after=after, before=before,
                       limit=limit, descending=False)
    skus = {row.sku.lower() for row in page.rows if getattr(row, "sku", "")}
    matches: dict[str, int] = {}
    if skus:
        for sku_ci, count in (InventoryItem.objects.filter(organization=organization).exclude(sku="")
                              .annotate(sku_ci=Lower("sku")).filter(sku_ci__in=list(skus)).values("sku_ci")
                              .annotate(n=Count("pk")).values_list("sku_ci", "n")):
            matches[sku_ci] = count
    page.rows = [
        UnlinkedRow(kind=kind, row_id=row.pk, connection=row.connection, external_id=row.external_id,
                    sku=getattr(row, "sku", ""), title=getattr(row, title) or "", marketplace_quantity=getattr(row, quantity),
                    reason=_unlinked_reason(row, matches))
        for row in page.rows
    ]
    return page


def _unlinked_reason(row, matches: dict[str, int]) -> str:
    if row.link_manual:
        return "unlinked by an owner"
    sku = getattr(row, "sku", None)
    if sku == "":
        return "no SKU"
    if sku is not None and matches.get(sku.lower(), 0) > 1:
        return f"its SKU matches {matches[sku.lower()]} stock items that differ only in case"
    return "not linked yet: the next import links it"


def unlinked_counts(*, organization: Organization, cap: int = UNMATCHED_COUNT_CAP) -> dict[str, int]:
    """How many lots, listings and offers are unlinked, each counted up to ``cap`` + 1 (a bounded read)."""
    return {kind: len(_unlinked_rows(organization, kind).values_list("pk", flat=True)[: cap + 1]) for kind in LINK_KINDS}


def link_row_get(*, organization: Organization, connection_id: int, external_id: str):
    """The lot, listing or offer of one of the organization's connections, by the marketplace's id, or None."""
    connection = Connection.objects.filter(organization=organization, pk=connection_id).first()
    if connection is None:
        return None
    kind = MARKETPLACE_LINK_KIND.get(connection.marketplace)
    if kind is None:
        return None
    return kind.model.objects.filter(organization=organization, connection=connection, external_id=external_id).select_related(
        "connection").first()


# --- reconcile: what a stock push would change (inventory/push.py) -----------------------------------------------


@dataclass
class ReconcileRow:
    """A live linked lot, listing or offer whose marketplace quantity is not its item's available quantity."""

    item: InventoryItem
    link: LinkedListing
    available: int  # what a push would set (never below 0)

    @property
    def difference(self) -> int:
        return self.link.marketplace_quantity - self.available


def reconcile_rows(*, organization: Organization) -> list[ReconcileRow]:
    """Every live linked row of the organization whose marketplace quantity differs from local available, in shelf
    order (read page by page, its links prefetched)."""
    rows: list[ReconcileRow] = []
    after = ""
    while True:
        page = inventory_item_page(organization=organization, after=after)
        for item in page.rows:
            available = max(0, item.quantity_available)
            for link in stock_item_links(item=item, include_removed=False):
                if link.marketplace_quantity != available:
                    rows.append(ReconcileRow(item=item, link=link, available=available))
        if not page.next_cursor:
            return rows
        after = page.next_cursor


def stock_push_list(*, item: InventoryItem, limit: int = 50):
    """The item's newest pushes (waiting, sent, failed), for its page."""
    return list(item.pushes.filter(organization_id=item.organization_id).select_related("connection")[:limit])


def units_sold_on_connection_since(*, item_id: int, connection_id: int, version: int | None = None,
                                   created_after: datetime | None = None) -> int:
    """Units of the stock item that orders of one connection took from available since the item's ``version``
    (its ledger steps numbered after it), or since a time: what that marketplace has already subtracted itself, as marketplaces do
    when they sell. A release or a smaller amendment never counts back (a marketplace does not restock a cancelled
    order by itself), nor does a consumption of reserved units or an order already out before the import (neither
    changes available)."""
    steps = StockMovement.objects.filter(item_id=item_id, order_item__connection_id=connection_id)
    if version is not None:
        steps = steps.filter(sequence__gt=version)
    if created_after is not None:
        steps = steps.filter(created_at__gt=created_after)
    return sum(max(0, (reserved_after - reserved_before) - (on_hand_after - on_hand_before))
               for on_hand_before, on_hand_after, reserved_before, reserved_after in steps.values_list(
                   "on_hand_before", "on_hand_after", "reserved_before", "reserved_after"))
