"""What a Brick Owl notification carries in its query string, and a Refurbed one in its JSON body."""

from __future__ import annotations

import json
import re

from django import forms

ORDER_ID = re.compile(r"\A[0-9]{1,20}\Z")
# What a connection's webhook token can look like (``secrets.token_urlsafe``): anything else names no connection,
# and is not looked up (a NUL in a query is an error on PostgreSQL).
WEBHOOK_TOKEN = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")


class BrickOwlNotifyForm(forms.Form):
    order_id = forms.RegexField(regex=ORDER_ID, error_messages={"required": "order_id must be a number",
                                                               "invalid": "order_id must be a number"})
    store_id = forms.CharField(required=False, max_length=64)

    def error_text(self) -> str:
        return "order_id must be a number" if "order_id" in self.errors else "store_id is not a store id"


# Refurbed's order ids are int64; a larger figure names no order and is refused before any look-up.
REFURBED_ORDER_ID_MAX = 2**63 - 1
REFURBED_BODY_MAX = 4096  # the documented body is {"order_id": <number>}: anything far larger is not one


def refurbed_order_id(body: bytes) -> tuple[str, str]:
    """The order id of a Refurbed Instant Order Notification body (``{"order_id": 1234}``, a JSON number; a string
    of digits is taken too): ``(order_id, "")``, or ``("", what is wrong)``."""
    if len(body) > REFURBED_BODY_MAX:
        return "", "the body is too large for an order notification"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested past what the parser follows
        return "", 'the body must be JSON: {"order_id": <number>}'
    value = data.get("order_id") if isinstance(data, dict) else None
    if isinstance(value, str) and ORDER_ID.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return "", "order_id must be a number"
    if not 0 < value <= REFURBED_ORDER_ID_MAX:
        return "", "order_id is not an order id"
    return str(value), ""
