"""Refurbed's live reference data, called through to the API each time (no caching here).

Markets, currencies, instances, shipping profiles and catalog templates change
rarely but are Refurbed's to keep: every call reads them afresh.
"""

from __future__ import annotations

import httpx

from connections.models import Connection
from marketsync.marketplaces import Marketplace
from marketsync.marketplaces.refurbed.client import RefurbedClient
from marketsync.sync.clients import marketplace_client
from marketsync.sync.errors import InvalidRequest
from marketsync.sync.http import build_http_client


def _client(connection: Connection, http: httpx.Client) -> RefurbedClient:
    if connection.marketplace != Marketplace.REFURBED:
        raise InvalidRequest(f"{connection.marketplace_label} has no Refurbed reference data.")
    if not connection.has_credentials:
        raise InvalidRequest("This Refurbed connection has no API token: enter one to read reference data.")
    return marketplace_client(connection, http)


def _call(connection: Connection, transport: httpx.BaseTransport | None, fn):
    with build_http_client(transport=transport) as http:
        return fn(_client(connection, http))


def reference_market_list(*, connection: Connection, transport=None) -> list[dict]:
    return _call(connection, transport, lambda c: c.list_markets())


def reference_market_get(*, connection: Connection, code: str, transport=None) -> dict:
    return _call(connection, transport, lambda c: c.get_market(code.strip().upper()))


def reference_currency_list(*, connection: Connection, transport=None) -> list[dict]:
    return _call(connection, transport, lambda c: c.list_currencies())


def reference_currency_get(*, connection: Connection, code: str, transport=None) -> dict:
    return _call(connection, transport, lambda c: c.get_currency(code.strip().upper()))


def reference_instance_get(*, connection: Connection, instance_id: str, transport=None) -> dict:
    instance_id = str(instance_id).strip()
    if not instance_id.isdigit():
        raise InvalidRequest("An instance id is a number, e.g. 4711.")
    return _call(connection, transport, lambda c: c.get_instance(instance_id))


def reference_shipping_profile_list(*, connection: Connection, transport=None) -> list[dict]:
    return _call(connection, transport, lambda c: c.list_shipping_profiles())


def reference_catalog_template_list(
    *, connection: Connection, category_type: str = "ELECTRONICS", lang_code: str = "EN", category_id: str | None = None,
    transport=None,
) -> list[dict]:
    return _call(connection, transport, lambda c: c.get_catalog_templates(
        category_type=category_type.upper(), lang_code=lang_code.upper(), category_id=category_id))
