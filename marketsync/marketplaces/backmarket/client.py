"""Back Market Seller API client on the shared ``MarketplaceHTTP``.

Hosts per platform and environment, the headers Back Market requires on every
call, ``page``/``page-size`` paging that follows ``next``, and a ``classify``
that reads Back Market's error forms: HTML 429s from the edge without
Retry-After, WAF 403s (HTML or ``bot-need-challenge``) that are not auth
failures, bare JSON strings in 400s, 422 validation bodies.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import httpx
from django.conf import settings

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

HOSTS = {
    ("eu", "production"): "https://www.backmarket.fr",
    ("eu", "sandbox"): "https://preprod.backmarket.fr",
    ("us", "production"): "https://www.backmarket.com",
    ("us", "sandbox"): "https://preprod.backmarket.com",
    ("ap", "production"): "https://www.backmarket.co.jp",
    ("ap", "sandbox"): "https://preprod.backmarket.co.jp",
}
DEFAULT_LOCALE = {"eu": "fr-fr", "us": "en-us", "ap": "ja-jp"}
PAGE_SIZE = 50
LOCALE_RE = re.compile(r"^[a-z]{2}-[a-z]{2}$")
EDGE_BACKOFF_SECONDS = 10.0


class LocalValidationError(ValueError):
    """What we were about to send is wrong: refused before any request."""


def base_url_for(*, platform: str, environment: str, base_url: str = "") -> str:
    """``base_url`` when set (sandbox proxy, simulator), else the platform's host."""
    if base_url:
        return base_url.rstrip("/")
    key = ((platform or "eu").lower(), environment)
    if key not in HOSTS:
        raise LocalValidationError(f"Unknown Back Market platform {platform!r}: expected eu, us or ap.")
    return HOSTS[key]


def user_agent() -> str:
    company = "".join(ch for ch in settings.BACKMARKET_USER_AGENT_COMPANY if ch.isalnum() or ch in "_.") or "marketsync"
    return f"BM-{company}-marketsync;{settings.BACKMARKET_USER_AGENT_EMAIL}"


def locale_for(*, platform: str, locale: str = "") -> str:
    """The market locale sent as ``Accept-Language`` (``fr-fr``, ``en-gb``, …); a malformed one is refused here."""
    locale = str(locale or DEFAULT_LOCALE.get((platform or "eu").lower(), "fr-fr")).strip().lower()
    if not LOCALE_RE.match(locale):
        raise InvalidRequest(f"The connection's market locale {locale!r} is not of the form fr-fr; fix options.locale.")
    return locale


