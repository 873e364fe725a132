"""BrickLink's adapters: orders and inventory, page by page, and one order by id.

Orders: one ``GET /orders?direction=in`` per tick; an order's details and
items are fetched only when it is new or its ``date_status_changed`` moved,
so an idle tick costs exactly one call. Open orders are re-read now and then
(items can change without a status change, and pushes can be lost), never
while the call budget is tight. What the database knows — the stored status
change times, the open orders, the budget — comes in as callables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from marketsync.marketplaces.bricklink.client import BrickLinkClient
from marketsync.marketplaces.bricklink.mapping import lot_record, order_record, text, timestamp
from marketsync.sync.pages import Page, cursor_start, fetched_pages, whole_sweep_page
from marketsync.sync.records import OrderRecord

PAGE_SIZE = 25


class OrdersAdapter:
    """``known_update_times(ids)``: stored ``marketplace_updated_at`` by order id, for those stored;
    ``open_ids()``: ids of the orders still open here; ``budget_tight()``: spare no calls now."""

    def __init__(
        self,
        client: BrickLinkClient,
        *,
        start: datetime,
        known_update_times: Callable[[list[str]], dict[str, datetime | None]],
        open_ids: Callable[[], list[str]],
        budget_tight: Callable[[], bool],
    ) -> None:
        self.client = client
        self.start = start
        self.known_update_times = known_update_times
        self.open_ids = open_ids
        self.budget_tight = budget_tight

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        start = cursor_start(cursor, self.start)
        summaries = self.client.orders(direction="in")
        known = self.known_update_times([text(s.get("order_id")) for s in summaries])
        changed: list[dict] = []
        latest = cursor.get("last_status_change") or ""
        for summary in summaries:
            order_id = text(summary.get("order_id"))
            try:
                moved_at = timestamp(summary.get("date_status_changed"))
                placed_at = timestamp(summary.get("date_ordered"))
            except ValueError:
                moved_at = placed_at = None
            if moved_at and moved_at.isoformat() > latest:
                latest = moved_at.isoformat()
            if order_id in known:
                stored = known[order_id]
                if stored is None or moved_at is None or moved_at > stored:
                    changed.append(summary)
            elif text(summary.get("status")).upper() != "PURGED" and (placed_at is None or placed_at >= start):
                changed.append(summary)
        now = timezone.now()
        base = {"start": start.isoformat(), "last_status_change": latest, "checked_at": now.isoformat(),
                "open_refreshed_at": cursor.get("open_refreshed_at") or now.isoformat()}
        if self._open_refresh_due(cursor, now):
            # Items can change without a status change, and notifications are not guaranteed: now and then
            # re-read the orders still open (never while the call budget is tight).
            listed = {text(s.get("order_id")): s for s in summaries}
            already = {text(s.get("order_id")) for s in changed}
            changed += [listed[i] for i in self.open_ids() if i in listed and i not in already]
            base["open_refreshed_at"] = now.isoformat()
        if not changed:
            yield Page(records=[], cursor=base)
            return
        # Until the last page is stored, the open-order re-read is not done: keep it due.
        holding = {**base, "open_refreshed_at": cursor.get("open_refreshed_at") or now.isoformat()}
        yield from fetched_pages(
            changed,
            lambda summary: self.fetch(text(summary.get("order_id")), summary),
            record_id=lambda summary: text(summary.get("order_id")),
            page_size=PAGE_SIZE,
            cursor=base,
            holding_cursor=holding,
        )

    def _open_refresh_due(self, cursor: dict, now: datetime) -> bool:
        interval = settings.BRICKLINK_OPEN_ORDER_REFRESH_SECONDS
        if not interval or not cursor.get("open_refreshed_at"):
            return False
        if now - datetime.fromisoformat(cursor["open_refreshed_at"]) < timedelta(seconds=interval):
            return False
        return not self.budget_tight()

    def fetch_one(self, external_id: str) -> OrderRecord:
        return self.fetch(external_id)

    def fetch(self, order_id: str, summary: dict | None = None) -> OrderRecord:
        detail = self.client.order(order_id)
        items = self.client.order_items(order_id)
        return order_record(summary or detail, detail, items)


class InventoryAdapter:
    def __init__(self, client: BrickLinkClient) -> None:
        self.client = client

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        started = timezone.now()
        yield whole_sweep_page(self.client.inventories(), lot_record, lambda raw: text(raw.get("inventory_id")), started_at=started)
