"""Reads of orders that the order book, its export, the live cue, the order page and the CLI share.

One filtering function (``order_filter``) serves every door, so the page, the CSV and
``manage.py export orders`` always agree on what "the current list" is. Big lists page by keyset on
``(placed_at, id)`` — the order of the ``order_org_placed_idx`` index — never by OFFSET or COUNT(*).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet, Subquery
from django.utils import timezone

from connections.models import AuditEntry, Connection, Organization
from marketsync.keyset import KeysetPage, keyset_page, ordering, rows_after
from marketsync.sync.records import READY_TO_SHIP_STATUSES, UnifiedStatus
from orders.models import Order, OrderItem

S = UnifiedStatus

# The order book's tabs: key, label, unified statuses. "Awaiting payment" is held apart so nobody ships it.
STATUS_TABS: list[tuple[str, str, frozenset[str]]] = [
    ("awaiting_payment", "Awaiting payment", frozenset({S.AWAITING_PAYMENT})),
    ("ready", "Ready to ship", frozenset(READY_TO_SHIP_STATUSES)),
    ("shipped", "Shipped", frozenset({S.SHIPPED})),
    ("delivered", "Delivered", frozenset({S.DELIVERED})),
    ("cancelled", "Cancelled", frozenset({S.CANCELLED})),
    ("returned", "Returned / refunded", frozenset({S.RETURNED, S.REFUNDED})),
    ("on_hold", "On hold", frozenset({S.ON_HOLD})),
    ("unknown", "Unknown", frozenset({S.UNKNOWN})),
]
_TAB_STATUSES = {key: statuses for key, _label, statuses in STATUS_TABS}
TAB_COUNTS_CACHE_SECONDS = 30
TAB_COUNTS_CACHE_MIN_ROWS = 2000
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
EXPORT_CHUNK = 2000


class OrderFilterError(ValueError):
    """A filter value that cannot be used; the message names it."""


@dataclass
class OrderFilters:
    """What narrows the order book. Dates are calendar days in the active time zone (inclusive)."""

    marketplace: str = ""
    status: str = ""  # a tab key (``ready``, ``returned``…) or one unified status (``new``, ``refunded``…)
    connection_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    since: datetime | None = None  # placed at or after this instant (the CLI's --since)
    q: str = ""
    oldest_first: bool = False
    ship_by_first: bool = False  # the order book by ship-by date, soonest first (orders without one last)
    extra: dict = field(default_factory=dict)

    def statuses(self) -> frozenset[str] | None:
        if not self.status:
            return None
        if self.status in _TAB_STATUSES:
            return _TAB_STATUSES[self.status]
        if self.status in S.values:
            return frozenset({self.status})
        choices = ", ".join([*_TAB_STATUSES, *(v for v in S.values if v not in _TAB_STATUSES)])
        raise OrderFilterError(f"Unknown status '{self.status}'; expected one of {choices}.")

    def cache_key(self, *, without_status: bool = False) -> str:
        data = asdict(self)
        data.pop("oldest_first")
        data.pop("ship_by_first")
        data.pop("extra")
        if without_status:
            data.pop("status")
        return hashlib.sha1(repr(sorted(data.items())).encode()).hexdigest()  # noqa: S324 - a cache key


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def order_filter(*, organization: Organization, filters: OrderFilters, with_status: bool = True) -> QuerySet[Order]:
    """Every order of the organization that matches the filters (unordered). All order reads start here."""
    qs = Order.objects.filter(organization=organization)
    if filters.marketplace:
        qs = qs.filter(marketplace=filters.marketplace)
    if filters.connection_id:
        qs = qs.filter(connection_id=filters.connection_id)
    if with_status:
        statuses = filters.statuses()
        if statuses is not None:
            qs = qs.filter(status__in=sorted(statuses)) if len(statuses) > 1 else qs.filter(status=next(iter(statuses)))
    if filters.date_from:
        qs = qs.filter(placed_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        qs = qs.filter(placed_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    if filters.since:
        qs = qs.filter(placed_at__gte=filters.since)
    term = filters.q.strip()
    if term:
        qs = qs.filter(search_condition(organization=organization, filters=filters))
    return qs


SEARCH_EXACT_LIMIT = 1000


def search_condition(*, organization: Organization, filters: OrderFilters) -> Q:
    """The search's condition, worked out once per set of filters (the page and its counts share it)."""
    key = (organization.pk, filters.q.strip())
    cached = filters.extra.get("search")
    if cached is None or cached[0] != key:
        condition, exact = _search(organization=organization, term=key[1])
        filters.extra["search"] = (key, condition, exact)
        cached = filters.extra["search"]
    return cached[1]


