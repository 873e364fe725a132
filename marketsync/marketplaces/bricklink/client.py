"""BrickLink Store API client on the shared HTTP layer.

Signing is an ``httpx.Auth`` built on oauthlib, so every attempt (retries
included) is signed afresh: a new nonce and a timestamp strictly greater than
the previous one for the same consumer key. Query parameters are signed, JSON
bodies are not. BrickLink's HTTP status is not reliable, so every response's
``meta.code`` is checked: HTTP 200 with ``meta.code`` 401 is an auth error.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from oauthlib.oauth1 import Client as OAuthClient

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
from marketsync.sync.http import MarketplaceHTTP, default_classify, parse_retry_after

BASE_URL = "https://api.bricklink.com/api/store/v1"
OK_CODES = frozenset({200, 201, 204})

_timestamps: dict[str, int] = {}
_timestamps_lock = threading.Lock()


def next_timestamp(consumer_key: str, clock: Callable[[], float] = time.time) -> int:
    """Unix seconds, strictly greater than the last one used for this consumer key (in this process)."""
    now = int(clock())
    with _timestamps_lock:
        value = max(now, _timestamps.get(consumer_key, 0) + 1)
        _timestamps[consumer_key] = value
    return value


class BrickLinkAuth(httpx.Auth):
    """OAuth 1.0a HMAC-SHA1 header signing of one request attempt (query signed, body not)."""

    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        token_value: str,
        token_secret: str,
        nonce: Callable[[], str] | None = None,
        timestamp: Callable[[], int] | None = None,
    ) -> None:
        self._consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self._token_value = token_value
        self._token_secret = token_secret
        self._nonce = nonce
        self._timestamp = timestamp or (lambda: next_timestamp(consumer_key))

    def __repr__(self) -> str:
        return "<BrickLinkAuth>"

    def sign(self, method: str, url: str) -> str:
        """The ``Authorization`` header value for this method and URL (with its query)."""
        client = OAuthClient(
            self._consumer_key,
            client_secret=self._consumer_secret,
            resource_owner_key=self._token_value,
            resource_owner_secret=self._token_secret,
            signature_method="HMAC-SHA1",
            nonce=self._nonce() if self._nonce else None,
            timestamp=str(self._timestamp()),
            realm="",
        )
        _, headers, _ = client.sign(url, http_method=method)
        return headers["Authorization"]

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = self.sign(request.method, str(request.url))
        yield request


_SEEN_IP = re.compile(r"\bIP:\s*([0-9A-Fa-f:.]+)")


def _ip_mismatch_message(description: str) -> str:
    """What to fix when BrickLink refuses calls from this server's IP (the IP it saw, when it said; never the key)."""
    match = _SEEN_IP.search(description)
    try:
        seen = f" ({ipaddress.ip_address(match.group(1).rstrip('.'))})" if match else ""
    except ValueError:
        seen = ""
    return (
        f"BrickLink refuses calls from this server's IP address{seen} (TOKEN_IP_MISMATCHED): add it to your API "
        "consumer's allowed IPs on the BrickLink API consumer page, or register IP 0.0.0.0 (any IP), and enter "
        "the token value and token secret BrickLink issues for it."
    )


def _auth_message(description: str) -> str:
    text = description or ""
    if "SIGNATURE_INVALID" in text:
        return (
            "BrickLink refused the request signature (SIGNATURE_INVALID): check the consumer key, consumer secret, "
            "token value and token secret (copy them again from the BrickLink API consumer page)."
        )
    return (
        f"BrickLink refused the credentials ({text or 'BAD_OAUTH_REQUEST'}): check the consumer key and secret and the "
        "access token and secret, and that the token is registered for this server's IP (or 0.0.0.0)."
    )


def classify(response: httpx.Response) -> MarketplaceError | None:
    """HTTP status first (gateway errors), then the envelope's ``meta.code``, which decides."""
    endpoint = f"{response.request.method} {response.request.url.path}"
    try:
        body = response.json()
    except ValueError:
        body = None
    meta = body.get("meta") if isinstance(body, dict) else None
    if not isinstance(meta, dict):
        error = default_classify(response)
        if error is not None:
            return error
        return BadResponse(f"{endpoint} returned no BrickLink envelope (meta missing).", status_code=response.status_code,
                           endpoint=endpoint)
    try:
        code = int(meta.get("code"))
    except (TypeError, ValueError):
        return BadResponse(f"{endpoint} returned an unreadable meta.code {meta.get('code')!r}.", endpoint=endpoint)
    message, description = str(meta.get("message") or ""), str(meta.get("description") or "")
    if code in OK_CODES and response.status_code < 400:
        return None
    if (code == 401 or response.status_code == 401) and "TOKEN_IP_MISMATCHED" in f"{message} {description}":
        # The key is right but this server's IP is not registered: may pass (the IP comes back), so re-probed.
        return Forbidden(_ip_mismatch_message(f"{message} {description}"), status_code=401, endpoint=endpoint)
    if code == 401 or response.status_code == 401:
        return AuthError(_auth_message(description or message), status_code=401, endpoint=endpoint)
    if code == 403:
        return Forbidden(f"BrickLink refuses {endpoint}: permission denied (403 {message}).", status_code=403,
                         endpoint=endpoint)
    if code == 404:
        return NotFound(f"{endpoint} found nothing ({message or 'RESOURCE_NOT_FOUND'}).", status_code=404, endpoint=endpoint)
    if code == 429 or response.status_code == 429:
        return RateLimited(f"{endpoint}: BrickLink call limit reached ({message}).", retry_after=parse_retry_after(response),
                           status_code=429, endpoint=endpoint)
    if code >= 500 or response.status_code >= 500:
        return TransientError(f"{endpoint} failed on BrickLink's side ({code} {message}).", status_code=code, endpoint=endpoint)
    return InvalidRequest(f"{endpoint} was rejected ({code} {message}: {description}).", status_code=code, endpoint=endpoint)