def parse_datetime(value: Any) -> datetime | None:
    """Back Market dates: ``Z``, an offset, micro- or milliseconds, or no zone at all (taken as UTC)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if len(text) > 10 and text[10] == " ":
            text = text[:10] + "T" + text[11:]
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"not a date: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _body_message(response: httpx.Response) -> str:
    """The human message of an error body: a bare JSON string, ErrorResponseV1/V2, a 422 or plain text."""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip()
        return "" if text.startswith("<") else text[:300]
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or error.get("code") or "")
            fields = (data.get("data") or {}).get("fields") if isinstance(data.get("data"), dict) else None
            if fields:
                message += ": " + "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in fields.items())
            return message
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return "; ".join(str(e.get("detail") or e.get("message") or e.get("code") or "") for e in errors)
        if data.get("detail") or data.get("title"):
            return str(data.get("detail") or data.get("title"))
    return json.dumps(data)[:300]


def _is_waf(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "")
    body = response.text[:2000] if response.content else ""
    return (
        "html" in content_type
        or body.lstrip().startswith("<")
        or "bot-need-challenge" in body
        or "cf-ray" in response.headers and not body.lstrip().startswith(("{", '"'))
    )


def classify(response: httpx.Response) -> MarketplaceError | None:
    status = response.status_code
    if status < 400:
        return None
    endpoint = f"{response.request.method} {response.request.url.path}"
    if status == 429:
        retry_after = parse_retry_after(response)
        return RateLimited(
            f"{endpoint} is rate limited by Back Market (429); backing off.",
            retry_after=retry_after if retry_after is not None else EDGE_BACKOFF_SECONDS,
            status_code=status,
            endpoint=endpoint,
        )
    if status == 403 and _is_waf(response):
        return TransientError(
            f"{endpoint} was blocked by Back Market's firewall (403 WAF/bot challenge); "
            "check the User-Agent and retry later.",
            status_code=status,
            endpoint=endpoint,
        )
    message = _body_message(response)
    detail = f": {message}" if message else ""
    if status == 401:
        return AuthError(
            f"{endpoint} was refused by Back Market (401){detail}. Check the API token, platform and environment.",
            status_code=status,
            endpoint=endpoint,
        )
    if status == 403:  # not a merchant account, or its API (ingestion channel) switched off: fixed at Back Market
        return Forbidden(
            f"Back Market refuses {endpoint} (403){detail}. Check at Back Market that the account is a merchant "
            "account with its API access enabled.",
            status_code=status,
            endpoint=endpoint,
        )
    if status == 404:
        return NotFound(f"{endpoint} found nothing at Back Market (404).", status_code=status, endpoint=endpoint)
    if status >= 500 or status == 408:
        return TransientError(f"{endpoint} failed on Back Market's side ({status}).", status_code=status, endpoint=endpoint)
    return InvalidRequest(
        f"Back Market refused {endpoint} ({status}): {message or 'no reason given'}", status_code=status, endpoint=endpoint
    )


@dataclass
class ListPage:
    results: list[dict]
    count: int
    next: str | None
    number: int


class BackMarketClient:
    """One connection's view of the API. Never holds the token in its repr."""

    def __init__(
        self,
        *,
        http: httpx.Client,
        api_key: str,
        platform: str = "eu",
        environment: str = "production",
        base_url: str = "",
        locale: str = "",
        sleep: Callable[[float], None] = time.sleep,
        max_retry_wait: float | None = None,
    ) -> None:
        token = api_key
        self.base_url = base_url_for(platform=platform, environment=environment, base_url=base_url)
        self.http = MarketplaceHTTP(
            http=http,
            base_url=self.base_url,
            headers={
                "Authorization": f"Basic {token}",
                "Accept-Language": locale_for(platform=platform, locale=locale),
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": user_agent(),
            },
            classify=classify,
            secrets=(token,),
            sleep=sleep,
            max_retry_wait=max_retry_wait,
        )
        # Labels may sit on another host (pre-signed URLs): no Back Market credentials go there.
        self.files = MarketplaceHTTP(
            http=http, base_url=self.base_url, headers={"User-Agent": user_agent()}, classify=classify, sleep=sleep,
            max_retry_wait=max_retry_wait,
        )

    def __repr__(self) -> str:
        return f"<BackMarketClient base_url={self.base_url!r}>"

    def probe(self) -> None:
        """One cheap authenticated call ("Test connection"): a one-order page of the order list."""
        self._json("GET", "/ws/orders", params={"page-size": 1})

    @property
    def requests_sent(self) -> int:
        return self.http.requests_sent + self.files.requests_sent

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.http.json(method, path, **kwargs)

    # ------------------------------------------------------------ paging
    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[ListPage]:
        """Every page of a list, following ``next`` (kept on the connection's host) until it is null."""
        url: str | None = path
        query: dict[str, Any] | None = {**(params or {}), "page-size": PAGE_SIZE}
        number = 0
        while url:
            data = self._json("GET", url, params=query)
            if not isinstance(data, dict) or not isinstance(data.get("results"), list):
                raise BadResponse(f"GET {httpx.URL(self.http.url(url)).path} did not return a list envelope.")
            number += 1
            following = data.get("next") or None
            yield ListPage(results=data["results"], count=int(data.get("count") or 0), next=following, number=number)
            following_url = self._same_host(path, following) if following else None
            if following and (following == url or following_url == url):
                raise BadResponse(f"GET {path}: next points at the same page; stopping.")
            url, query = following_url, None

    def _same_host(self, path: str, following: str) -> str:
        """``next`` on the connection's own host and scheme: the token is never sent elsewhere, nor in clear."""
        target, home = httpx.URL(self.http.url(following)), httpx.URL(self.base_url)
        if target.host != home.host:
            raise BadResponse(f"GET {path}: next points at another host ({target.host}); stopping.")
        return str(target.copy_with(scheme=home.scheme, port=home.port))

    # ------------------------------------------------------------ orders
    def order_pages(
        self, *, date_modification: datetime | None = None, date_creation: datetime | None = None, state: int | None = None
    ) -> Iterator[ListPage]:
        params: dict[str, Any] = {}
        if date_modification is not None:
            params["date_modification"] = date_modification.astimezone(UTC).isoformat(timespec="seconds")
        if date_creation is not None:
            params["date_creation"] = date_creation.astimezone(UTC).isoformat(timespec="seconds")
        if state is not None:
            params["state"] = state
        return self.pages("/ws/orders", params)

    def order_get(self, order_id: int | str) -> dict:
        return self._json("GET", f"/ws/orders/{int(order_id)}")

    def order_update(self, order_id: int | str, body: dict) -> dict:
        body = {"order_id": int(order_id), **body}
        return self._json("POST", f"/ws/orders/{int(order_id)}", json=body, retry=False)

    def orderline_identifiers(self, orderline_id: int | str, *, imei: str = "", serial_number: str = "") -> dict:
        body = {k: v for k, v in (("imei", imei), ("serial_number", serial_number)) if v}
        return self._json("PATCH", f"/ws/orderlines/{int(orderline_id)}", json=body, retry=False)

    def invoice_upload(self, order_id: int | str, *, filename: str, content: bytes) -> None:
        # multipart: httpx sets the boundary; our JSON Content-Type must not go along.
        headers = {k: v for k, v in self.http.headers.items() if k.lower() != "content-type"}
        saved = self.http.headers
        self.http.headers = headers
        try:
            self.http.request(
                "POST", f"/ws/orders/{int(order_id)}/invoice",
                files={"invoice": (filename, content, "application/pdf")}, retry=False,
            )
        finally:
            self.http.headers = saved

    # ------------------------------------------------------------ listings
    def listing_pages(self, *, publication_state: int | None = None) -> Iterator[ListPage]:
        params = {"publication_state": publication_state} if publication_state is not None else {}
        return self.pages("/ws/listings", params)

    def listing_get(self, listing_id: str) -> dict:
        return self._json("GET", f"/ws/listings/{listing_id}")

    def listing_detail(self, *, sku: str) -> dict:
        return self._json("GET", "/ws/listings/detail", params={"sku": sku})

    def listing_update(self, listing_id: str, fields: dict) -> dict:
        return self._json("POST", f"/ws/listings/{listing_id}", json=fields, retry=False)

    def listings_bulk(self, *, catalog: str, delimiter: str = ",", quotechar: str = '"', encoding: str = "utf-8") -> int:
        data = self._json(
            "POST", "/ws/listings",
            json={"catalog": catalog, "quotechar": quotechar, "delimiter": delimiter, "encoding": encoding}, retry=False,
        )
        task_id = data.get("bodymessage") if isinstance(data, dict) else None
        if not isinstance(task_id, int) and not (isinstance(task_id, str) and task_id.isdigit()):
            raise BadResponse("POST /ws/listings did not return a task id in bodymessage.")
        return int(task_id)

    def task_get(self, task_id: int | str) -> dict:
        return self._json("GET", f"/ws/tasks/{int(task_id)}")

    # ------------------------------------------------------------ BackShip
    def delivery_pages(self, **params: Any) -> Iterator[ListPage]:
        return self.pages("/ws/shipping/v1/deliveries", {k: v for k, v in params.items() if v is not None})

    def return_pages(self, **params: Any) -> Iterator[ListPage]:
        return self.pages("/ws/shipping/v1/returns", {k: v for k, v in params.items() if v is not None})

    def delivery_get(self, shipment_id: int | str) -> dict:
        return self._json("GET", f"/ws/shipping/v1/deliveries/{int(shipment_id)}")

    def return_get(self, shipment_id: int | str) -> dict:
        return self._json("GET", f"/ws/shipping/v1/returns/{int(shipment_id)}")

    def label_url(self, url: str) -> str:
        """A label URL made absolute: a relative ``labelUrl`` is resolved against the host."""
        if url.startswith(("http://", "https://")):
            return url
        return urljoin(self.base_url + "/", url)

    def label_download(self, url: str) -> bytes:
        response = self.files.request("GET", self.label_url(url), retry=False)
        content = response.content
        if not content.startswith(b"%PDF-"):
            raise BadResponse(f"The label at {httpx.URL(self.label_url(url)).path} is not a PDF.")
        return content
