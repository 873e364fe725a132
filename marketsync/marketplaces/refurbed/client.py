"""Refurbed merchant API client on the shared HTTP layer.

Every call is ``POST <base>/refb.merchant.v1.<Service>/<Method>`` with a JSON
body and ``Authorization: Plain <token>``. Errors arrive as grpc-gateway
``Status`` bodies ``{code, message, details}``; 401 means the token is bad or
expired (re-issue it), 403 that it lacks the RPC's permission (grant it), 429
is a rate limit whose window ends at ``X-RateLimit-Reset`` (Unix time).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from marketsync.sync.errors import (
    AuthError,
    BadResponse,
    Forbidden,
    InvalidRequest,
    MarketplaceError,
    NotFound,
    RateLimited,
    TransientError,
)
from marketsync.sync.http import MarketplaceHTTP, parse_retry_after

BASE_URL = "https://api.refurbed.com"
PACKAGE = "refb.merchant.v1"
PAGE_LIMIT = 100
_PLAIN = re.compile(r"^\s*plain\s+", re.IGNORECASE)


def normalise_token(token: str) -> str:
    """The bare token: a saved ``Plain <token>`` loses its prefix (it is added back exactly once)."""
    return _PLAIN.sub("", token or "").strip()


class PlainAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = normalise_token(token)

    def __repr__(self) -> str:
        return "<PlainAuth>"

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = f"Plain {self._token}"
        yield request


def _status_message(response: httpx.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200] if response.content else ""
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("message") or "")[:300]
    return None, ""


def classify(response: httpx.Response) -> MarketplaceError | None:
    status = response.status_code
    if status < 400:
        return None
    endpoint = f"{response.request.method} {response.request.url.path}"
    code, message = _status_message(response)
    detail = f" ({message})" if message else ""
    if status == 401:
        return AuthError(
            f"{endpoint}: Refurbed refused the API token (401){detail}; re-issue the token and save the new one.",
            status_code=status, endpoint=endpoint,
        )
    if status == 403:
        return Forbidden(
            f"Refurbed refuses {endpoint}: the API token lacks the permission for this call (403){detail}; "
            "grant the permission to the token at Refurbed.",
            status_code=status, endpoint=endpoint,
        )
    if status == 429:
        retry_after = parse_retry_after(response)
        return RateLimited(
            f"{endpoint} is rate limited by Refurbed (429){detail}.",
            retry_after=1.0 if retry_after is None else retry_after, status_code=status, endpoint=endpoint,
        )
    if status == 404:
        return NotFound(f"{endpoint} found nothing (404){detail}.", status_code=status, endpoint=endpoint)
    if status >= 500 or status == 408:
        return TransientError(f"{endpoint} failed on Refurbed's side ({status}){detail}.", status_code=status, endpoint=endpoint)
    return InvalidRequest(
        f"{endpoint} was rejected ({status}, code {code}): {message or 'no message'}", status_code=status, endpoint=endpoint
    )


# A batch's per-entry ``Status`` carries a gRPC code, not an HTTP status: the same errors as a single call's.
GRPC_OK, GRPC_AUTH, GRPC_PERMISSION, GRPC_NOT_FOUND, GRPC_EXHAUSTED = 0, 16, 7, 5, 8
GRPC_TRANSIENT = frozenset({1, 4, 10, 13, 14})  # cancelled, deadline exceeded, aborted, internal, unavailable
BATCH_LIMIT = 50


def status_error(status: Any, endpoint: str) -> MarketplaceError | None:
    """The error a batch entry's ``Status`` stands for, or None when it is OK."""
    if status is None or (isinstance(status, dict) and status.get("code") in (GRPC_OK, None)):
        return None
    code = status.get("code") if isinstance(status, dict) else None
    message = str(status.get("message") or "")[:300] if isinstance(status, dict) else ""
    detail = f" ({message})" if message else ""
    if code == GRPC_AUTH:
        return AuthError(f"{endpoint}: Refurbed refused the API token{detail}; re-issue the token and save the new one.",
                         endpoint=endpoint)
    if code == GRPC_PERMISSION:
        return Forbidden(f"Refurbed refuses {endpoint}: the API token lacks the permission for this call{detail}.", endpoint=endpoint)
    if code == GRPC_NOT_FOUND:
        return NotFound(f"{endpoint} found nothing{detail}.", endpoint=endpoint)
    if code == GRPC_EXHAUSTED:
        return RateLimited(f"{endpoint} is rate limited by Refurbed{detail}.", retry_after=1.0, endpoint=endpoint)
    if code in GRPC_TRANSIENT:
        return TransientError(f"{endpoint} failed on Refurbed's side (code {code}){detail}.", endpoint=endpoint)
    return InvalidRequest(f"{endpoint} was rejected (code {code}): {message or 'no message'}", endpoint=endpoint)