def search_is_exact(filters: OrderFilters) -> bool:
    """True when the last search matched identifiers (a short list of orders), False when it scans."""
    cached = filters.extra.get("search")
    return bool(cached and cached[2])


def _search(*, organization: Organization, term: str) -> tuple[Q, bool]:
    """What the search box matches, in two steps so the common searches use indexes.

    1. Identifiers, exactly (as typed, upper- or lower-case): the marketplace order id (the unique
       (connection, external_id) index) and an item's SKU or part number (the (organization, sku|part_number)
       indexes). If any order matches, those are the result.
    2. Otherwise people and parcels: the customer's name (contains, any case), e-mail or tracking number
       (exact, any case) — a filter on the organization's rows walked in page order.
    """
    variants = sorted({term, term.upper(), term.lower()})
    by_order_id = Order.objects.filter(
        organization=organization,
        connection_id__in=Connection.objects.filter(organization=organization).values("pk"),
        external_id__in=variants,
    ).order_by().values("pk")
    by_item = (
        OrderItem.objects.filter(organization=organization)
        .filter(Q(sku__in=variants) | Q(part_number__in=variants))
        .order_by()
        .values("order_id")
    )
    ids = list(by_order_id.union(by_item).values_list("pk", flat=True)[: SEARCH_EXACT_LIMIT + 1])
    if len(ids) > SEARCH_EXACT_LIMIT:  # a best-selling SKU: let the database join instead of a long id list
        return Q(pk__in=Subquery(by_order_id)) | Q(pk__in=Subquery(by_item)), False
    if ids:
        return Q(pk__in=ids), True
    return Q(customer_name__icontains=term) | Q(customer_email__iexact=term) | Q(tracking_number__iexact=term), False


LIST_DEFERRED = ("raw", "details", "shipping_address", "billing_address")


def order_book_page(
    *,
    organization: Organization,
    filters: OrderFilters,
    after: str = "",
    before: str = "",
    limit: int = PAGE_SIZE,
) -> KeysetPage:
    """One page of the order book: ``limit`` rows after (or before) a keyset cursor on ``(placed_at, id)``, in
    one query. Newest first unless ``filters.oldest_first``; by ``(ship_by, id)`` with ``filters.ship_by_first``.
    No COUNT and no OFFSET, whatever the page's depth.
    """
    qs = order_filter(organization=organization, filters=filters).defer(*LIST_DEFERRED).select_related(None)
    if filters.ship_by_first:  # the order of ``order_org_ship_by_idx``: soonest first, orders without one last
        return keyset_page(qs, key="ship_by", after=after, before=before, limit=max(1, min(limit, MAX_PAGE_SIZE)),
                           descending=False)
    return keyset_page(qs, key="placed_at", after=after, before=before, limit=max(1, min(limit, MAX_PAGE_SIZE)),
                       descending=not filters.oldest_first)


