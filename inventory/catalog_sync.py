"""Refresh Brick Owl's catalog tables from its API, then store what they now translate.

One run (the beat task, or ``manage.py inventory catalog-refresh``):

1. reads ``/catalog/color_list`` (1 call) when the stored list is older than
   ``BRICKOWL_CATALOG_REFRESH_SECONDS`` or was never read;
2. looks up at most ``BRICKOWL_ID_LOOKUPS_PER_RUN`` BOIDs with
   ``/catalog/id_lookup`` (1 call each): the queued ones first, then answers
   older than the refresh age. A first import of a large store is spread over
   runs, its untranslated lots waiting in the unmapped queue until their turn;
3. stores the waiting lots and updates the order items that now translate,
   and retries the orders they could not reserve for.

Brick Owl's catalog is the same for every store: the calls go through the key
of any enabled Brick Owl connection that is not refused, and the tables are
global. Data flows one way: Brick Owl -> client -> these tables -> the storing
services.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from connections.models import Connection, EntitySync, Organization
from inventory.catalog import catalog_apply, catalog_translate, unmapped_lot_records, unmapped_order_items
from inventory.models import CatalogColor, CatalogItem, UnmappedLot
from inventory.services import (
    StockConflict,
    inventory_upsert_lots,
    reservation_retry_unmatched,
    stock_lock_organization,
)
from marketsync.marketplaces.brickowl.mapping import color_entries, lookup_bricklink_number
from marketsync.sync.clients import marketplace_client
from marketsync.sync.errors import BadResponse, MarketplaceError, NotFound
from marketsync.sync.http import build_http_client
from marketsync.sync.upsert import bulk_upsert
from orders.models import OrderItem

logger = logging.getLogger(__name__)
ORDER_ITEM_CHUNK = 500


@dataclass
class CatalogRefreshResult:
    connection_id: int | None = None
    colors: int = 0  # colours read this run (0: the stored list was fresh)
    looked_up: int = 0  # id_lookup calls answered
    mapped: int = 0  # of those, BOIDs Brick Owl names a BrickLink number for
    lots_stored: int = 0  # waiting lots stored as lots, now translated
    order_items_mapped: int = 0
    pending_left: int = 0  # BOIDs still queued for a later run
    error: str = ""

    def summary(self) -> str:
        text = (f"colours read {self.colors}, BOIDs looked up {self.looked_up} ({self.mapped} mapped), "
                f"lots stored {self.lots_stored}, order items mapped {self.order_items_mapped}, "
                f"BOIDs still queued {self.pending_left}")
        return f"{text}; stopped: {self.error}" if self.error else text


def catalog_lookup_connection() -> Connection | None:
    """An enabled Brick Owl connection with a key whose syncs are not refused (any store's key reads the catalog)."""
    refused = EntitySync.objects.filter(connection=OuterRef("pk"), error_kind=EntitySync.ErrorKind.AUTH)
    return (
        Connection.objects.filter(marketplace="brickowl", enabled=True).exclude(credentials_encrypted="")
        .exclude(Exists(refused)).order_by("pk").first()
    )


def catalog_colors_due(*, now=None) -> bool:
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.BRICKOWL_CATALOG_REFRESH_SECONDS)
    return not CatalogColor.objects.filter(refreshed_at__gte=cutoff).exists()


def catalog_colors_store(*, data: dict, now=None) -> int:
    """Store ``/catalog/color_list``: every colour with the BrickLink ids Brick Owl lists for it. A colour missing
    from a later list keeps its row (an old translation is better than none) and its old ``refreshed_at``."""
    now = now or timezone.now()
    rows = [CatalogColor(brickowl_color_id=color_id, name=name, bricklink_color_ids=bl_ids, refreshed_at=now)
            for color_id, name, bl_ids in color_entries(data)]
    if not rows:
        raise BadResponse("GET /catalog/color_list listed no colours; the stored list is kept.")
    bulk_upsert(CatalogColor, rows, unique_fields=["brickowl_color_id"], update_fields=["name", "bricklink_color_ids", "refreshed_at"])
    return len(rows)


