"""The wiring table: every (marketplace, entity) the engine syncs, written once as code.

Each row binds a marketplace adapter (which only fetches: it is given a client
and, as plain values or callables, what it needs to know of the database) to
the app service that stores its pages, the service that marks swept records
removed, and an admission check (a reason not to call the marketplace now).

The runner (a page at a time) and ``record_refresh`` (one record by id) read
this table; nothing outside ``marketsync/sync/`` imports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any, Protocol

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from backship.selectors import shipment_external_ids_with_label
from backship.services import shipment_upsert_page
from connections.budget import budget_admission, budget_tight
from inventory.services import inventory_mark_removed, inventory_upsert_lots
from listings.services import listing_mark_removed, listing_upsert_page
from marketsync.marketplaces import SUPPORTED_ENTITIES, Entity, Marketplace
from marketsync.marketplaces.backmarket import adapters as backmarket_adapters
from marketsync.marketplaces.bricklink import adapters as bricklink_adapters
from marketsync.marketplaces.brickowl import adapters as brickowl_adapters
from marketsync.marketplaces.refurbed import adapters as refurbed_adapters
from marketsync.sync.clients import marketplace_client
from marketsync.sync.errors import InvalidRequest
from marketsync.sync.pages import Page
from marketsync.sync.upsert import UpsertResult
from offers.services import market_offer_mark_removed, market_offer_upsert_page, offer_mark_removed, offer_upsert_page
from orders.selectors import order_ids_by_marketplace_status, order_list_marks, order_marketplace_statuses
from orders.services import backmarket_order_upsert_page, brick_order_upsert_page, order_upsert_page

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Adapter(Protocol):
    def pages(self, *, cursor: dict) -> Iterator[Page]: ...


def first_sync_start(options: dict | None) -> datetime:
    """Where a first sync starts: the connection option ``sync_start_date``, else ``SYNC_START_DATE``, else
    ``SYNC_INITIAL_LOOKBACK_DAYS`` back. A date means its midnight UTC; a time without an offset is UTC."""
    configured = (options or {}).get("sync_start_date") or settings.SYNC_START_DATE
    if not configured:
        return timezone.now() - timedelta(days=settings.SYNC_INITIAL_LOOKBACK_DAYS)
    text = str(configured).strip()
    try:
        # Only the extended ISO form: Python also reads "11111111" as a date, which nobody means.
        moment = parse_datetime(text) if ISO_DATE.match(text) and len(text) <= 40 else None
        if moment is None and ISO_DATE.fullmatch(text) and parse_date(text) is not None:
            moment = datetime.combine(parse_date(text), time.min)
    except ValueError:
        moment = None
    if moment is None:
        source = "the connection's sync_start_date option" if (options or {}).get("sync_start_date") else "SYNC_START_DATE"
        raise InvalidRequest(f"The first-sync start date {text[:40]!r} ({source}) is not an ISO date such as 2026-01-31.")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class EntityWiring:
    marketplace: Marketplace
    entity: Entity
    # The adapter of one connection, on its client. It yields pages; where it can read one record by id it has
    # ``fetch_one(external_id)``.
    adapter: Callable[[Any, Any], Adapter]
    # Stores one page's records (``connection=``, ``records=``); returns counts. Runs inside the page's transaction.
    store: Callable[..., UpsertResult]
    # After a complete sweep: mark what was not seen since ``seen_before`` as removed; returns how many.
    mark_removed: Callable[..., int] | None = None
    # Before a run or a single read: a reason not to call the marketplace now, or None.
    admission: Callable[[Any, str], str | None] | None = None
    # How one record re-read by id is stored, where it differs from a page (brick stock movements say "refresh").
    store_refreshed: Callable[..., UpsertResult] | None = None
    # What else to re-read with one record (a BackShip order's deliveries, whose labels a write creates).
    after_refresh: Callable[[Any, httpx.Client, Any], None] | None = None

    def build_adapter(self, connection, http: httpx.Client, **client_options: Any) -> Adapter:
        return self.adapter(connection, marketplace_client(connection, http, purpose=self.entity, **client_options))


# --- what adapters are given ---------------------------------------------------------------------------


def _refurbed_orders(connection, client) -> refurbed_adapters.OrdersAdapter:
    return refurbed_adapters.OrdersAdapter(
        client, start=first_sync_start(connection.options),
        stored_ids=partial(order_ids_by_marketplace_status, connection=connection),
    )


def _backmarket_orders(connection, client) -> backmarket_adapters.OrdersAdapter:
    return backmarket_adapters.OrdersAdapter(
        client, start=first_sync_start(connection.options),
        stored_statuses=lambda ids: order_marketplace_statuses(connection=connection, external_ids=ids),
    )


def _backmarket_shipments(adapter_class):
    def build(connection, client):
        return adapter_class(
            client, start=first_sync_start(connection.options),
            labels_stored=lambda kind, ids: shipment_external_ids_with_label(connection=connection, kind=kind, external_ids=ids),
        )

    return build


def _backmarket_order_deliveries(connection, http: httpx.Client, record) -> None:
    """A BackShip order's deliveries, re-read with it: accepting a line creates the label."""
    if not (record.details or {}).get("is_backship"):
        return
    deliveries = BACKMARKET_DELIVERIES.build_adapter(connection, http)
    shipment_upsert_page(connection=connection, records=deliveries.for_order(record.external_id))


