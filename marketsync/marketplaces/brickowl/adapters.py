"""Brick Owl's adapters: orders and inventory, page by page, and one order by id.

Orders: ``/order/list`` by ``order_time`` (with a lookback) finds new orders
and status changes; orders not in a final state are re-viewed each tick,
since the list carries no update time (tracking, refunds and notes only show
in the view). Inventory: a full ``/inventory/list?active_only=0``. What the
database knows (stored statuses, open orders) comes in as callables.
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


class OrdersAdapter:
    """``stored_statuses(ids)``: the stored marketplace status by order id, for those stored;
    ``open_orders()``: (order id, stored marketplace status) of the orders still open here."""

    def __init__(
        self,
        client: BrickOwlClient,
        *,
        start: datetime,
        stored_statuses: Callable[[list[str]], dict[str, str]],
        open_orders: Callable[[], list[tuple[str, str]]],
    ) -> None:
        self.client = client
        self.start = start
        self.stored_statuses = stored_statuses
        self.open_orders = open_orders

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        start = cursor_start(cursor, self.start)
        since = int(cursor.get("order_time") or start.timestamp())
        lookback = max(LOOKBACK.total_seconds(), settings.SYNC_LOOKBACK_SECONDS)
        entries = self.client.order_list(order_time=int(since - lookback), limit=5000, list_type="store")
        stored = self.stored_statuses([text(e.get("order_id")) for e in entries])
        full: dict[str, dict] = {}
        latest = since
        for entry in entries:
            order_id = text(entry.get("order_id"))
            latest = max(latest, int(text(entry.get("order_date")) or 0))
            known = stored.get(order_id)
            if known is None or known != STATUS_NAMES.get(status_id_of(entry), known):
                full[order_id] = entry
        open_orders = [(oid, status) for oid, status in self.open_orders() if oid not in full]
        base = {"start": start.isoformat(), "order_time": latest, "checked_at": timezone.now().isoformat()}
        # Until the last page is stored, keep the old order time: the orders of later pages are not stored yet.
        holding = {k: v for k, v in {**base, "order_time": cursor.get("order_time")}.items() if v is not None}
        work = [(oid, entry, True) for oid, entry in full.items()] + [(oid, {"order_id": oid}, False) for oid, _ in open_orders]
        self._previous = dict(open_orders)
        if not work:
            yield Page(records=[], cursor=base)
            return
        yield from fetched_pages(
            work, self._fetch_unit, record_id=lambda unit: unit[0], page_size=PAGE_SIZE, cursor=base, holding_cursor=holding
        )

    def _fetch_unit(self, unit: tuple) -> OrderRecord:
        order_id, entry, with_items = unit
        view = self.client.order_view(order_id)
        changed = self._previous.get(order_id) not in (None, STATUS_NAMES.get(status_id_of(view)))
        items = self.client.order_items(order_id) if (with_items or changed) else None
        return order_record(entry, view, items)

    def fetch_one(self, external_id: str) -> OrderRecord:
        view = self.client.order_view(external_id)
        return order_record({"order_id": external_id}, view, self.client.order_items(external_id))


class InventoryAdapter:
    def __init__(self, client: BrickOwlClient) -> None:
        self.client = client

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        started = timezone.now()
        yield whole_sweep_page(self.client.inventory_list(), lot_record, lambda raw: text(raw.get("lot_id")), started_at=started)