def order_tab_counts(*, organization: Organization, filters: OrderFilters) -> dict[str, int] | None:
    """Orders per tab (and ``all``) for the current filters other than status.

    Counting a large organization is cached briefly (``TAB_COUNTS_CACHE_SECONDS``, keyed by organization and
    filters); below ``ORDER_TAB_COUNTS_CACHE_MIN_ROWS`` orders counting is cheap and always fresh, so a new
    merchant sees the counts move as the first sync lands.
    """
    if filters.q.strip():
        return _search_tab_counts(organization=organization, filters=filters)
    key = f"orders:tab-counts:{organization.pk}:{filters.cache_key(without_status=True)}"
    counts = cache.get(key)
    if counts is None:
        per_status = dict(
            order_filter(organization=organization, filters=filters, with_status=False)
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        counts = {tab: sum(per_status.get(s, 0) for s in statuses) for tab, statuses in _TAB_STATUSES.items()}
        counts["all"] = sum(per_status.values())
        if counts["all"] >= getattr(settings, "ORDER_TAB_COUNTS_CACHE_MIN_ROWS", TAB_COUNTS_CACHE_MIN_ROWS):
            cache.set(key, counts, TAB_COUNTS_CACHE_SECONDS)
    return counts


def _search_tab_counts(*, organization: Organization, filters: OrderFilters) -> dict[str, int] | None:
    """Counts of a search's results when it matched identifiers (at most SEARCH_EXACT_LIMIT orders);
    None when it had to scan, rather than scanning a second time to count."""
    qs = order_filter(organization=organization, filters=filters, with_status=False)
    if not search_is_exact(filters):
        return None
    per_status: dict[str, int] = {}
    for status in qs.order_by().values_list("status", flat=True):
        per_status[status] = per_status.get(status, 0) + 1
    counts = {tab: sum(per_status.get(s, 0) for s in statuses) for tab, statuses in _TAB_STATUSES.items()}
    counts["all"] = sum(per_status.values())
    return counts


# --- live -------------------------------------------------------------------------------------------------


@dataclass
class OrderChanges:
    new: int
    updated: int


def order_changes_since(*, organization: Organization, filters: OrderFilters, since: datetime) -> OrderChanges:
    """How many orders matching the filters arrived, or changed at the marketplace, after ``since``.

    One aggregate over the rows synced since then (the ``order_org_synced_idx`` range): cheap whatever the
    size of the organization. A re-read that changed nothing moves ``last_synced_at`` but is not "updated":
    only a newer ``marketplace_updated_at`` is.
    """
    totals = (
        order_filter(organization=organization, filters=filters)
        .filter(last_synced_at__gt=since)
        .order_by()
        .aggregate(
            new=Count("pk", filter=Q(first_synced_at__gt=since)),
            updated=Count("pk", filter=Q(first_synced_at__lte=since, marketplace_updated_at__gt=since)),
        )
    )
    return OrderChanges(new=totals["new"] or 0, updated=totals["updated"] or 0)


# --- one order ----------------------------------------------------------------------------------------------


def order_detail_get(*, organization: Organization, pk: int) -> Order | None:
    """One order of the organization with its connection, or None (a 404 for the page)."""
    return Order.objects.filter(organization=organization, pk=pk).select_related("connection").first()


def order_detail_items(*, order: Order) -> list[OrderItem]:
    return list(OrderItem.objects.filter(order=order, organization_id=order.organization_id).order_by("id"))


def order_audit_entries(*, order: Order, limit: int = 100) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(order=order, organization_id=order.organization_id)
        .select_related("user")
        .order_by("-created_at", "-id")[:limit]
    )


# --- export -------------------------------------------------------------------------------------------------

# What a spreadsheet user needs to ship and reconcile: the shipping address in columns (as the marketplace gave
# it, the country also by name), carrier and tracking, the ship-by date, states and conditions in words beside
# the marketplace's codes.
_SHIPPING_COLUMNS = [
    "shipping_name", "shipping_company", "shipping_address1", "shipping_address2", "shipping_postcode", "shipping_city",
    "shipping_region", "shipping_country", "shipping_country_name", "shipping_phone",
]
ORDER_EXPORT_COLUMNS = [
    "marketplace", "order_id", "placed_at", "ship_by", "status", "marketplace_status", "marketplace_status_words",
    "customer_name", "customer_email", *_SHIPPING_COLUMNS, "items_count", "currency", "total_amount", "subtotal_amount",
    "shipping_amount", "carrier", "tracking_number", "tracking_url", "connection_id", "last_synced_at",
]
ITEM_EXPORT_COLUMNS = [
    "marketplace", "order_id", "placed_at", "order_status", "customer_name", "shipping_country", "currency",
    "item_id", "item_status", "item_marketplace_status", "item_marketplace_status_words", "sku", "part_number", "title",
    "quantity", "unit_price", "color_name", "condition", "condition_code", "imei", "serial_number", "listing_ref",
]
_EXPORT_ORDER_FIELDS = [
    "id", "marketplace", "external_id", "placed_at", "ship_by", "status", "marketplace_status", "customer_name",
    "customer_email", "shipping_address", "items_count", "currency", "total_amount", "subtotal_amount",
    "shipping_amount", "tracking_number", "tracking_url", "shipper", "connection_id", "last_synced_at", "details",
]
_EXPORT_ITEM_FIELDS = [
    "order_id", "external_id", "status", "marketplace_status", "sku", "part_number", "title", "quantity", "unit_price",
    "currency", "color_id", "color_name", "brickowl_color_id", "condition", "completeness", "details", "imei",
    "serial_number", "listing_ref",
]