def _bricklink_orders(connection, client) -> bricklink_adapters.OrdersAdapter:
    return bricklink_adapters.OrdersAdapter(
        client,
        start=first_sync_start(connection.options),
        list_marks=lambda ids: order_list_marks(connection=connection, external_ids=ids),
        stored_ids=partial(order_ids_by_marketplace_status, connection=connection),
        budget_tight=lambda: budget_tight(connection=connection),
    )


def _brickowl_orders(connection, client) -> brickowl_adapters.OrdersAdapter:
    return brickowl_adapters.OrdersAdapter(
        client,
        start=first_sync_start(connection.options),
        stored_statuses=lambda ids: order_marketplace_statuses(connection=connection, external_ids=ids),
        stored_ids=partial(order_ids_by_marketplace_status, connection=connection),
        list_marks=lambda ids: order_list_marks(connection=connection, external_ids=ids),
    )


# --- the table -----------------------------------------------------------------------------------------

M, E = Marketplace, Entity

BACKMARKET_DELIVERIES = EntityWiring(
    M.BACKMARKET, E.DELIVERIES, adapter=_backmarket_shipments(backmarket_adapters.ShipmentsAdapter), store=shipment_upsert_page,
)

WIRING: tuple[EntityWiring, ...] = (
    EntityWiring(M.REFURBED, E.ORDERS, adapter=_refurbed_orders, store=order_upsert_page),
    EntityWiring(M.REFURBED, E.OFFERS, adapter=lambda connection, client: refurbed_adapters.OffersAdapter(client),
                 store=offer_upsert_page, mark_removed=offer_mark_removed),
    EntityWiring(M.REFURBED, E.MARKET_OFFERS, adapter=lambda connection, client: refurbed_adapters.MarketOffersAdapter(client),
                 store=market_offer_upsert_page, mark_removed=market_offer_mark_removed),

    EntityWiring(M.BACKMARKET, E.ORDERS, store=backmarket_order_upsert_page, after_refresh=_backmarket_order_deliveries,
                 adapter=_backmarket_orders),
    EntityWiring(M.BACKMARKET, E.LISTINGS, adapter=lambda connection, client: backmarket_adapters.ListingsAdapter(client),
                 store=listing_upsert_page, mark_removed=listing_mark_removed),
    BACKMARKET_DELIVERIES,
    EntityWiring(M.BACKMARKET, E.RETURNS, adapter=_backmarket_shipments(backmarket_adapters.ReturnsAdapter), store=shipment_upsert_page),

    EntityWiring(M.BRICKLINK, E.ORDERS, adapter=_bricklink_orders, store=brick_order_upsert_page, admission=budget_admission,
                 store_refreshed=partial(brick_order_upsert_page, source="refresh")),
    EntityWiring(M.BRICKLINK, E.INVENTORY, adapter=lambda connection, client: bricklink_adapters.InventoryAdapter(client),
                 store=inventory_upsert_lots, mark_removed=inventory_mark_removed, admission=budget_admission),

    EntityWiring(M.BRICKOWL, E.ORDERS, adapter=_brickowl_orders, store=brick_order_upsert_page,
                 store_refreshed=partial(brick_order_upsert_page, source="refresh")),
    EntityWiring(M.BRICKOWL, E.INVENTORY, adapter=lambda connection, client: brickowl_adapters.InventoryAdapter(client),
                 store=inventory_upsert_lots, mark_removed=inventory_mark_removed),
)

_BY_KEY = {(w.marketplace, w.entity): w for w in WIRING}

# The table and each marketplace's declared entities (which connections create sync rows for) must agree.
assert set(_BY_KEY) == {(m, e) for m, entities in SUPPORTED_ENTITIES.items() for e in entities}, "wiring table drift"


def entity_wiring(marketplace: str, entity: str) -> EntityWiring | None:
    try:
        return _BY_KEY.get((Marketplace(marketplace), Entity(entity)))
    except ValueError:
        return None
