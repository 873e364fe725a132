"""Writes of offers and market offers: page upserts and removal after a complete sweep."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from connections.models import Connection
from inventory.services import stock_link_imported
from marketsync.sync.records import MarketOfferRecord, OfferRecord
from marketsync.sync.upsert import UpsertResult, bulk_upsert, mark_unseen_removed
from offers.models import MarketOffer, Offer

OFFER_FIELDS = [
    "sku", "version", "instance_id", "instance_name", "state", "grading", "warranty", "stock", "shipping_profile_id",
    "shipping_profile_name", "taxation", "reference_currency_code", "reference_price", "reference_min_price",
    "battery_condition", "marketplace_created_at", "raw",
]
MARKET_OFFER_FIELDS = OFFER_FIELDS + [
    "offer_external_id", "market_code", "market_name", "is_site_market", "is_calculated", "currency", "price",
    "min_price", "visibility", "buybox_state",
]


def _upsert_seen(model, fields: list[str], *, connection: Connection, records: list) -> tuple[UpsertResult, list]:
    """Store a page of a swept model; each row is no longer removed, and stamped seen now when it changed (an
    unchanged row is not rewritten: the sweep's ``seen`` pks say it was listed). Returns the stored rows too.

    Prices are rounded to their columns' cents by the upsert, which also skips (and names) an offer whose value
    does not fit its column.
    """
    now = timezone.now()
    rows = [
        model(organization_id=connection.organization_id, connection=connection, external_id=r.external_id,
              last_seen_at=now, removed_at=None, **{f: getattr(r, f) for f in fields})
        for r in records
    ]
    return bulk_upsert(model, rows, unique_fields=["connection", "external_id"],
                       update_fields=fields + ["last_seen_at", "removed_at"], stamps=["last_seen_at"])


def offer_upsert_page(*, connection: Connection, records: list[OfferRecord]) -> UpsertResult:
    """Store a page of offers (two or three queries whatever the page size), then link each to the stock item of
    its SKU (``inventory.services.stock_link_imported``)."""
    result, stored = _upsert_seen(Offer, OFFER_FIELDS, connection=connection, records=records)
    stock_link_imported(connection=connection, row_ids=[row.pk for row in stored])
    return result


def market_offer_upsert_page(*, connection: Connection, records: list[MarketOfferRecord]) -> UpsertResult:
    return _upsert_seen(MarketOffer, MARKET_OFFER_FIELDS, connection=connection, records=records)[0]


def offer_mark_removed(*, connection: Connection, seen_before: datetime, seen: dict | None = None) -> int:
    """After a complete sweep: offers not seen since it started are marked removed (kept, not deleted)."""
    return mark_unseen_removed(Offer, connection=connection, seen_before=seen_before, seen=seen)


def market_offer_mark_removed(*, connection: Connection, seen_before: datetime, seen: dict | None = None) -> int:
    return mark_unseen_removed(MarketOffer, connection=connection, seen_before=seen_before, seen=seen)
