"""Brick Owl's adapters: orders and inventory, page by page, and one order by id.

Orders. Brick Owl's order list carries no update time, and item edits and refunds
(``ordered_quantity``, ``refunded_quantity``, the view's ``refund_*``) show only in
``/order/view`` and ``/order/items``, so an order is re-read until it is final:

- ``Cancelled`` is final (``FINAL_STATUSES``);
- ``Shipped`` and ``Received`` still change (received, refunded, cancelled) for a while
  (``SETTLING_STATUSES``): re-read while placed within ``BRICKOWL_SHIPPED_WINDOW_DAYS``;
- every other status (and one Brick Owl adds later) is open.

Each tick: ``/order/list`` from the newest order time seen less a lookback (new orders,
status changes of those it lists); ``/order/list?status=5`` over the shipped window (a
stored Shipped order missing from it has moved on); then ``/order/view`` and
``/order/items`` of the new and moved orders, of every open order, and of the Shipped
and Received orders last read more than ``BRICKOWL_SHIPPED_REFRESH_SECONDS`` ago (at most
``BRICKOWL_REREADS_PER_TICK``, least recently read first). Inventory: a full
``/inventory/list?active_only=0``. What the database knows comes in as callables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from marketsync.marketplaces.brickowl.client import BrickOwlClient
from marketsync.marketplaces.brickowl.mapping import STATUS_NAMES, lot_record, order_record, status_id_of, text
from marketsync.sync.pages import Page, cursor_start, fetched_pages, whole_sweep_page
from marketsync.sync.records import OrderRecord

PAGE_SIZE = 25
LOOKBACK = timedelta(minutes=15)
SHIPPED = "5"
# Freshness: statuses Brick Owl no longer changes, and statuses that still change for a while after shipping.
FINAL_STATUSES = (STATUS_NAMES["8"],)
SETTLING_STATUSES = (STATUS_NAMES[SHIPPED], STATUS_NAMES["6"])


class OrdersAdapter:
    """``stored_statuses(ids)``: the stored marketplace status by order id, for those stored;
    ``stored_ids(**filters)``: ids of stored orders by marketplace status (``orders.selectors.order_ids_by_marketplace_status``)."""

    def __init__(
        self,
        client: BrickOwlClient,
        *,
        start: datetime,
        stored_statuses: Callable[[list[str]], dict[str, str]],
        stored_ids: Callable[..., list[str]],
    ) -> None:
        self.client = client
        self.start = start
        self.stored_statuses = stored_statuses
        self.stored_ids = stored_ids

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        start = cursor_start(cursor, self.start)
        since = int(cursor.get("order_time") or start.timestamp())
        lookback = max(LOOKBACK.total_seconds(), settings.SYNC_LOOKBACK_SECONDS)
        entries = self.client.order_list(order_time=int(since - lookback), limit=5000, list_type="store")
        now = timezone.now()
        window_days = settings.BRICKOWL_SHIPPED_WINDOW_DAYS
        window_start = now - timedelta(days=window_days)
        shipped = (
            self.client.order_list(order_time=int(window_start.timestamp()), status=SHIPPED, limit=5000, list_type="store")
            if window_days > 0 else []
        )
        listed_ids = [text(e.get("order_id")) for e in entries]
        shipped_ids = {text(e.get("order_id")) for e in shipped}
        stored = self.stored_statuses(listed_ids + sorted(shipped_ids))
        work: dict[str, dict] = {}
        latest = since
        for entry in entries:
            order_id = text(entry.get("order_id"))
            latest = max(latest, int(text(entry.get("order_date")) or 0))
            known = stored.get(order_id)
            if known is None or known != STATUS_NAMES.get(status_id_of(entry), known):
                work[order_id] = entry
        for entry in shipped:  # shipped at Brick Owl since we last read it
            order_id = text(entry.get("order_id"))
            if stored.get(order_id) not in (None, STATUS_NAMES[SHIPPED]):
                work.setdefault(order_id, entry)
        if window_days > 0:  # stored as Shipped, no longer Shipped at Brick Owl: received, cancelled, ...
            for order_id in self.stored_ids(states=[STATUS_NAMES[SHIPPED]], placed_since=window_start):
                if order_id not in shipped_ids:
                    work.setdefault(order_id, {"order_id": order_id})
        # Open orders every tick: item edits and refunded lines move their stock reservations.
        for order_id in self.stored_ids(exclude_states=FINAL_STATUSES + SETTLING_STATUSES):
            work.setdefault(order_id, {"order_id": order_id})
        if window_days > 0 and settings.BRICKOWL_REREADS_PER_TICK > 0:
            due = self.stored_ids(
                states=SETTLING_STATUSES, placed_since=window_start, limit=settings.BRICKOWL_REREADS_PER_TICK,
                read_before=now - timedelta(seconds=settings.BRICKOWL_SHIPPED_REFRESH_SECONDS),
            )
            for order_id in due:
                work.setdefault(order_id, {"order_id": order_id})
        base = {"start": start.isoformat(), "order_time": latest, "checked_at": now.isoformat()}
        # Until the last page is stored, keep the old order time: the orders of later pages are not stored yet.
        holding = {k: v for k, v in {**base, "order_time": cursor.get("order_time")}.items() if v is not None}
        if not work:
            yield Page(records=[], cursor=base)
            return
        yield from fetched_pages(
            list(work.items()), self._fetch_unit, record_id=lambda unit: unit[0], page_size=PAGE_SIZE, cursor=base,
            holding_cursor=holding,
        )

    def _fetch_unit(self, unit: tuple[str, dict]) -> OrderRecord:
        order_id, entry = unit
        return order_record(entry, self.client.order_view(order_id), self.client.order_items(order_id))

    def fetch_one(self, external_id: str) -> OrderRecord:
        return self._fetch_unit((external_id, {"order_id": external_id}))


class InventoryAdapter:
    def __init__(self, client: BrickOwlClient) -> None:
        self.client = client

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        started = timezone.now()
        yield whole_sweep_page(self.client.inventory_list(), lot_record, lambda raw: text(raw.get("lot_id")), started_at=started)
