"""Keeping credentials out of text: exceptions, log lines and error columns.

Two layers: callers that hold a secret pass it to ``redact`` explicitly, and a
logging filter scrubs the shapes credentials take on the wire (auth headers,
``key=`` query parameters, OAuth fields) as a last line of defence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "[redacted]"

_WIRE_PATTERNS = [
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(basic|plain|bearer|oauth)?\s*[^\s\"',]+"),
    re.compile(r"(?i)((?:^|[?&\s])(?:key|api_key|token|oauth_token|oauth_consumer_key|oauth_signature)=)[^&\s\"']+"),
    re.compile(r"(?i)(oauth_(?:token|consumer_key|signature)=\")[^\"]+"),
]


def fingerprint(secret: str) -> str:
    """What may be shown of a secret: its last four characters."""
    if not secret:
        return ""
    return "…" + secret[-4:] if len(secret) > 8 else "…"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for pattern in _WIRE_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
