"""The one place a connection becomes a marketplace client: its credentials, hosts and options as plain values.

Clients (``marketsync/marketplaces/*/client.py``) know nothing of Django: they
take a token, a base URL and callables. Every BrickLink request is counted
against the connection's daily call budget here (in memory inside ``api_calls_batched``: see connections/budget.py).
"""

from __future__ import annotations

from typing import Any

import httpx

from connections.budget import api_call_counter, api_call_purpose
from marketsync.marketplaces import Marketplace
from marketsync.marketplaces.backmarket.client import BackMarketClient
from marketsync.marketplaces.bricklink.client import BrickLinkClient
from marketsync.marketplaces.brickowl.client import BrickOwlClient
from marketsync.marketplaces.refurbed.client import RefurbedClient

MarketplaceClient = RefurbedClient | BackMarketClient | BrickLinkClient | BrickOwlClient


def marketplace_client(connection, http: httpx.Client, *, purpose: str | None = None, **kwargs: Any) -> MarketplaceClient:
    """The client of one connection on an injected ``httpx.Client`` (its token, its host: production, sandbox or
    the simulator). ``purpose`` is what BrickLink calls are counted for (default: the enclosing
    ``api_calls_for``, else "other"). ``kwargs`` pass through (``sleep``, ``max_retry_wait`` in tests)."""
    credentials = connection.credentials
    market = Marketplace(connection.marketplace)
    if market == Marketplace.REFURBED:
        return RefurbedClient(http=http, token=credentials["api_key"], base_url=connection.base_url, **kwargs)
    if market == Marketplace.BACKMARKET:
        return BackMarketClient(
            http=http, api_key=credentials.get("api_key", ""), platform=connection.platform or "eu",
            environment=connection.environment, base_url=connection.base_url,
            locale=str((connection.options or {}).get("locale") or ""), **kwargs,
        )
    if market == Marketplace.BRICKLINK:
        return BrickLinkClient(
            http=http, credentials=credentials, base_url=connection.base_url,
            on_request=api_call_counter(connection_id=connection.pk, purpose=api_call_purpose(purpose)), **kwargs,
        )
    return BrickOwlClient(http=http, api_key=credentials["api_key"], base_url=connection.base_url, **kwargs)
