"""One HTTP layer for every adapter: timeouts, User-Agent, retries, error mapping, redaction.

A marketplace client wraps ``MarketplaceHTTP`` with its base URL, its auth (an
``httpx.Auth``, so signing happens again on every attempt) and its own
``classify`` function that turns a response into one of the engine's
exceptions (or None when the response is good).
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import httpx
from django.conf import settings

from marketsync.redaction import redact
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

logger = logging.getLogger(__name__)

Classifier = Callable[[httpx.Response], MarketplaceError | None]


def user_agent() -> str:
    from marketsync import __version__

    return f"marketsync/{__version__} (+https://github.com/marketsync)"


class SharedTransport(httpx.BaseTransport):
    """The process's one connection pool and SSL context, lent to every client; closing a client leaves it open.

    Building an ``httpx.HTTPTransport`` loads the CA bundle into a new SSL context (about 20–50 ms of CPU), and a
    new pool opens new TCP and TLS connections: once per process instead of once per sync. httpcore's pool is
    thread-safe, so a threads (or gevent) worker pool shares it too.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.transport = httpx.HTTPTransport(limits=httpx.Limits(
            max_connections=settings.SYNC_HTTP_MAX_CONNECTIONS,
            max_keepalive_connections=settings.SYNC_HTTP_MAX_KEEPALIVE,
            keepalive_expiry=settings.SYNC_HTTP_KEEPALIVE_SECONDS,
        ))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.transport.handle_request(request)

    def close(self) -> None:
        """A client's ``close()``: the pool outlives it (``shared_transport_reset`` closes it for real)."""

    def __repr__(self) -> str:
        return f"<SharedTransport pid={self.pid}>"


_shared: SharedTransport | None = None
_shared_lock = threading.Lock()


def shared_transport() -> SharedTransport:
    """This process's transport, created on first use (after a prefork worker forked: a pool is never inherited)."""
    global _shared
    shared = _shared
    if shared is not None and shared.pid == os.getpid():
        return shared
    with _shared_lock:
        if _shared is None or _shared.pid != os.getpid():
            _shared = SharedTransport()
        return _shared


def shared_transport_reset() -> None:
    """Close this process's pool (tests, worker shutdown); the next client opens a new one."""
    global _shared
    with _shared_lock:
        shared, _shared = _shared, None
    if shared is not None and shared.pid == os.getpid():
        shared.transport.close()


def build_http_client(*, transport: httpx.BaseTransport | None = None, timeout: float | None = None) -> httpx.Client:
    """The client every adapter gets unless a test injects its own transport.

    Cheap (about 20 µs): a client of its own (headers, timeouts, event hooks such as a sync's lease heartbeat) on
    the process's shared connection pool. Close it when done, as before; the pool stays open.
    """
    timeout = timeout if timeout is not None else settings.SYNC_HTTP_TIMEOUT_SECONDS
    return httpx.Client(
        transport=transport if transport is not None else shared_transport(),
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
        headers={"User-Agent": user_agent()},
        follow_redirects=False,
    )


def parse_retry_after(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset``."""
    now = time.time() if now is None else now
    value = response.headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - now)
        except (TypeError, ValueError):
            pass
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            number = float(reset)
        except ValueError:
            try:
                return max(0.0, datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp() - now)
            except ValueError:
                return None
        # Large values are epoch seconds, small ones a delay.
        return max(0.0, number - now) if number > 1_000_000_000 else max(0.0, number)
    return None


def default_classify(response: httpx.Response) -> MarketplaceError | None:
    """Status-code mapping shared by all marketplaces; clients refine it for their quirks."""
    status = response.status_code
    endpoint = f"{response.request.method} {response.request.url.path}"
    if status < 400:
        return None
    if status == 401:
        return AuthError(f"{endpoint} was refused (401): check the credentials.", status_code=status, endpoint=endpoint)
    if status == 403:
        return Forbidden(f"{endpoint} was forbidden (403): check the credentials' permissions.", status_code=status,
                         endpoint=endpoint)
    if status == 404:
        return NotFound(f"{endpoint} found nothing (404).", status_code=status, endpoint=endpoint)
    if status == 429:
        return RateLimited(
            f"{endpoint} is rate limited (429).",
            retry_after=parse_retry_after(response),
            status_code=status,
            endpoint=endpoint,
        )
    if status >= 500 or status == 408:
        return TransientError(f"{endpoint} failed on the marketplace's side ({status}).", status_code=status, endpoint=endpoint)
    snippet = response.text[:300] if response.content else ""
    return InvalidRequest(f"{endpoint} was rejected ({status}): {snippet}", status_code=status, endpoint=endpoint)


class MarketplaceHTTP:
    """Sends requests with retries and maps failures. Holds no secret in its repr."""

    def __init__(
        self,
        *,
        http: httpx.Client,
        base_url: str,
        auth: httpx.Auth | None = None,
        headers: dict[str, str] | None = None,
        classify: Classifier = default_classify,
        secrets: Iterable[str] = (),
        max_retry_wait: float | None = None,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        on_request: Callable[[httpx.Request], None] | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self._auth = auth
        self.headers = headers or {}
        self.classify = classify
        self._secrets = tuple(s for s in secrets if s)
        self.max_retry_wait = settings.SYNC_MAX_RETRY_WAIT_SECONDS if max_retry_wait is None else max_retry_wait
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.on_request = on_request
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"<MarketplaceHTTP base_url={self.base_url!r}>"

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _redact(self, exc: MarketplaceError) -> MarketplaceError:
        exc.args = (redact(str(exc), self._secrets),)
        return exc

    def request(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> httpx.Response:
        """Send, retrying rate limits and transient failures with backoff and jitter.

        ``retry=False`` is for writes that must not be repeated blindly; a 429
        is still retried since the marketplace did not process the request.
        """
        waited = 0.0
        attempt = 0
        headers = {**self.headers, **kwargs.pop("headers", {})}
        endpoint = f"{method} {httpx.URL(self.url(path)).path}"
        while True:
            attempt += 1
            try:
                request = self.http.build_request(method, self.url(path), headers=headers, **kwargs)
                if self.on_request:
                    self.on_request(request)
                self.requests_sent += 1
                response = self.http.send(request, auth=self._auth) if self._auth else self.http.send(request)
                error = self.classify(response)
            except httpx.TimeoutException:
                error = TransientError(f"{endpoint} timed out.", endpoint=endpoint)
            except httpx.TransportError as exc:
                error = TransientError(f"{endpoint} could not connect: {type(exc).__name__}.", endpoint=endpoint)
            if error is None:
                return response
            retryable = isinstance(error, RateLimited) or (retry and isinstance(error, TransientError))
            if not retryable or attempt >= self.max_attempts:
                raise self._redact(error)
            delay = getattr(error, "retry_after", None)
            if delay is None:
                delay = min(30.0, 0.5 * 2 ** (attempt - 1))
            delay += random.uniform(0, min(1.0, delay * 0.25))
            if waited + delay > self.max_retry_wait:
                if isinstance(error, RateLimited):
                    error.retry_after = delay
                raise self._redact(error)
            logger.info("%s: %s; retrying in %.1fs (attempt %d)", endpoint, type(error).__name__, delay, attempt)
            self.sleep(delay)
            waited += delay

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise self._redact(
                BadResponse(
                    f"{method} {httpx.URL(self.url(path)).path} returned a body that is not JSON "
                    f"({len(response.content)} bytes).",
                    status_code=response.status_code,
                )
            ) from exc


