"""Refurbed's adapters: each entity fetched page by page as typed records, and one record by id.

Orders (Refurbed has no update-time filter):
- first sync: ``ListOrders`` with ``released_at >= start`` (the first-sync start date
  the wiring table gives), sorted by id ascending, ``starting_after``
  the last id; the cursor keeps the last id so a crash resumes there;
- each tick after: new orders released since the highest ``released_at`` seen
  minus ``SYNC_LOOKBACK_SECONDS``, then a paced re-read of the orders stored here
  that can still change (``due_ids``): open ones last read more than
  ``REFURBED_OPEN_ORDER_REFRESH_SECONDS`` ago, then settling ones more than
  ``REFURBED_SHIPPED_REFRESH_SECONDS`` ago, least recently read first, at most
  ``REFURBED_REREADS_PER_TICK``, in batches of 100 with the ``id`` filter. A tick
  with nothing due costs one call whatever the number of open orders. An order's state is computed from its items' states;
  REJECTED, CANCELLED and RETURNED items are final, a SHIPPED item can still be
  returned. So REJECTED, CANCELLED, UNFULFILLED and RETURNED orders are final
  (``FINAL_STATES``); SHIPPED, FULFILLED (shipped and returned items) and
  PARTIALLY_FULFILLED (shipped or returned, and rejected or cancelled items) still
  change by a return and are re-read while released within
  ``REFURBED_SHIPPED_WINDOW_DAYS`` (``SETTLING_STATES``); every other state is open.
Offers and market offers: full sweeps by id; the last page carries
``sweep_started_at`` and rows not seen since are marked removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from marketsync.marketplaces.refurbed.client import PAGE_LIMIT, RefurbedClient
from marketsync.marketplaces.refurbed.mapping import (
    market_offer_record,
    offer_record,
    order_record,
    parse_page,
)
from marketsync.sync.pages import SWEPT_AT, Page, read_ahead, sweep_due, sweep_skipped
from marketsync.sync.records import MarketOfferRecord, OfferRecord, OrderRecord


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# Freshness: order states Refurbed no longer changes, and states that still change (a return) for a while.
FINAL_STATES = ("REJECTED", "CANCELLED", "UNFULFILLED", "RETURNED")
SETTLING_STATES = ("SHIPPED", "FULFILLED", "PARTIALLY_FULFILLED")


def numeric_order(ids) -> list[str]:
    return sorted(ids, key=lambda v: (len(v), v))


class OrdersAdapter:
    """``stored_ids(**filters)``: ids of stored orders by marketplace state
    (``orders.selectors.order_ids_by_marketplace_status``); without it nothing is re-read."""

    def __init__(self, client: RefurbedClient, *, start: datetime, stored_ids: Callable[..., list[str]] | None = None,
                 lookback_seconds: int | None = None) -> None:
        self.client = client
        self.start = start
        self.stored_ids = stored_ids
        self.lookback = timedelta(seconds=settings.SYNC_LOOKBACK_SECONDS if lookback_seconds is None else lookback_seconds)

    def open_ids(self) -> list[str]:
        """The stored orders that can still change, numeric ids in numeric order: open ones, and settling ones
        released within the window."""
        if self.stored_ids is None:
            return []
        ids = set(self.stored_ids(exclude_states=FINAL_STATES + SETTLING_STATES))
        window = settings.REFURBED_SHIPPED_WINDOW_DAYS
        if window > 0:
            ids.update(self.stored_ids(states=SETTLING_STATES, placed_since=timezone.now() - timedelta(days=window)))
        return numeric_order(ids)

    def due_ids(self) -> list[str]:
        """The stored orders whose paced re-read is due this tick, least recently read first, open ones first, at
        most ``REFURBED_REREADS_PER_TICK`` (the per-tick call budget: one call per 100)."""
        cap = settings.REFURBED_REREADS_PER_TICK
        if self.stored_ids is None or cap <= 0:
            return []
        now = timezone.now()
        due = list(self.stored_ids(exclude_states=FINAL_STATES + SETTLING_STATES, limit=cap,
                                   read_before=now - timedelta(seconds=settings.REFURBED_OPEN_ORDER_REFRESH_SECONDS)))
        window = settings.REFURBED_SHIPPED_WINDOW_DAYS
        if window > 0 and len(due) < cap:
            due += self.stored_ids(states=SETTLING_STATES, placed_since=now - timedelta(days=window), limit=cap - len(due),
                                   read_before=now - timedelta(seconds=settings.REFURBED_SHIPPED_REFRESH_SECONDS))
        return due

    def _fetch(self, *, filter: dict, after: str | None, limit: int = PAGE_LIMIT):
        rows, has_more = self.client.list_orders(filter=filter, starting_after=after, limit=limit)
        records, bad = parse_page(rows, order_record)
        last_id = str(rows[-1].get("id")) if rows and isinstance(rows[-1], dict) and rows[-1].get("id") else after
        newest = max((r.placed_at for r in records if r.placed_at), default=None)
        return records, bad, has_more and bool(rows), last_id, newest

    def fetch_one(self, external_id: str) -> OrderRecord:
        return order_record(self.client.get_order(external_id))

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        if cursor.get("phase") != "incremental":
            yield from self._backfill(cursor)
        else:
            yield from self._incremental(cursor)

    def _pages_from(self, filter: dict, after: str | None) -> Iterator[tuple]:
        """Fetched pages of one listing, the next one requested while the caller stores the current one."""
        return read_ahead(self._listing(filter, after))

    def _listing(self, filter: dict, after: str | None) -> Iterator[tuple]:
        while True:
            fetched = self._fetch(filter=filter, after=after)
            yield fetched
            if not fetched[2]:
                return
            after = fetched[3]

    def _backfill(self, cursor: dict) -> Iterator[Page]:
        start = cursor.get("start") or rfc3339(self.start)
        high = cursor.get("high_water")
        for records, bad, has_more, after, newest in self._pages_from({"released_at": {"ge": start}}, cursor.get("after_id")):
            if newest and (not high or newest > parse_iso(high)):
                high = newest.isoformat()
            if has_more:
                yield Page(records, {"phase": "backfill", "start": start, "after_id": after, "high_water": high}, bad)
                continue
            yield Page(records, {"phase": "incremental", "high_water": high or start}, bad)
            return

    def _incremental(self, cursor: dict) -> Iterator[Page]:
        high = cursor["high_water"]
        since = cursor.get("since") or rfc3339(parse_iso(high) - self.lookback)
        new_high = cursor.get("new_high") or high
        seen: set[str] = set()
        state = {"phase": "incremental", "high_water": high, "since": since, "new_high": new_high}
        if not cursor.get("new_done"):
            for records, bad, has_more, after, newest in self._pages_from({"released_at": {"ge": since}}, cursor.get("after_id")):
                seen.update(r.external_id for r in records)
                if newest and newest > parse_iso(new_high):
                    new_high = newest.isoformat()
                state.update(new_high=new_high, after_id=after)
                if has_more:
                    yield Page(records, dict(state), bad)
                    continue
                break
            state.pop("after_id", None)
            state["new_done"] = True
            pending = (records, bad)
        else:
            pending = None
        # A run that stopped part-way needs no marker: the batches it stored were stamped read, so no longer due.
        ids = [i for i in self.due_ids() if i not in seen]
        batches = [ids[i:i + PAGE_LIMIT] for i in range(0, len(ids), PAGE_LIMIT)]
        final = {"phase": "incremental", "high_water": new_high}
        if pending is not None:
            yield Page(pending[0], dict(state) if batches else final, pending[1])
        for n, batch in enumerate(batches):
            records, bad, _, _, _ = self._fetch(filter={"id": {"any_of": batch}}, after=None, limit=len(batch))
            last = n == len(batches) - 1
            yield Page(records, final if last else dict(state), bad)
        if pending is None and not batches:
            yield Page([], final)


class SweepAdapter:
    """A full sweep of a list RPC by id; resumable; the last page triggers removal of unseen rows."""

    def __init__(self, fetch: Callable, parse: Callable, key_of: Callable[[dict], object]) -> None:
        self.fetch, self.parse, self.key_of = fetch, parse, key_of

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        if not sweep_due(cursor):
            yield sweep_skipped(cursor)
            return
        started = cursor.get("sweep_started_at") or timezone.now().isoformat()
        after = cursor.get("after")
        # A record that did not parse was not stored as seen: a sweep with one removes nothing on its account. Nor
        # does a sweep resumed from an earlier run's cursor: the rows that run read unchanged were not rewritten,
        # and only the run that read them knew them as listed (the next whole sweep removes what is gone).
        incomplete = bool(cursor.get("incomplete")) or "sweep_started_at" in cursor
        while True:
            rows, has_more = self.fetch(starting_after=after)
            records, bad = parse_page(rows, self.parse)
            incomplete = incomplete or bool(bad)
            if rows:
                after = self.key_of(rows[-1])
            if has_more and rows:
                state = {"sweep_started_at": started, "after": after}
                yield Page(records, {**state, "incomplete": True} if incomplete else state, bad)
                continue
            yield Page(records, {SWEPT_AT: started}, bad, sweep_started_at=None if incomplete else datetime.fromisoformat(started))
            return


def _market_offer_cursor(row: dict) -> dict:
    identifier = row.get("id") or {}
    return {"offer_id": {"id": str((identifier.get("offer_id") or {}).get("id"))}, "market_code": identifier.get("market_code")}


class OffersAdapter(SweepAdapter):
    def __init__(self, client: RefurbedClient) -> None:
        super().__init__(client.list_offers, offer_record, lambda row: str(row.get("id")))
        self.client = client

    def fetch_one(self, external_id: str) -> OfferRecord:
        return offer_record(self.client.get_offer(id=external_id))


class MarketOffersAdapter(SweepAdapter):
    def __init__(self, client: RefurbedClient) -> None:
        super().__init__(client.list_market_offers, market_offer_record, _market_offer_cursor)
        self.client = client

    def fetch_one(self, external_id: str) -> MarketOfferRecord:
        """``external_id`` is ``offerId:marketCode``, as stored."""
        offer_id, _, market_code = str(external_id).partition(":")
        return market_offer_record(self.client.get_market_offer(offer_id=offer_id, market_code=market_code))
