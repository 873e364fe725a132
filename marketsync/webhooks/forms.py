"""What a Brick Owl notification carries in its query string."""

from __future__ import annotations

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
