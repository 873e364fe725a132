"""BrickLink's adapters: orders and inventory, page by page, and one order by id.

Orders. BrickLink's only change time is ``date_status_changed``, and pushes are
not guaranteed, so an order is read again until it is final:

- ``CANCELLED`` and ``PURGED`` are final (``FINAL_STATUSES``);
- ``SHIPPED``, ``RECEIVED`` and ``COMPLETED`` still change for a while (received,
  completed, items edited): re-read while placed within ``BRICKLINK_SHIPPED_WINDOW_DAYS``
  (``SETTLING_STATUSES``);
- every other status is open.

Each tick costs one ``GET /orders?direction=in``. An order's details and items (two
calls) are fetched when it is new, when its ``date_status_changed`` moved, or when its
list entry's status, piece and lot counts or totals differ from those it was last read
from (an item edit changes them, with or without a push). The daily budget pays for
the rest, paced, never while it is tight: each tick re-reads at most
``BRICKLINK_REREADS_PER_TICK`` orders, least recently read first — open orders last
read more than ``BRICKLINK_OPEN_ORDER_REFRESH_SECONDS`` ago, then settling ones of the
window last read more than ``BRICKLINK_SHIPPED_REFRESH_SECONDS`` ago (changes the list
does not show: tracking, remarks, an item swapped at the same total); and every
``BRICKLINK_OPEN_ORDER_REFRESH_SECONDS`` one ``GET /orders?direction=in&filed=true``
lists the orders the seller filed (they vanish from the default list but can still
change), compared the same way. What the database knows comes in as callables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from marketsync.marketplaces.bricklink.client import BrickLinkClient
from marketsync.marketplaces.bricklink.mapping import LISTED_SALE_STATUS, lot_record, order_record, text, timestamp
from marketsync.sync.pages import Page, cursor_start, fetched_pages, sweep_due, sweep_skipped, whole_sweep_page
from marketsync.sync.records import OrderRecord
from marketsync.sync.statuses import BRICKLINK_PRE_PAYMENT, bricklink_money_arrived

PAGE_SIZE = 25
# Freshness: statuses BrickLink no longer changes, and statuses that still change for a while after shipping.
FINAL_STATUSES = ("CANCELLED", "PURGED")
SETTLING_STATUSES = ("SHIPPED", "RECEIVED", "COMPLETED")


def list_fingerprint(entry: dict) -> str:
    """What an order's list entry shows of it beyond the status change time: an edit of its items moves it, and so
    does money arriving for an order still in a pre-payment status (a payment status change need not move
    ``date_status_changed``, and it makes the order ready to ship). Orders without such a payment read as before."""
    cost = entry.get("cost") if isinstance(entry.get("cost"), dict) else {}
    payment = entry.get("payment") if isinstance(entry.get("payment"), dict) else {}
    parts = [entry.get("status"), entry.get("total_count"), entry.get("unique_count"), cost.get("subtotal"),
             cost.get("grand_total")]
    if text(entry.get("status")).upper() in BRICKLINK_PRE_PAYMENT and bricklink_money_arrived(payment.get("status")):
        parts.append("money arrived")
    return "|".join(text(part).strip().upper() for part in parts)


class OrdersAdapter:
    """``list_marks(ids)``: for the stored ones, (stored ``marketplace_updated_at``, the list fingerprint they were
    last read from); ``stored_ids(**filters)``: ids of stored orders by marketplace status
    (``orders.selectors.order_ids_by_marketplace_status``); ``budget_tight()``: spare no calls now."""

    def __init__(
        self,
        client: BrickLinkClient,
        *,
        start: datetime,
        list_marks: Callable[[list[str]], dict[str, tuple[datetime | None, str]]],
        stored_ids: Callable[..., list[str]],
        budget_tight: Callable[[], bool],
    ) -> None:
        self.client = client
        self.start = start
        self.list_marks = list_marks
        self.stored_ids = stored_ids
        self.budget_tight = budget_tight

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        start = cursor_start(cursor, self.start)
        summaries = self.client.orders(direction="in")
        now = timezone.now()
        spare = settings.BRICKLINK_REREADS_PER_TICK > 0 and not self.budget_tight()
        filed_listed_at = cursor.get("filed_listed_at") or now.isoformat()
        if spare and self._filed_due(cursor, now):
            summaries = summaries + self.client.orders(direction="in", filed=True)
            filed_listed_at = now.isoformat()
        listed = {text(s.get("order_id")): s for s in summaries}
        marks = self.list_marks(list(listed))
        changed: dict[str, dict] = {}
        latest = cursor.get("last_status_change") or ""
        for order_id, summary in listed.items():
            try:
                moved_at = timestamp(summary.get("date_status_changed"))
                placed_at = timestamp(summary.get("date_ordered"))
            except ValueError:
                moved_at = placed_at = None
            if moved_at and moved_at.isoformat() > latest:
                latest = moved_at.isoformat()
            if order_id in marks:
                stored_at, fingerprint = marks[order_id]
                edited = bool(fingerprint) and fingerprint != list_fingerprint(summary)
                if stored_at is None or moved_at is None or moved_at > stored_at or edited:
                    changed[order_id] = summary
            elif text(summary.get("status")).upper() != "PURGED" and (placed_at is None or placed_at >= start):
                changed[order_id] = summary
        if spare:
            for order_id in self._due_rereads(now, listed, changed):
                changed[order_id] = listed.get(order_id) or {"order_id": order_id}
        base = {"start": start.isoformat(), "last_status_change": latest, "checked_at": now.isoformat(),
                "filed_listed_at": filed_listed_at}
        if not changed:
            yield Page(records=[], cursor=base)
            return
        # Until the last page is stored, the filed orders are not all read: keep their listing due.
        holding = {**base, "filed_listed_at": cursor.get("filed_listed_at") or now.isoformat()}
        yield from fetched_pages(
            list(changed.values()),
            lambda summary: self.fetch(text(summary.get("order_id")), summary),
            record_id=lambda summary: text(summary.get("order_id")),
            page_size=PAGE_SIZE,
            cursor=base,
            holding_cursor=holding,
            concurrency=settings.BRICK_DETAIL_FETCH_CONCURRENCY,  # BrickLink limits calls a day, not at once
        )

    @staticmethod
    def _filed_due(cursor: dict, now: datetime) -> bool:
        if not cursor.get("filed_listed_at"):
            return False  # a first sync reads what the default list shows; filed orders from the next round
        elapsed = now - datetime.fromisoformat(cursor["filed_listed_at"])
        return elapsed >= timedelta(seconds=settings.BRICKLINK_OPEN_ORDER_REFRESH_SECONDS)

    def _due_rereads(self, now: datetime, listed: dict[str, dict], changed: dict[str, dict]) -> list[str]:
        """Orders due a full re-read this tick, not read already, at most the per-tick share of the budget: first the
        open orders that vanished from the list (filed or purged since: read by id at once, so a filed order
        that still changes is not left waiting for the filed listing; once read as filed, that listing covers
        it), then the listed ones due by age (an order in no list is filed, or purged and gone)."""
        vanished = [order_id for order_id in self.stored_ids(exclude_states=FINAL_STATUSES + SETTLING_STATUSES,
                                                             known_filed=False)
                    if order_id not in listed]
        due = self.stored_ids(
            exclude_states=FINAL_STATUSES + SETTLING_STATUSES,
            read_before=now - timedelta(seconds=settings.BRICKLINK_OPEN_ORDER_REFRESH_SECONDS),
        )
        window = settings.BRICKLINK_SHIPPED_WINDOW_DAYS
        if window > 0:
            due += self.stored_ids(
                states=SETTLING_STATUSES, placed_since=now - timedelta(days=window),
                read_before=now - timedelta(seconds=settings.BRICKLINK_SHIPPED_REFRESH_SECONDS),
            )
        due = vanished + [order_id for order_id in due if order_id in listed and order_id not in vanished]
        return [order_id for order_id in due if order_id not in changed][: settings.BRICKLINK_REREADS_PER_TICK]

    def fetch_one(self, external_id: str) -> OrderRecord:
        return self.fetch(external_id)

    def fetch(self, order_id: str, summary: dict | None = None) -> OrderRecord:
        """An order by id: its list entry when it is listed (a vanished one has only its id), else its detail."""
        detail = self.client.order(order_id)
        items = self.client.order_items(order_id)
        listed = summary if summary and "status" in summary else detail
        record = order_record(listed, detail, items)
        record.details["list_fingerprint"] = list_fingerprint(listed)
        return record


class InventoryAdapter:
    """The whole inventory in one ``GET /inventories`` (stockroom lots say so in their fields), and the unavailable
    (``status=N``) and reserved (``status=R``) lots, which carry no field saying so: two more calls per import."""

    def __init__(self, client: BrickLinkClient) -> None:
        self.client = client

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        if not sweep_due(cursor):  # three calls of the daily budget: on the catalog sweep's cadence
            yield sweep_skipped(cursor)
            return
        started = timezone.now()
        lots = self.client.inventories()
        listed_as = {text(raw.get("inventory_id")): letter for letter in LISTED_SALE_STATUS
                     for raw in self.client.inventories(status=letter)}
        yield whole_sweep_page(lots, lambda raw: lot_record(raw, listed_as.get(text(raw.get("inventory_id")), "")),
                               lambda raw: text(raw.get("inventory_id")), started_at=started)
