"""Re-read one record from its marketplace now (an order after a webhook, a "refresh" click, a write)."""

from __future__ import annotations

import httpx
from django.db import transaction

from marketsync.sync.errors import InvalidRequest
from marketsync.sync.http import build_http_client
from marketsync.sync.registry import UpsertResult, get_spec


def record_refresh(
    *, connection, entity: str, external_id: str, http: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
) -> UpsertResult:
    """Fetch one record by its marketplace id through its entity's adapter and store it; returns the counts.

    Raises the marketplace's errors (``MarketplaceError`` and subclasses); ``InvalidRequest``
    when the entity cannot be read one record at a time.
    """
    spec = get_spec(connection.marketplace, entity)
    if spec is None or spec.refresh_one is None:
        raise InvalidRequest(f"{connection.marketplace_label} cannot refresh a single {entity} record.")
    if http is not None:
        with transaction.atomic():
            return spec.refresh_one(connection, http, str(external_id))
    with build_http_client(transport=transport) as own_http, transaction.atomic():
        return spec.refresh_one(connection, own_http, str(external_id))
