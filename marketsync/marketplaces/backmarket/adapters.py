"""Back Market's adapters: orders, listings, BackShip deliveries and returns, page by page and one by id.

- orders: incremental by ``date_modification`` (≥), starting a lookback window
  before the newest modification seen; the first sync starts from the
  configured start date. The cursor moves only after a complete sweep (the
  list is not sorted by modification), so an interrupted sweep repeats. Once a
  day a ``date_creation`` sweep of the last 60 days runs first, as a safety net.
  Back Market moves ``date_modification`` on every change of an order or its
  lines (accepted, shipped, cancelled, refunded, returned), so this sweep sees
  every change of every order, open or shipped, without re-reading any — except
  one: ``GET /ws/orders`` hides state 8 (not paid) unless asked for it, so an
  order seen awaiting payment whose payment then fails would stay "awaiting
  payment" here. A second ``date_modification`` sweep with ``state=8`` keeps the
  orders already stored (``stored_statuses``) and drops the rest, which Back
  Market says to ignore.
- listings: a full sweep (no update filter); what a complete sweep no longer
  returns is marked removed.
- deliveries / returns: re-swept over the last 30 days (new rows, pickups,
  hub scans), each label downloaded once; a label that fails is retried on the
  next tick without holding the rest back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from marketsync.marketplaces.backmarket.client import BackMarketClient, ListPage, parse_datetime
from marketsync.marketplaces.backmarket.mapping import (
    ListingRecord,
    ShipmentRecord,
    listing_record,
    order_record,
    shipment_record,
)
from marketsync.sync.errors import BadRecord, MarketplaceError
from marketsync.sync.pages import SWEPT_AT, Page, read_ahead, sweep_due, sweep_skipped
from marketsync.sync.records import OrderRecord

BACKSHIP_RESWEEP = timedelta(days=30)
SAFETY_SWEEP_EVERY = timedelta(days=1)
SAFETY_SWEEP_SPAN = timedelta(days=60)


NOT_PAID = 8  # the order state GET /ws/orders leaves out unless asked for


def parsed_pages(pages: Iterable[ListPage], parse: Callable[[dict], Any]) -> Iterator[tuple[ListPage, list, list[BadRecord]]]:
    """Each list page with its records parsed; one that does not parse is a named bad record, the rest are kept."""
    for page in pages:
        records, bad = [], []
        for data in page.results:
            try:
                records.append(parse(data))
            except BadRecord as exc:
                bad.append(exc)
        yield page, records, bad


class OrdersAdapter:
    """``stored_statuses(ids)``: the stored marketplace state by order id, for those stored."""

    def __init__(self, client: BackMarketClient, *, start: datetime,
                 stored_statuses: Callable[[list[str]], dict[str, str]] | None = None) -> None:
        self.client = client
        self.start = start
        self.stored_statuses = stored_statuses

    def fetch_one(self, external_id: str) -> OrderRecord:
        return order_record(self.client.order_get(external_id))

    def since(self, cursor: dict) -> datetime:
        seen = parse_datetime(cursor.get("date_modification"))
        if seen is None:
            return self.start
        return seen - timedelta(seconds=settings.SYNC_LOOKBACK_SECONDS)

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        """The ``date_modification`` sweep; once a day first a ``date_creation`` sweep of the last 60 days as a
        safety net for orders whose modification date did not move."""
        now = timezone.now()
        newest = parse_datetime(cursor.get("date_modification"))
        last_safety = parse_datetime(cursor.get("safety_sweep_at"))
        safety_due = newest is not None and (last_safety is None or now - last_safety > SAFETY_SWEEP_EVERY)
        sweeps = []
        if safety_due:
            sweeps.append({"date_creation": max(self.start, now - SAFETY_SWEEP_SPAN)})
        sweeps.append({"date_modification": self.since(cursor)})
        if self.stored_statuses is not None:
            sweeps.append({"date_modification": self.since(cursor), "state": NOT_PAID})
        for number, params in enumerate(sweeps, start=1):
            for page, records, bad in read_ahead(parsed_pages(self.client.order_pages(**params), order_record)):
                if params.get("state") == NOT_PAID and records:
                    stored = self.stored_statuses([r.external_id for r in records])
                    records = [r for r in records if r.external_id in stored]
                for record in records:
                    if record.marketplace_updated_at and (newest is None or record.marketplace_updated_at > newest):
                        newest = record.marketplace_updated_at
                if page.next or number < len(sweeps):
                    yield Page(records=records, cursor=dict(cursor), bad_records=bad)
                    continue
                done = {
                    "date_modification": newest.astimezone(UTC).isoformat() if newest else None,
                    "last_sweep_at": now.isoformat(),
                    "safety_sweep_at": now.isoformat() if safety_due or last_safety is None else cursor.get("safety_sweep_at"),
                }
                yield Page(records=records, cursor={k: v for k, v in done.items() if v}, bad_records=bad)


class ListingsAdapter:
    def __init__(self, client: BackMarketClient) -> None:
        self.client = client

    def fetch_one(self, external_id: str) -> ListingRecord:
        return listing_record(self.client.listing_get(external_id))

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        if not sweep_due(cursor):
            yield sweep_skipped(cursor)
            return
        started = timezone.now()
        complete = True
        for page, records, bad in read_ahead(parsed_pages(self.client.listing_pages(), listing_record)):
            complete = complete and not bad
            last = not page.next
            yield Page(
                records=records,
                cursor={"last_sweep_at": started.isoformat(), "count": page.count, SWEPT_AT: started.isoformat()} if last
                else {k: v for k, v in cursor.items() if k != SWEPT_AT},
                bad_records=bad,
                # A sweep with unreadable records is not complete: nothing is marked removed on its account.
                sweep_started_at=started if last and complete else None,
            )


class ShipmentsAdapter:
    """BackShip deliveries (``kind = "delivery"``) or returns: each label downloaded once.

    ``labels_stored(kind, external_ids)`` tells which of the shipments already
    have their label file, so it is not fetched again.
    """

    kind = "delivery"

    def __init__(self, client: BackMarketClient, *, start: datetime,
                 labels_stored: Callable[[str, list[str]], set[str]]) -> None:
        self.client = client
        self.start = start
        self.labels_stored = labels_stored

    def _list(self, **params) -> Iterator:
        if self.kind == "delivery":
            return self.client.delivery_pages(**params)
        return self.client.return_pages(**params)

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        """Shipments created since the last sweep (less a day) each tick; the last 30 days again on the catalog
        sweep's cadence (``sweep_due``), since the list filters by creation and a state change of an older
        shipment shows only there. Each tick thus costs what the day's shipments cost, not the month's."""
        started = timezone.now()
        last_sweep = parse_datetime(cursor.get("last_sweep_at"))
        resweep = sweep_due(cursor)
        if last_sweep is None:
            start = self.start
        elif resweep:
            start = min(last_sweep - timedelta(days=1), started - BACKSHIP_RESWEEP)
        else:
            start = last_sweep - timedelta(days=1)
        swept_at = started.isoformat() if resweep else cursor.get(SWEPT_AT)
        done = {"last_sweep_at": started.isoformat(), **({SWEPT_AT: swept_at} if swept_at else {})}
        for page in self._list(start_date=start.astimezone(UTC).isoformat(timespec="seconds")):
            records, bad = self._records(page.results)
            last = not page.next
            yield Page(records=records, cursor=done if last else dict(cursor), bad_records=bad)

    def fetch_one(self, external_id: str) -> ShipmentRecord:
        data = self.client.delivery_get(external_id) if self.kind == "delivery" else self.client.return_get(external_id)
        record = shipment_record(data, kind=self.kind)
        self._fetch_labels([record])
        return record

    def for_order(self, order_id: str) -> list[ShipmentRecord]:
        """The shipments of one order (a BackShip order re-read after a write creates its label)."""
        records: list[ShipmentRecord] = []
        for page in self._list(order_id=order_id):
            records += self._records(page.results)[0]
        return records

    def _records(self, results: list) -> tuple[list[ShipmentRecord], list[BadRecord]]:
        records, bad = [], []
        for data in results:
            try:
                records.append(shipment_record(data, kind=self.kind))
            except BadRecord as exc:
                bad.append(exc)
        self._fetch_labels(records)
        return records, bad

    def _fetch_labels(self, records: list[ShipmentRecord]) -> None:
        """Download the labels not stored yet; a failure is noted on the record and retried next time."""
        if not records:
            return
        have = self.labels_stored(self.kind, [r.external_id for r in records])
        for record in records:
            if record.external_id in have or not record.label_url:
                continue
            try:
                record.label_content = self.client.label_download(record.label_url)
            except MarketplaceError as exc:
                record.label_error = str(exc)[:300]


class ReturnsAdapter(ShipmentsAdapter):
    kind = "return"