def flatten_batches(data: Any) -> list[dict]:
    """Order items arrive as a list of batches (``[[item, item], [item]]``); a flat list is accepted too."""
    items: list[dict] = []
    for entry in data or []:
        if isinstance(entry, list):
            items.extend(e for e in entry if isinstance(e, dict))
        elif isinstance(entry, dict):
            items.append(entry)
    return items


class BrickLinkClient:
    def __init__(
        self,
        *,
        http: httpx.Client,
        credentials: dict[str, str],
        base_url: str = "",
        on_request: Callable[[httpx.Request], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.http = MarketplaceHTTP(
            http=http,
            base_url=base_url or BASE_URL,
            auth=auth or BrickLinkAuth(**{k: credentials[k] for k in ("consumer_key", "consumer_secret", "token_value", "token_secret")}),
            classify=classify,
            secrets=tuple(credentials.values()),
            on_request=on_request,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"<BrickLinkClient {self.http.base_url}>"

    def probe(self) -> None:
        """One cheap authenticated call ("Test connection"): the orders this store placed as a buyer, usually few.
        (``/notifications`` would be cheaper but reading it clears them; every call counts against the budget.)"""
        self.orders(direction="out")

    def _data(self, path: str, **params: Any) -> Any:
        body = self.http.json("GET", path, params={k: v for k, v in params.items() if v is not None} or None)
        return body.get("data") if isinstance(body, dict) else None

    def orders(self, *, direction: str = "in", status: str | None = None, filed: bool | None = None) -> list[dict]:
        data = self._data("/orders", direction=direction, status=status, filed=None if filed is None else str(filed).lower())
        if not isinstance(data, list):
            raise BadResponse("GET /orders returned no list of orders.")
        return data

    def order(self, order_id: str | int) -> dict:
        data = self._data(f"/orders/{order_id}")
        if not isinstance(data, dict):
            raise BadResponse(f"GET /orders/{order_id} returned no order.")
        return data

    def order_items(self, order_id: str | int) -> list[dict]:
        return flatten_batches(self._data(f"/orders/{order_id}/items"))

    def inventories(self, *, status: str | None = None) -> list[dict]:
        """Every lot, or those of one ``status`` filter (Y for sale, S/B/C stockrooms, N unavailable, R reserved)."""
        data = self._data("/inventories", status=status)
        if not isinstance(data, list):
            raise BadResponse("GET /inventories returned no list of lots.")
        return data

    # --- stock push: one lot's quantity -----------------------------------------------------------------------

    def inventory(self, inventory_id: str | int) -> dict:
        data = self._data(f"/inventories/{inventory_id}")
        if not isinstance(data, dict):
            raise BadResponse(f"GET /inventories/{inventory_id} returned no lot.")
        return data

    def inventory_update(self, inventory_id: str | int, *, quantity_delta: int, remarks: str, description: str) -> dict:
        """Change a lot's quantity by a signed delta (BrickLink's ``quantity`` is never absolute), keeping the lot at
        0 (``is_retain``) and re-sending remarks and description, which BrickLink clears otherwise. Not retried: a
        repeated delta would apply twice."""
        body = {"quantity": f"{quantity_delta:+d}", "is_retain": True, "remarks": remarks, "description": description}
        result = self.http.json("PUT", f"/inventories/{inventory_id}", json=body, retry=False)
        data = result.get("data") if isinstance(result, dict) else None
        if not isinstance(data, dict):
            raise BadResponse(f"PUT /inventories/{inventory_id} returned no lot.")
        return data

    def notifications(self) -> list[dict]:
        data = self._data("/notifications")
        return data if isinstance(data, list) else []

    # Order writes: never repeated blindly (retry=False). A transition BrickLink does not allow is meta.code 422
    # RESOURCE_UPDATE_NOT_ALLOWED, which ``classify`` turns into InvalidRequest with BrickLink's own words.
    def order_status_set(self, order_id: str | int, status: str) -> None:
        self.http.json("PUT", f"/orders/{order_id}/status", json={"field": "status", "value": status}, retry=False)

    def order_payment_status_set(self, order_id: str | int, payment_status: str) -> None:
        self.http.json("PUT", f"/orders/{order_id}/payment_status", json={"field": "payment_status", "value": payment_status},
                       retry=False)

    def order_update(self, order_id: str | int, body: dict) -> dict:
        """``PUT /orders/{id}``: BrickLink applies only a few fields (``shipping.tracking_no``, ``tracking_link``,
        ``date_shipped``, ``remarks``, ``is_filed``, some costs) and answers with the order."""
        data = self.http.json("PUT", f"/orders/{order_id}", json=body, retry=False)
        order = data.get("data") if isinstance(data, dict) else None
        if not isinstance(order, dict):
            raise BadResponse(f"PUT /orders/{order_id} returned no order.")
        return order

    def order_drive_thru(self, order_id: str | int, *, mail_me: bool = False) -> None:
        self.http.json("POST", f"/orders/{order_id}/drive_thru", params={"mail_me": str(mail_me).lower()}, retry=False)