class RefurbedClient:
    """The RPCs marketsync uses, each a thin call; list methods also page."""

    def __init__(
        self,
        *,
        http: httpx.Client,
        token: str,
        base_url: str = "",
        sleep: Callable[[float], None] = time.sleep,
        max_retry_wait: float | None = None,
    ) -> None:
        self.http = MarketplaceHTTP(
            http=http,
            base_url=base_url or BASE_URL,
            auth=PlainAuth(token),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            classify=classify,
            secrets=(normalise_token(token), token),
            sleep=sleep,
            max_retry_wait=max_retry_wait,
        )

    def __repr__(self) -> str:
        return f"<RefurbedClient base_url={self.http.base_url!r}>"

    def probe(self) -> None:
        """One cheap authenticated call ("Test connection"): the first order, if any."""
        self.list_orders(limit=1)

    @property
    def requests_sent(self) -> int:
        return self.http.requests_sent

    def call(self, service: str, method: str, body: dict | None = None, *, retry: bool = True) -> dict:
        data = self.http.json("POST", f"/{PACKAGE}.{service}/{method}", json=body or {}, retry=retry)
        if not isinstance(data, dict):
            raise BadResponse(f"POST /{PACKAGE}.{service}/{method} returned {type(data).__name__}, not an object.")
        return data

    def list_page(self, service: str, method: str, key: str, *, body: dict | None = None, starting_after: Any = None,
                  limit: int = PAGE_LIMIT) -> tuple[list, bool]:
        request = dict(body or {})
        pagination: dict[str, Any] = {"limit": limit}
        if starting_after is not None:
            pagination["starting_after"] = starting_after
        request["pagination"] = pagination
        data = self.call(service, method, request)
        rows = data.get(key) or []
        if not isinstance(rows, list):
            raise BadResponse(f"{service}/{method} returned {key!r} that is not a list.")
        return rows, bool(data.get("has_more"))

    def list_all(self, service: str, method: str, key: str, *, body: dict | None = None,
                 cursor_of: Callable[[dict], Any] = lambda row: row.get("id")) -> Iterator[dict]:
        after = None
        while True:
            rows, has_more = self.list_page(service, method, key, body=body, starting_after=after)
            yield from rows
            if not has_more or not rows:
                return
            after = cursor_of(rows[-1])

    # Orders
    def list_orders(self, *, filter: dict | None = None, starting_after: str | None = None, limit: int = PAGE_LIMIT):
        body = {"sort": {"by": "ID", "order": "ASC"}}
        if filter:
            body["filter"] = filter
        return self.list_page("OrderService", "ListOrders", "orders", body=body, starting_after=starting_after, limit=limit)

    def get_order(self, order_id: str) -> dict:
        return self.call("OrderService", "GetOrder", {"id": str(order_id)})["order"]

    def get_order_item(self, item_id: str) -> dict:
        return self.call("OrderItemService", "GetOrderItem", {"id": str(item_id)})["order_item"]

    def list_order_items(self, order_id: str) -> list[dict]:
        return list(self.list_all("OrderItemService", "ListOrderItemsByOrder", "order_items", body={"order_id": str(order_id)}))

    def update_order_item_state(self, item_id: str, state: str, **fields: Any) -> dict:
        body = {"id": str(item_id), "state": state, **fields}
        return self.call("OrderItemService", "UpdateOrderItemState", body, retry=False)["order_item"]

    # Order item writes: never repeated blindly (retry=False); a 429 is still retried, Refurbed did not process it.
    def update_order_item(self, item_id: str, **fields: Any) -> dict:
        """Fields without a state change (tracking, ``item_identifiers``)."""
        return self.call("OrderItemService", "UpdateOrderItem", {"id": str(item_id), **fields}, retry=False)["order_item"]

    def batch_update_order_items_state(self, updates: list[dict]) -> list[dict]:
        """Up to 50 ``{id, state, ...}`` updates in one call; the per-entry ``{status, order_item?}`` results come back
        in request order (HTTP 200 even when entries failed)."""
        data = self.call("OrderItemService", "BatchUpdateOrderItemsState", {"updates": updates}, retry=False)
        results = data.get("results")
        if not isinstance(results, list) or len(results) != len(updates):
            raise BadResponse("BatchUpdateOrderItemsState returned no result per update.")
        return results

    def list_available_carriers(self) -> list[dict]:
        return self.call("ShippingProfileService", "ListAvailableCarriers", {}).get("carriers") or []

    # Offers
    def list_offers(self, *, starting_after: str | None = None, limit: int = PAGE_LIMIT):
        return self.list_page("OfferService", "ListOffers", "offers", body={"sort": {"by": "ID", "order": "ASC"}},
                              starting_after=starting_after, limit=limit)

    def get_offer(self, *, id: str | None = None, sku: str | None = None) -> dict:
        identifier = {"id": str(id)} if id else {"sku": sku}
        return self.call("OfferService", "GetOffer", {"identifier": identifier})["offer"]

    def update_offer_stock(self, offer_id: str, stock: int) -> dict:
        """Set an offer's stock (``UpdateOffer``; absolute, so repeating it changes nothing). Stock 0 keeps the offer."""
        return self.call("OfferService", "UpdateOffer", {"identifier": {"id": str(offer_id)}, "stock": int(stock)}, retry=False)

    def batch_update_offers_stock(self, stocks: list[tuple[str, int]]) -> list[dict | MarketplaceError]:
        """Set many offers' stock (``BatchUpdateOffers``, at most 50 per call): per offer, in request order, the
        updated offer or the error Refurbed gave that entry (the call itself answers 200 when entries fail)."""
        if not 1 <= len(stocks) <= BATCH_LIMIT:
            raise ValueError(f"BatchUpdateOffers takes 1 to {BATCH_LIMIT} offers, not {len(stocks)}")
        offers = [{"identifier": {"id": str(offer_id)}, "stock": int(stock)} for offer_id, stock in stocks]
        data = self.call("OfferService", "BatchUpdateOffers", {"offers": offers}, retry=False)
        results = data.get("results")
        if not isinstance(results, list) or len(results) != len(offers):
            raise BadResponse("BatchUpdateOffers returned no result per offer.")
        endpoint = f"POST /{PACKAGE}.OfferService/BatchUpdateOffers"
        answers: list[dict | MarketplaceError] = []
        for result in results:
            error = status_error(result.get("status") if isinstance(result, dict) else "?", endpoint)
            offer = result.get("offer") if isinstance(result, dict) else None
            if error is None and not isinstance(offer, dict):
                error = BadResponse(f"{endpoint}: an entry reported success without the offer.", endpoint=endpoint)
            answers.append(error if error is not None else offer)
        return answers

    def list_market_offers(self, *, starting_after: dict | None = None, limit: int = PAGE_LIMIT):
        return self.list_page("MarketOfferService", "ListMarketOffers", "market_offers",
                              body={"sort": {"by": "ID", "order": "ASC"}}, starting_after=starting_after, limit=limit)

    def get_market_offer(self, *, offer_id: str, market_code: str) -> dict:
        identifier = {"offer_id": {"id": str(offer_id)}, "market_code": market_code}
        return self.call("MarketOfferService", "GetMarketOffer", {"identifier": identifier})["market_offer"]

    # Reference data
    def list_markets(self) -> list[dict]:
        return list(self.list_all("MarketService", "ListMarkets", "markets", cursor_of=lambda r: r.get("code")))

    def get_market(self, code: str) -> dict:
        return self.call("MarketService", "GetMarket", {"code": code})["market"]

    def list_currencies(self) -> list[dict]:
        return list(self.list_all("CurrencyService", "ListCurrencies", "currencies", cursor_of=lambda r: r.get("code")))

    def get_currency(self, code: str) -> dict:
        return self.call("CurrencyService", "GetCurrency", {"code": code})["currency"]

    def get_instance(self, instance_id: str) -> dict:
        return self.call("InstanceService", "GetInstance", {"id": str(instance_id)})["instance"]

    def list_shipping_profiles(self) -> list[dict]:
        return list(self.list_all("ShippingProfileService", "ListShippingProfiles", "shipping_profiles"))

    def get_catalog_templates(self, *, category_type: str = "ELECTRONICS", lang_code: str = "EN",
                              category_id: str | None = None) -> list[dict]:
        body: dict[str, Any] = {"category_type": category_type, "lang_code": lang_code}
        if category_id:
            body["category_id"] = str(category_id)
        return self.call("CatalogService", "GetCatalogTemplates", body).get("templates") or []
