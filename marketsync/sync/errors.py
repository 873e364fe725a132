"""The few exceptions the engine understands. Every adapter maps HTTP failures onto these.

Messages name the endpoint and the record, never a credential: clients build
them from the method and path only, and redact them against the connection's
secrets before raising.
"""

from __future__ import annotations


class MarketplaceError(Exception):
    """Base of every failure talking to a marketplace."""

    kind = "transient"

    def __init__(self, message: str, *, status_code: int | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.endpoint = endpoint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


PUBLIC_MESSAGE_MAX = 300


def public_message(exc: MarketplaceError) -> str:
    """The error as a merchant's page shows it: the marketplace's words without our internal API path, bounded
    in length (a marketplace may echo what it was sent)."""
    text = str(exc)
    if exc.endpoint:
        text = text.replace(f"{exc.endpoint} ", "The request ", 1) if text.startswith(exc.endpoint) else text
        text = text.replace(exc.endpoint, "the request")
    text = " ".join(text.split())
    return text if len(text) <= PUBLIC_MESSAGE_MAX else f"{text[: PUBLIC_MESSAGE_MAX - 1]}…"


class AuthError(MarketplaceError):
    """The marketplace refused the credentials (401): sync stops until they are replaced."""

    kind = "auth"


class Forbidden(AuthError):
    """The marketplace knows the credentials but refuses the call: a missing permission (403), this server's IP
    not allowed (BrickLink ``TOKEN_IP_MISMATCHED``), or a passing permission hiccup.

    Unlike a refused key, this can heal without new credentials (the IP comes back, a permission is granted), so
    the engine re-probes it on a slow backoff. The message says what the owner can fix, in the marketplace's words.
    """

    kind = "forbidden"


class TransientError(MarketplaceError):
    """5xx, timeouts, resets, edge/WAF challenges: worth retrying later."""

    kind = "transient"


class RateLimited(TransientError):
    """429 or a budget exhausted. ``retry_after`` is seconds to wait, when the marketplace said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class BadResponse(MarketplaceError):
    """A response that does not parse or breaks the documented contract."""

    kind = "bad_data"


class NotFound(MarketplaceError):
    """404: the record does not exist (or is not visible to these credentials)."""

    kind = "bad_data"


class InvalidRequest(MarketplaceError):
    """4xx refusing what we sent (validation, illegal transition): the message says why."""

    kind = "bad_data"


class BadRecord(Exception):
    """One record of a page that cannot be read; the rest of the page is kept."""

    def __init__(self, record_id: str, message: str) -> None:
        super().__init__(f"record {record_id}: {message}")
        self.record_id = str(record_id)
        self.message = message