def catalog_pending_count() -> int:
    return CatalogItem.objects.filter(state=CatalogItem.State.PENDING).count()


def _claim_due_lookups(*, now, limit: int) -> list[CatalogItem]:
    """Claim up to ``limit`` BOIDs to look up: queued first (never tried, then oldest try), then answers older
    than the refresh age (no BrickLink number first). A claim lasts a lease, so two runs never share a BOID."""
    if limit <= 0:
        return []
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    cutoff = now - timedelta(seconds=settings.BRICKOWL_CATALOG_REFRESH_SECONDS)
    picks: list[int] = []
    for qs in (
        CatalogItem.objects.filter(free, state=CatalogItem.State.PENDING).order_by(F("looked_up_at").asc(nulls_first=True), "pk"),
        CatalogItem.objects.filter(free, state=CatalogItem.State.UNMAPPED, looked_up_at__lt=cutoff).order_by("looked_up_at", "pk"),
        CatalogItem.objects.filter(free, state=CatalogItem.State.MAPPED, looked_up_at__lt=cutoff).order_by("looked_up_at", "pk"),
    ):
        picks += list(qs.values_list("pk", flat=True)[: limit - len(picks)])
        if len(picks) >= limit:
            break
    if not picks:
        return []
    # The claim's expiry is this run's token: a random microsecond keeps two runs' tokens apart.
    token = now + timedelta(seconds=settings.SYNC_LEASE_SECONDS, microseconds=random.randrange(1, 1_000_000))
    CatalogItem.objects.filter(free, pk__in=picks).update(claimed_until=token)
    return list(CatalogItem.objects.filter(pk__in=picks, claimed_until=token).order_by("pk"))


def catalog_item_store(*, entry: CatalogItem, answer: dict | None, error: str = "", now=None) -> None:
    """Store one lookup: BrickLink's number (mapped), none (unmapped), or an unreadable answer (stays as it was,
    with the error); the claim is released."""
    now = now or timezone.now()
    changes: dict = {"claimed_until": None, "looked_up_at": now, "lookup_error": error[:255]}
    number = lookup_bricklink_number(answer) if answer is not None else ""
    if answer is not None and not number and entry.state == CatalogItem.State.MAPPED:
        # A re-lookup that names no number keeps the mapping it had: an old translation is better than none.
        changes["lookup_error"] = "the last lookup named no BrickLink number; the earlier one is kept"
    elif answer is not None:
        changes.update(state=CatalogItem.State.MAPPED if number else CatalogItem.State.UNMAPPED, bricklink_item_no=number,
                       ids=answer.get("ids") if isinstance(answer.get("ids"), list) else [])
        if not number:
            changes["lookup_error"] = ("Brick Owl's catalog names no BrickLink number for it" if answer.get("boids")
                                       else "Brick Owl's catalog does not know this BOID")
    CatalogItem.objects.filter(pk=entry.pk).update(**changes)


def catalog_refresh(
    *, connection: Connection | None = None, lookups: int | None = None, transport: httpx.BaseTransport | None = None,
) -> CatalogRefreshResult:
    """One catalog run (see the module's docstring). Marketplace errors end the run early and are reported in
    ``error``; what was read before them is kept."""
    now = timezone.now()
    lookups = settings.BRICKOWL_ID_LOOKUPS_PER_RUN if lookups is None else lookups
    connection = connection or catalog_lookup_connection()
    result = CatalogRefreshResult(connection_id=connection.pk if connection else None)
    if connection is not None:
        try:
            with build_http_client(transport=transport) as http:
                _read_catalog(marketplace_client(connection, http), result=result, now=now, lookups=lookups)
        except MarketplaceError as exc:
            result.error = str(exc)
            logger.warning("Brick Owl catalog run stopped: %s", exc)
    else:
        result.error = "no enabled Brick Owl connection with a working key to read the catalog through"
    result.lots_stored = catalog_store_waiting_lots()
    result.order_items_mapped = catalog_map_order_items()
    result.pending_left = catalog_pending_count()
    return result


