"""Brick Owl's adapters: orders and inventory, page by page, and one order by id.

Orders. Brick Owl's order list carries no update time, and refunds (``refunded_quantity``, the view's
``refund_*``), tracking and notes show only in ``/order/view`` and ``/order/items``, so an order is re-read
until it is final:

- ``Cancelled`` is final (``FINAL_STATUSES``);
- ``Shipped`` and ``Received`` still change (received, refunded, cancelled) for a while
  (``SETTLING_STATUSES``): re-read while placed within ``BRICKOWL_SHIPPED_WINDOW_DAYS``;
- every other status (and one Brick Owl adds later) is open.

Each tick: one ``/order/list`` of the window (``order_time`` from ``BRICKOWL_SHIPPED_WINDOW_DAYS`` back, every
status; from the newest order time seen less a lookback when that is earlier, on a first sync a second list
from there). Its entries show each order's status and totals (``total_quantity``, ``total_lots``,
``base_order_total``): an order is read (``/order/view`` and ``/order/items``) when it is new, when its status
or its totals differ from those it was last read with (an item edit changes them), and, paced, when its last
read is older than ``BRICKOWL_OPEN_ORDER_REFRESH_SECONDS`` (open orders, for refunds and notes) or
``BRICKOWL_SHIPPED_REFRESH_SECONDS`` (settling orders of the window): at most ``BRICKOWL_REREADS_PER_TICK``
paced re-reads a tick, open ones first, least recently read first. An idle tick (nothing changed, nothing
due) is one call and a constant number of queries whatever the number of open orders. ``/bulk/batch`` takes
only inventory updates (stock pushes use it), not order reads. Inventory: a full
``/inventory/list?active_only=0``, at most every ``SYNC_CATALOG_SWEEP_SECONDS``. What the database knows
comes in as callables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils import timezone

from marketsync.marketplaces.brickowl.client import BrickOwlClient
from marketsync.marketplaces.brickowl.mapping import STATUS_NAMES, lot_record, order_record, status_id_of, text
from marketsync.sync.pages import CallPacer, Page, cursor_start, fetched_pages, sweep_due, sweep_skipped, whole_sweep_page
from marketsync.sync.records import OrderRecord

PAGE_SIZE = 25
LOOKBACK = timedelta(minutes=15)
LIST_LIMIT = 5000
SHIPPED = "5"
# Freshness: statuses Brick Owl no longer changes, and statuses that still change for a while after shipping.
FINAL_STATUSES = (STATUS_NAMES["8"],)
SETTLING_STATUSES = (STATUS_NAMES[SHIPPED], STATUS_NAMES["6"])


def list_fingerprint(data: dict) -> str:
    """What a list entry (and the view, which carries the same fields) shows of an order: its status and totals.
    An item edit changes the totals; a refund, tracking or a note does not (those wait for the paced re-read)."""
    try:
        total = str(Decimal(text(data.get("base_order_total")) or "0").quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        total = text(data.get("base_order_total"))
    return "|".join([status_id_of(data), text(data.get("total_quantity")), text(data.get("total_lots")), total])


class OrdersAdapter:
    """``stored_statuses(ids)``: the stored marketplace status by order id, for those stored; ``list_marks(ids)``:
    for those stored, (update time, the fingerprint they were last read with); ``stored_ids(**filters)``: ids of
    stored orders by marketplace status (``orders.selectors.order_ids_by_marketplace_status``)."""

    def __init__(
        self,
        client: BrickOwlClient,
        *,
        start: datetime,
        stored_statuses: Callable[[list[str]], dict[str, str]],
        stored_ids: Callable[..., list[str]],
        list_marks: Callable[[list[str]], dict[str, tuple]] | None = None,
    ) -> None:
        self.client = client
        self.start = start
        self.stored_statuses = stored_statuses
        self.stored_ids = stored_ids
        self.list_marks = list_marks or (lambda ids: {})

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        start = cursor_start(cursor, self.start)
        since = int(cursor.get("order_time") or start.timestamp())
        lookback = max(LOOKBACK.total_seconds(), settings.SYNC_LOOKBACK_SECONDS)
        now = timezone.now()
        window_days = settings.BRICKOWL_SHIPPED_WINDOW_DAYS
        window_start = now - timedelta(days=window_days)
        new_from = int(since - lookback)
        entries: dict[str, dict] = {}
        if window_days <= 0 or since < int(window_start.timestamp()):
            for entry in self.client.order_list(order_time=new_from, limit=LIST_LIMIT, list_type="store"):
                entries[text(entry.get("order_id"))] = entry
        complete = False
        if window_days > 0:
            window = self.client.order_list(order_time=int(window_start.timestamp()), limit=LIST_LIMIT, list_type="store")
            complete = len(window) < LIST_LIMIT
            for entry in window:
                entries.setdefault(text(entry.get("order_id")), entry)
        stored = self.stored_statuses(list(entries))
        marks = self.list_marks([order_id for order_id in entries if order_id in stored])
        work: dict[str, dict] = {}
        latest = since
        for order_id, entry in entries.items():
            placed = int(text(entry.get("order_date")) or 0)
            latest = max(latest, placed)
            known = stored.get(order_id)
            if known is None:
                if placed >= int(start.timestamp()) or placed >= new_from:
                    work[order_id] = entry
                continue
            fingerprint = (marks.get(order_id) or (None, ""))[1]
            if known != STATUS_NAMES.get(status_id_of(entry), known) or (fingerprint and fingerprint != list_fingerprint(entry)):
                work[order_id] = entry
        for order_id in self._due_rereads(now, window_start if window_days > 0 else None, work):
            work[order_id] = entries.get(order_id) or {"order_id": order_id}
        if complete:  # the window's whole list was read: a store with no new order needs no list from an older time
            latest = max(latest, int(now.timestamp() - lookback))
        base = {"start": start.isoformat(), "order_time": latest, "checked_at": now.isoformat()}
        # Until the last page is stored, keep the old order time: the orders of later pages are not stored yet.
        holding = {k: v for k, v in {**base, "order_time": cursor.get("order_time")}.items() if v is not None}
        if not work:
            yield Page(records=[], cursor=base)
            return
        yield from fetched_pages(
            list(work.items()), self._fetch_unit, record_id=lambda unit: unit[0], page_size=PAGE_SIZE, cursor=base,
            holding_cursor=holding, concurrency=settings.BRICK_DETAIL_FETCH_CONCURRENCY,
            pace=CallPacer(settings.BRICKOWL_REQUESTS_PER_MINUTE, cost=2),  # order/view + order/items per order
        )

    def _due_rereads(self, now: datetime, window_start: datetime | None, work: dict) -> list[str]:
        """The paced re-reads of this tick, not read already: open orders last read more than
        ``BRICKOWL_OPEN_ORDER_REFRESH_SECONDS`` ago, then settling ones of the window last read more than
        ``BRICKOWL_SHIPPED_REFRESH_SECONDS`` ago, least recently read first, at most ``BRICKOWL_REREADS_PER_TICK``."""
        cap = settings.BRICKOWL_REREADS_PER_TICK
        if cap <= 0:
            return []
        due = [order_id for order_id in self.stored_ids(
            exclude_states=FINAL_STATUSES + SETTLING_STATUSES, limit=cap + len(work),
            read_before=now - timedelta(seconds=settings.BRICKOWL_OPEN_ORDER_REFRESH_SECONDS),
        ) if order_id not in work][:cap]
        if window_start is not None and len(due) < cap:
            due += [order_id for order_id in self.stored_ids(
                states=SETTLING_STATUSES, placed_since=window_start, limit=cap + len(work),
                read_before=now - timedelta(seconds=settings.BRICKOWL_SHIPPED_REFRESH_SECONDS),
            ) if order_id not in work][: cap - len(due)]
        return due

    def _fetch_unit(self, unit: tuple[str, dict]) -> OrderRecord:
        order_id, entry = unit
        view = self.client.order_view(order_id)
        record = order_record(entry, view, self.client.order_items(order_id))
        record.details["list_fingerprint"] = list_fingerprint({**entry, **(view or {})})
        return record

    def fetch_one(self, external_id: str) -> OrderRecord:
        return self._fetch_unit((external_id, {"order_id": external_id}))


class InventoryAdapter:
    def __init__(self, client: BrickOwlClient) -> None:
        self.client = client

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        if not sweep_due(cursor):
            yield sweep_skipped(cursor)
            return
        started = timezone.now()
        yield whole_sweep_page(self.client.inventory_list(), lot_record, lambda raw: text(raw.get("lot_id")), started_at=started)