def _shipping_cells(address) -> dict[str, str]:
    from orders.presentation import address_parts

    parts = address_parts(address)
    return {
        "shipping_name": parts.name, "shipping_company": parts.company,
        "shipping_address1": parts.lines[0] if parts.lines else "",
        "shipping_address2": ", ".join(parts.lines[1:]), "shipping_postcode": parts.postal_code,
        "shipping_city": parts.city, "shipping_region": parts.region, "shipping_country": parts.country_code,
        "shipping_country_name": parts.country_name.title() if parts.country_code else "", "shipping_phone": parts.phone,
    }


class _Row:
    """A values() dict read as the attributes ``orders.presentation`` looks at."""

    def __init__(self, values: dict):
        self.__dict__.update(values)


def _iso(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        cents = value.quantize(Decimal("0.01"))
        return format(cents if cents == value else value.normalize(), "f")
    return str(value)


def _order_chunks(base: QuerySet[Order], *, newest_first: bool, chunk_size: int) -> Iterator[list[dict]]:
    """The filtered orders as lists of value dicts, walked by keyset: memory is one chunk, whatever the total."""
    base = base.order_by(*ordering("placed_at", descending=newest_first))
    cursor: tuple[datetime | None, int] | None = None
    while True:
        qs = base if cursor is None else rows_after(base, "placed_at", cursor, descending=newest_first)
        rows = list(qs.values(*_EXPORT_ORDER_FIELDS)[:chunk_size])
        if not rows:
            return
        yield rows
        if len(rows) < chunk_size:
            return
        cursor = (rows[-1]["placed_at"], rows[-1]["id"])


def order_export_rows(
    *, organization: Organization, filters: OrderFilters, items: bool = False, chunk_size: int = EXPORT_CHUNK
) -> Iterator[dict[str, str]]:
    """The current filtered list as export rows (strings, ISO dates): one per order, or one per item.

    The filter is built now, in the caller's time zone (a streamed response is iterated after the request's
    middleware has finished); the rows are read lazily, chunk by chunk.
    """
    base = order_filter(organization=organization, filters=filters)
    return _export_rows(base, organization=organization, newest_first=not filters.oldest_first, items=items, chunk_size=chunk_size)


def _export_rows(
    base: QuerySet[Order], *, organization: Organization, newest_first: bool, items: bool, chunk_size: int
) -> Iterator[dict[str, str]]:
    from orders.presentation import colour, colour_names, item_condition, item_state, order_state

    names = colour_names() if items else {}
    for chunk in _order_chunks(base, newest_first=newest_first, chunk_size=chunk_size):
        if not items:
            for o in chunk:
                yield {
                    "marketplace": o["marketplace"], "order_id": o["external_id"], "placed_at": _iso(o["placed_at"]),
                    "ship_by": _iso(o["ship_by"]), "status": o["status"], "marketplace_status": o["marketplace_status"],
                    "marketplace_status_words": order_state(_Row(o)).words,
                    "customer_name": o["customer_name"], "customer_email": o["customer_email"],
                    **_shipping_cells(o["shipping_address"]),
                    "items_count": str(o["items_count"]), "currency": o["currency"],
                    "total_amount": _iso(o["total_amount"]), "subtotal_amount": _iso(o["subtotal_amount"]),
                    "shipping_amount": _iso(o["shipping_amount"]), "carrier": o["shipper"],
                    "tracking_number": o["tracking_number"], "tracking_url": o["tracking_url"],
                    "connection_id": str(o["connection_id"]), "last_synced_at": _iso(o["last_synced_at"]),
                }
            continue
        by_id = {o["id"]: o for o in chunk}
        item_rows = (
            OrderItem.objects.filter(organization=organization, order_id__in=list(by_id))
            .order_by("order_id", "id")
            .values(*_EXPORT_ITEM_FIELDS)
        )
        grouped: dict[int, list[dict]] = {}
        for item in item_rows:
            grouped.setdefault(item["order_id"], []).append(item)
        for o in chunk:
            country = _shipping_cells(o["shipping_address"])["shipping_country"]
            for it in grouped.get(o["id"], []):
                row = _Row(it)
                condition = item_condition(row, marketplace=o["marketplace"])
                yield {
                    "marketplace": o["marketplace"], "order_id": o["external_id"], "placed_at": _iso(o["placed_at"]),
                    "order_status": o["status"], "customer_name": o["customer_name"], "shipping_country": country,
                    "currency": it["currency"] or o["currency"], "item_id": it["external_id"],
                    "item_status": it["status"], "item_marketplace_status": it["marketplace_status"],
                    "item_marketplace_status_words": item_state(row, marketplace=o["marketplace"]).words,
                    "sku": it["sku"], "part_number": it["part_number"], "title": it["title"],
                    "quantity": str(it["quantity"]), "unit_price": _iso(it["unit_price"]),
                    "color_name": colour(row, names).words if (it["color_id"] or it["brickowl_color_id"]
                                                                or it["color_name"]) else "",
                    "condition": condition.words, "condition_code": condition.value,
                    "imei": it["imei"], "serial_number": it["serial_number"], "listing_ref": it["listing_ref"],
                }


def export_columns(*, items: bool) -> list[str]:
    return ITEM_EXPORT_COLUMNS if items else ORDER_EXPORT_COLUMNS


# --- one order or line by the marketplace's id, for the CLI ----------------------------------------------------


def order_get(*, organization: Organization, pk: int | None = None, external_id: str | None = None,
              marketplace: str | None = None) -> Order | None:
    """One order by its pk, or by the marketplace's id (with ``marketplace``)."""
    qs = Order.objects.filter(organization=organization)
    if pk is not None:
        return qs.filter(pk=pk).first()
    if marketplace:
        qs = qs.filter(marketplace=marketplace)
    return qs.filter(external_id=str(external_id)).order_by("pk").first()


def order_list_by_reference(*, organization: Organization | None, reference: str, limit: int = 2) -> list[Order]:
    """The order whose local id is ``reference``, else the orders with that marketplace number (at most ``limit``:
    the same number can exist on several connections). ``organization=None``: every organization (ops)."""
    qs = Order.objects.all() if organization is None else Order.objects.filter(organization=organization)
    reference = str(reference).strip()
    if reference.isdigit() and len(reference) < 19:  # a local id fits a bigint
        by_pk = list(qs.filter(pk=int(reference))[:1])
        if by_pk:
            return by_pk
    return list(qs.filter(external_id=reference).order_by("pk")[:limit])


def order_item_get(*, organization: Organization, pk: int | None = None, external_id: str | None = None,
                   marketplace: str | None = None) -> OrderItem | None:
    qs = OrderItem.objects.filter(organization=organization).select_related("order")
    if pk is not None:
        return qs.filter(pk=pk).first()
    if marketplace:
        qs = qs.filter(order__marketplace=marketplace)
    return qs.filter(external_id=str(external_id)).order_by("pk").first()


# --- what the sync adapters need to know of stored orders ---------------------------------------------


def order_list_marks(*, connection: Connection, external_ids: list[str]) -> dict[str, tuple[datetime | None, str]]:
    """For each of these orders that is stored: its marketplace update time and the fingerprint of the list entry
    it was last read from (``details.list_fingerprint``; "" when none was kept)."""
    rows = Order.objects.filter(connection=connection, external_id__in=external_ids)
    return {
        external_id: (updated_at, fingerprint if isinstance(fingerprint, str) else "")
        for external_id, updated_at, fingerprint in rows.values_list(
            "external_id", "marketplace_updated_at", "details__list_fingerprint"
        )
    }


def order_marketplace_statuses(*, connection: Connection, external_ids: list[str]) -> dict[str, str]:
    """The stored marketplace status of each of these orders that is stored."""
    rows = Order.objects.filter(connection=connection, external_id__in=external_ids)
    return dict(rows.values_list("external_id", "marketplace_status"))


def order_ids_by_marketplace_status(
    *,
    connection: Connection,
    states: Iterable[str] | None = None,
    exclude_states: Iterable[str] = (),
    placed_since: datetime | None = None,
    read_before: datetime | None = None,
    limit: int | None = None,
    known_filed: bool | None = None,
) -> list[str]:
    """External ids of the connection's orders, chosen by their marketplace status: the orders a sync re-reads.

    ``states``: only these (any when None); ``exclude_states``: none of these; ``placed_since``: placed at or
    after it; ``read_before``: last read from the marketplace (stored) before it, least recently read first, at
    most ``limit``. Without ``read_before``, numeric ids in numeric order. ``known_filed``: only those last read
    as filed (BrickLink's ``is_filed``), or only those not (when False).
    """
    rows = Order.objects.filter(connection=connection)
    if known_filed is not None:
        rows = rows.filter(details__is_filed=True) if known_filed else rows.exclude(details__is_filed=True)
    if states is not None:
        rows = rows.filter(marketplace_status__in=list(states))
    if exclude_states:
        rows = rows.exclude(marketplace_status__in=list(exclude_states))
    if placed_since is not None:
        rows = rows.filter(placed_at__gte=placed_since)
    if read_before is not None:
        ids = rows.filter(last_synced_at__lt=read_before).order_by("last_synced_at", "pk").values_list("external_id", flat=True)
        return list(ids[:limit] if limit is not None else ids)
    return sorted(rows.values_list("external_id", flat=True), key=lambda v: (len(v), v))[:limit]


# --- a day's parcels: the selected orders, their packing slips and one pick list -------------------------------------

SELECTION_MAX = 500
BRICK_MARKETPLACES = ("bricklink", "brickowl")


def orders_selected(*, organization: Organization, pks: list[int] | None = None, tab: str = "") -> list[Order]:
    """The orders ticked on the order list (``pks``), or the whole ``tab`` ("ready": ready to ship), oldest first
    (the order parcels are packed in), at most ``SELECTION_MAX``."""
    qs = Order.objects.filter(organization=organization).select_related("connection")
    if tab:
        qs = qs.filter(status__in=_TAB_STATUSES[tab])
    else:
        qs = qs.filter(pk__in=pks or [])
    return list(qs.order_by("placed_at", "id")[:SELECTION_MAX])


@dataclass
class PackingSlip:
    order: Order
    items: list[OrderItem]  # the brick orders' items by location (their pick list); the others as stored


def packing_slips(*, orders: list[Order]) -> list[PackingSlip]:
    """A slip per order; a brick order's items come in pick-list order (by location: ``inventory.selectors.pick_list``)."""
    from inventory.selectors import pick_list

    return [PackingSlip(order=order, items=pick_list(order=order) if order.marketplace in BRICK_MARKETPLACES
                        else list(order.items.all())) for order in orders]


@dataclass
class PickLine:
    location: str
    part_number: str
    item_type: str
    title: str
    color: str  # the colour's name (orders.presentation.colour): never a bare id
    condition: str
    quantity: int
    orders: list[str]  # the marketplace order ids it is for
    condition_words: str = ""
    condition_code: str = ""
    color_code: str = ""
    image: str = ""


def pick_list_combined(*, orders: list[Order]) -> list[PickLine]:
    """One pick list across the selected brick orders, by location: the same part, colour and condition at the same
    location summed into one line (with the orders it goes to)."""
    lines: dict[tuple[str, str, str, str, str], PickLine] = {}
    items = OrderItem.objects.filter(order__in=[o.pk for o in orders if o.marketplace in BRICK_MARKETPLACES]).select_related(
        "order").order_by("id")
    from orders import presentation

    names = presentation.colour_names()
    for item in items:
        colour = presentation.colour(item, names)
        key = (item.location, item.part_number, item.item_type, colour.words, item.condition)
        line = lines.get(key)
        if line is None:
            condition = presentation.item_condition(item, marketplace=item.order.marketplace)
            line = lines[key] = PickLine(item.location, item.part_number, item.item_type, item.title, colour.words,
                                         item.condition, 0, [], condition_words=condition.words,
                                         condition_code=condition.code, color_code=colour.code,
                                         image=presentation.item_image(item))
        line.quantity += item.quantity
        if item.order.external_id not in line.orders:
            line.orders.append(item.order.external_id)
    return sorted(lines.values(), key=lambda p: (p.location or "\uffff", p.part_number, p.color, p.condition))
