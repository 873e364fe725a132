"""Back Market's entities for the sync engine: orders, listings, BackShip deliveries and returns.

- orders: incremental by ``date_modification`` (≥), starting a lookback window
  before the newest modification seen; the first sync starts from the
  configured start date. The cursor moves only after a complete sweep (the
  list is not sorted by modification), so an interrupted sweep repeats. Once a
  day a ``date_creation`` sweep of the last 60 days runs first, as a safety net.
- listings: a full sweep (no update filter); what a complete sweep no longer
  returns is marked removed.
- deliveries / returns: re-swept over the last 30 days (new rows, pickups,
  hub scans), each label downloaded once; a label that fails is retried on the
  next tick without holding the rest back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
from django.conf import settings
from django.utils import timezone

from marketsync.marketplaces import Entity, Marketplace
from marketsync.marketplaces.backmarket.client import BackMarketClient, parse_datetime
from marketsync.marketplaces.backmarket.mapping import (
    ShipmentRecord,
    listing_record,
    order_record,
    shipment_record,
)
from marketsync.sync.clients import marketplace_client
from marketsync.sync.errors import BadRecord, MarketplaceError
from marketsync.sync.registry import EntitySpec, Page, UpsertResult, register

BACKSHIP_RESWEEP = timedelta(days=30)
SAFETY_SWEEP_EVERY = timedelta(days=1)
SAFETY_SWEEP_SPAN = timedelta(days=60)


def initial_start(connection) -> datetime:
    """Where a first sync starts: the connection's ``sync_start_date`` option, SYNC_START_DATE, or N days back."""
    configured = (connection.options or {}).get("sync_start_date") or settings.SYNC_START_DATE
    if configured:
        return parse_datetime(configured)
    return timezone.now() - timedelta(days=settings.SYNC_INITIAL_LOOKBACK_DAYS)


class OrdersAdapter:
    def __init__(self, connection, http: httpx.Client) -> None:
        self.connection = connection
        self.client = marketplace_client(connection, http)

    def since(self, cursor: dict) -> datetime:
        seen = parse_datetime(cursor.get("date_modification"))
        if seen is None:
            return initial_start(self.connection)
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
            sweeps.append({"date_creation": max(initial_start(self.connection), now - SAFETY_SWEEP_SPAN)})
        sweeps.append({"date_modification": self.since(cursor)})
        for number, params in enumerate(sweeps, start=1):
            for page in self.client.order_pages(**params):
                records, bad = [], []
                for data in page.results:
                    try:
                        record = order_record(data)
                    except BadRecord as exc:
                        bad.append(exc)
                        continue
                    records.append(record)
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
    def __init__(self, connection, http: httpx.Client) -> None:
        self.client = marketplace_client(connection, http)

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        started = timezone.now()
        complete = True
        for page in self.client.listing_pages():
            records, bad = [], []
            for data in page.results:
                try:
                    records.append(listing_record(data))
                except BadRecord as exc:
                    bad.append(exc)
            complete = complete and not bad
            last = not page.next
            yield Page(
                records=records,
                cursor={"last_sweep_at": started.isoformat(), "count": page.count} if last else dict(cursor),
                bad_records=bad,
                # A sweep with unreadable records is not complete: nothing is marked removed on its account.
                sweep_started_at=started if last and complete else None,
            )


class ShipmentsAdapter:
    kind = "delivery"

    def __init__(self, connection, http: httpx.Client) -> None:
        self.connection = connection
        self.client = marketplace_client(connection, http)

    def _list(self, **params) -> Iterator:
        if self.kind == "delivery":
            return self.client.delivery_pages(**params)
        return self.client.return_pages(**params)

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        started = timezone.now()
        last_sweep = parse_datetime(cursor.get("last_sweep_at"))
        if last_sweep is None:
            start = initial_start(self.connection)
        else:
            start = min(last_sweep - timedelta(days=1), started - BACKSHIP_RESWEEP)
        for page in self._list(start_date=start.astimezone(UTC).isoformat(timespec="seconds")):
            records, bad = [], []
            for data in page.results:
                try:
                    records.append(shipment_record(data, kind=self.kind))
                except BadRecord as exc:
                    bad.append(exc)
            fetch_labels(self.client, self.connection, records)
            last = not page.next
            yield Page(records=records, cursor={"last_sweep_at": started.isoformat()} if last else dict(cursor), bad_records=bad)


class ReturnsAdapter(ShipmentsAdapter):
    kind = "return"


def fetch_labels(client: BackMarketClient, connection, records: list[ShipmentRecord]) -> None:
    """Download the labels not stored yet; a failure is noted on the record and retried next time."""
    from backship.selectors import shipment_external_ids_with_label

    if not records:
        return
    have = shipment_external_ids_with_label(
        connection=connection, kind=records[0].kind, external_ids=[r.external_id for r in records]
    )
    for record in records:
        if record.external_id in have or not record.label_url:
            continue
        try:
            record.label_content = client.label_download(record.label_url)
        except MarketplaceError as exc:
            record.label_error = str(exc)[:300]


def _refresh_order(connection, http: httpx.Client, external_id: str) -> UpsertResult:
    from orders.services import order_upsert_page

    client = marketplace_client(connection, http)
    record = order_record(client.order_get(external_id))
    return order_upsert_page(connection=connection, records=[record])


def _refresh_listing(connection, http: httpx.Client, external_id: str) -> UpsertResult:
    client = marketplace_client(connection, http)
    return _listing_upsert(connection=connection, records=[listing_record(client.listing_get(external_id))])


def _refresh_shipment(kind: str):
    def refresh(connection, http: httpx.Client, external_id: str) -> UpsertResult:
        from backship.services import shipment_upsert_page

        client = marketplace_client(connection, http)
        data = client.delivery_get(external_id) if kind == "delivery" else client.return_get(external_id)
        record = shipment_record(data, kind=kind)
        fetch_labels(client, connection, [record])
        return shipment_upsert_page(connection=connection, records=[record])

    return refresh


def _order_upsert(*, connection, records):
    from backship.services import shipment_link_orders
    from orders.services import order_upsert_page

    result = order_upsert_page(connection=connection, records=records)
    shipment_link_orders(connection=connection, order_external_ids=[r.external_id for r in records])
    return result


def _listing_upsert(*, connection, records):
    from listings.services import listing_upsert_page

    return listing_upsert_page(connection=connection, records=records)


def _listing_mark_removed(*, connection, seen_before):
    from listings.services import listing_mark_removed

    return listing_mark_removed(connection=connection, seen_before=seen_before)


def _shipment_upsert(*, connection, records):
    from backship.services import shipment_upsert_page

    return shipment_upsert_page(connection=connection, records=records)


register(EntitySpec(
    marketplace=Marketplace.BACKMARKET, entity=Entity.ORDERS, adapter=OrdersAdapter, upsert_page=_order_upsert,
    refresh_one=_refresh_order,
))
register(EntitySpec(
    marketplace=Marketplace.BACKMARKET, entity=Entity.LISTINGS, adapter=ListingsAdapter, upsert_page=_listing_upsert,
    mark_removed=_listing_mark_removed, refresh_one=_refresh_listing,
))
register(EntitySpec(
    marketplace=Marketplace.BACKMARKET, entity=Entity.DELIVERIES, adapter=ShipmentsAdapter, upsert_page=_shipment_upsert,
    refresh_one=_refresh_shipment("delivery"),
))
register(EntitySpec(
    marketplace=Marketplace.BACKMARKET, entity=Entity.RETURNS, adapter=ReturnsAdapter, upsert_page=_shipment_upsert,
    refresh_one=_refresh_shipment("return"),
))
