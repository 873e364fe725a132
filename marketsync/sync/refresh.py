"""Re-read one record from its marketplace now: an order after a webhook, a "refresh" click or a write.

The one way to refresh a single record, for every marketplace and entity the
wiring table can read by id; the refresh task and every caller go through it.
"""

from __future__ import annotations

from contextlib import nullcontext

import httpx
from django.db import transaction

from marketsync.sync.errors import BadRecord, BadResponse, InvalidRequest, RateLimited
from marketsync.sync.http import build_http_client
from marketsync.sync.pages import UNREADABLE
from marketsync.sync.upsert import UpsertResult
from marketsync.sync.wiring import entity_wiring


def record_refresh(
    *, connection, entity: str, external_id: str, http: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
) -> UpsertResult:
    """Fetch one record by its marketplace id through its entity's adapter and store it; returns the counts.

    Raises the marketplace's errors (``MarketplaceError`` and subclasses): ``InvalidRequest`` when the
    entity cannot be read one record at a time, ``BadResponse`` when the record does not parse,
    ``RateLimited`` when the connection must not call the marketplace now (a call budget).
    """
    wiring = entity_wiring(connection.marketplace, entity)
    if wiring is None:
        raise InvalidRequest(f"{connection.marketplace_label} does not sync {entity}.")
    if wiring.admission:
        reason = wiring.admission(connection, entity)
        if reason:
            raise RateLimited(reason)
    with nullcontext(http) if http is not None else build_http_client(transport=transport) as client_http:
        adapter = wiring.build_adapter(connection, client_http)
        if not hasattr(adapter, "fetch_one"):
            raise InvalidRequest(f"{connection.marketplace_label} cannot refresh a single {entity} record.")
        try:
            record = adapter.fetch_one(str(external_id))
        except BadRecord as exc:
            raise BadResponse(f"{connection.marketplace_label} {entity} {external_id} could not be read: {exc.message}") from None
        except UNREADABLE as exc:
            raise BadResponse(f"{connection.marketplace_label} {entity} {external_id} could not be read: {exc}") from None
        with transaction.atomic():
            result = (wiring.store_refreshed or wiring.store)(connection=connection, records=[record])
        if result.bad_records:  # a value that does not fit its column: nothing was stored
            raise BadResponse(f"{connection.marketplace_label} {entity} {external_id} could not be stored: "
                              f"{result.bad_records[0].message}")
        if wiring.after_refresh:
            wiring.after_refresh(connection, client_http, record)
    return result
