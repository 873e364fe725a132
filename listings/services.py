"""Back Market listings: storage from the sync.

The writes (one listing's update, bulk CSV tasks) are in ``listings/writes.py``.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from connections.models import Connection
from inventory.services import stock_link_imported
from listings.models import Listing
from marketsync.marketplaces.backmarket.mapping import ListingRecord
from marketsync.sync.upsert import UpsertResult, bulk_upsert, mark_unseen_removed

LISTING_FIELDS = [
    "legacy_id", "product_id", "sku", "title", "price", "min_price", "currency", "quantity", "publication_state", "grade",
    "warranty_delay", "comment", "shipping_options", "details", "raw",
]


# ------------------------------------------------------------------ storage (sync)
def listing_upsert_page(*, connection: Connection, records: list[ListingRecord]) -> UpsertResult:
    """Store a page of listings (no longer removed; stamped seen when changed, an unchanged one is not rewritten),
    and linked to the stock item of its SKU (``inventory.services.stock_link_imported``)."""
    now = timezone.now()
    rows = [
        Listing(
            organization_id=connection.organization_id,
            connection=connection,
            external_id=record.external_id,
            last_seen_at=now,
            removed_at=None,
            **{f: getattr(record, f) for f in LISTING_FIELDS},
        )
        for record in records
    ]
    result, stored = bulk_upsert(
        Listing, rows, unique_fields=["connection", "external_id"],
        update_fields=LISTING_FIELDS + ["last_seen_at", "removed_at", "last_synced_at"], stamps=["last_seen_at"],
    )
    stock_link_imported(connection=connection, row_ids=[row.pk for row in stored])
    return result


def listing_mark_removed(*, connection: Connection, seen_before: datetime, seen: dict | None = None) -> int:
    """After a complete sweep: listings it did not return are marked removed (kept, hidden by default)."""
    return mark_unseen_removed(Listing, connection=connection, seen_before=seen_before, seen=seen)