def _read_catalog(client, *, result: CatalogRefreshResult, now, lookups: int) -> None:
    if catalog_colors_due(now=now):
        result.colors = catalog_colors_store(data=client.color_list(), now=now)
    claimed = _claim_due_lookups(now=now, limit=lookups)
    try:  # an auth or transient error ends the run: the rest waits for the next one
        while claimed:
            entry = claimed[0]
            try:
                answer = client.id_lookup(entry.boid, item_type=entry.brickowl_type or "Part", id_type="boid")
            except NotFound:
                answer = {"boids": []}
            except BadResponse as exc:
                catalog_item_store(entry=entry, answer=None, error=str(exc), now=now)
                claimed.pop(0)
                continue
            catalog_item_store(entry=entry, answer=answer, now=now)
            claimed.pop(0)
            result.looked_up += 1
            result.mapped += bool(lookup_bricklink_number(answer))
    finally:  # what this run did not get to goes back to the queue at once
        if claimed:
            CatalogItem.objects.filter(pk__in=[e.pk for e in claimed]).update(claimed_until=None)


def catalog_store_waiting_lots() -> int:
    """Store the waiting Brick Owl lots that now translate; the others keep waiting, with today's reason."""
    stored = 0
    connection_ids = UnmappedLot.objects.values_list("connection_id", flat=True).distinct()
    for connection in Connection.objects.filter(pk__in=list(connection_ids)).order_by("pk"):
        records = unmapped_lot_records(connection=connection)
        translations = catalog_translate(records, remember=False)
        ready = [r for r, t in zip(records, translations, strict=True) if t.mapped]
        reasons = {r.external_id: t.problem[:255] for r, t in zip(records, translations, strict=True) if not t.mapped}
        try:
            with transaction.atomic():
                if ready:
                    inventory_upsert_lots(connection=connection, records=ready)
                    stored += len(ready)
                for external_id, reason in reasons.items():
                    UnmappedLot.objects.filter(connection=connection, external_id=external_id).exclude(reason=reason).update(
                        reason=reason
                    )
        except (IntegrityError, StockConflict) as exc:  # an import of the same store at this moment: the next run retries
            logger.warning("Brick Owl catalog: lots of connection %s not stored this run: %s", connection.pk, exc)
    return stored


def catalog_map_order_items() -> int:
    """Write BrickLink's names onto the Brick Owl order items that now translate, then retry their orders'
    reservations (an order item matched to no stock before may match now)."""
    mapped = 0
    last_pk = 0
    touched: set[int] = set()
    while True:
        chunk = list(unmapped_order_items().filter(pk__gt=last_pk).order_by("pk")[:ORDER_ITEM_CHUNK])
        if not chunk:
            break
        last_pk = chunk[-1].pk
        by_org: dict[int, list[OrderItem]] = defaultdict(list)
        for item, t in zip(chunk, catalog_translate(chunk, remember=False), strict=True):
            if t.mapped:
                by_org[item.organization_id].append(item)
        for organization_id, items in by_org.items():
            catalog_apply(organization_id=organization_id, rows=items)
            OrderItem.objects.bulk_update(items, ["part_number", "item_type", "color_id", "color_name"])
            mapped += len(items)
            touched.add(organization_id)
    for organization in Organization.objects.filter(pk__in=touched).order_by("pk"):
        with transaction.atomic():
            # As every caller: an import or link change of this organization at the same moment would otherwise
            # leave a line matched by neither (each blind to the other's uncommitted rows).
            stock_lock_organization(organization_id=organization.pk)
            reservation_retry_unmatched(organization=organization, source="catalog")
    return mapped
