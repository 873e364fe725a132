"""Brick Owl API client on the shared HTTP layer: ``key`` in the query for GET, in a form body for POST.

Responses are raw JSON without an envelope, nearly every scalar a string;
the mapping parses them. The key travels in URLs, so it is redacted from
every error and never part of an error message (paths only).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from marketsync.sync.errors import BadResponse, InvalidRequest, MarketplaceError
from marketsync.sync.http import MarketplaceHTTP, default_classify

BASE_URL = "https://api.brickowl.com/v1"
BATCH_LIMIT = 50  # sub-requests per /bulk/batch call


def classify(response: httpx.Response) -> MarketplaceError | None:
    error = default_classify(response)  # 401: AuthError, 403: Forbidden
    if error is not None and response.status_code == 401:
        error.args = (
            f"{error.endpoint}: Brick Owl refused the API key (401). Check the key and that it has "
            "the order and inventory permissions (Profile, API Keys).",
        )
    elif error is not None and response.status_code == 403:
        error.args = (
            f"Brick Owl refuses {error.endpoint} (403): check that the API key is the right one and has the order and "
            "inventory permissions (Profile, API Keys at Brick Owl).",
        )
    return error


class BrickOwlClient:
    def __init__(
        self,
        *,
        http: httpx.Client,
        api_key: str,
        base_url: str = "",
        sleep: Callable[[float], None] = time.sleep,
        on_request: Callable[[httpx.Request], None] | None = None,
    ) -> None:
        self._key = api_key
        self.http = MarketplaceHTTP(http=http, base_url=base_url or BASE_URL, classify=classify, secrets=(api_key,), sleep=sleep,
                                    on_request=on_request)

    def __repr__(self) -> str:
        return f"<BrickOwlClient {self.http.base_url}>"

    def probe(self) -> None:
        """One cheap authenticated call ("Test connection"): the newest order, if any."""
        self.order_list(limit=1)

    def get(self, path: str, **params: Any) -> Any:
        query = {"key": self._key, **{k: str(v) for k, v in params.items() if v is not None}}
        return self.http.json("GET", path, params=query)

    def post(self, path: str, **fields: Any) -> dict:
        body = self.http.json("POST", path, data={"key": self._key, **{k: str(v) for k, v in fields.items()}}, retry=False)
        if not isinstance(body, dict) or body.get("status") != "success":
            raise InvalidRequest(f"POST {path} was not accepted by Brick Owl: {str(body)[:200]}", endpoint=f"POST {path}")
        return body

    def order_list(self, *, order_time: int | None = None, status: str | None = None, limit: int = 5000,
                   list_type: str = "store", sort_by: str | None = None) -> list[dict]:
        data = self.get("/order/list", order_time=order_time, status=status, limit=limit, list_type=list_type, sort_by=sort_by)
        if isinstance(data, dict) and not data:
            return []
        if not isinstance(data, list):
            raise BadResponse("GET /order/list returned no list of orders.")
        return data

    def order_view(self, order_id: str) -> dict:
        data = self.get("/order/view", order_id=order_id)
        if not isinstance(data, dict):
            raise BadResponse(f"GET /order/view returned no order for {order_id}.")
        return data

    def order_items(self, order_id: str) -> list[dict]:
        data = self.get("/order/items", order_id=order_id)
        if isinstance(data, dict):
            data = list(data.values())
        if not isinstance(data, list):
            raise BadResponse(f"GET /order/items returned no list for {order_id}.")
        return data

    def color_list(self) -> dict[str, dict]:
        """Brick Owl's colours keyed by its own colour id, each with ``name`` and ``bl_ids`` (BrickLink's ids)."""
        data = self.get("/catalog/color_list")
        if isinstance(data, list):  # tolerate a list of entries: key them by their id
            data = {str(entry.get("id")): entry for entry in data if isinstance(entry, dict) and entry.get("id") is not None}
        if not isinstance(data, dict):
            raise BadResponse("GET /catalog/color_list returned no colour list.")
        return data

    def id_lookup(self, item_id: str, *, item_type: str, id_type: str = "boid") -> dict:
        """The catalog's answer for one id: ``boids`` (and, asked by BOID, the item's other ``ids``, among them
        ``bl_item_no`` when Brick Owl knows BrickLink's number)."""
        data = self.get("/catalog/id_lookup", id=item_id, type=item_type, id_type=id_type)
        if isinstance(data, list):  # an empty answer may come as []
            data = {"boids": data}
        if not isinstance(data, dict):
            raise BadResponse(f"GET /catalog/id_lookup returned no answer for {item_id}.")
        return data

    def inventory_list(self) -> list[dict]:
        # active_only=0: the default (1) hides sold-out and not-for-sale lots.
        data = self.get("/inventory/list", active_only=0)
        if isinstance(data, dict):
            data = list(data.values())
        if not isinstance(data, list):
            raise BadResponse("GET /inventory/list returned no list of lots.")
        return data

    # --- stock push: lot quantities -------------------------------------------------------------------------

    def inventory_set_quantity(self, lot_id: str, quantity: int) -> dict:
        """Set one lot's quantity (``absolute_quantity``: repeating it changes nothing)."""
        return self.post("/inventory/update", lot_id=lot_id, absolute_quantity=int(quantity))

    def inventory_set_quantities(self, quantities: list[tuple[str, int]]) -> list[dict | MarketplaceError]:
        """Set many lots' quantities in one ``/bulk/batch`` call (at most ``BATCH_LIMIT`` sub-requests): per lot, in
        request order, its answer, or the error Brick Owl gave that sub-request (anything but ``status: success``)."""
        if not 1 <= len(quantities) <= BATCH_LIMIT:
            raise ValueError(f"/bulk/batch takes 1 to {BATCH_LIMIT} requests, not {len(quantities)}")
        requests = [{"endpoint": "inventory/update", "request_method": "POST",
                     "params": [{"lot_id": str(lot_id), "absolute_quantity": int(qty)}]} for lot_id, qty in quantities]
        body = self.http.json("POST", "/bulk/batch", data={"key": self._key, "requests": json.dumps({"requests": requests})},
                              retry=False)
        if isinstance(body, dict) and isinstance(body.get("responses"), list):  # tolerate an enveloped answer
            body = body["responses"]
        if not isinstance(body, list) or len(body) != len(requests):
            raise BadResponse(f"POST /bulk/batch returned no answer per request: {str(body)[:200]}", endpoint="POST /bulk/batch")
        answers: list[dict | MarketplaceError] = []
        for (lot_id, _), answer in zip(quantities, body, strict=True):
            if isinstance(answer, dict) and answer.get("status") == "success":
                answers.append(answer)
            else:
                answers.append(InvalidRequest(f"Brick Owl refused the update of lot {lot_id}: {str(answer)[:200]}",
                                              endpoint="POST /bulk/batch inventory/update"))
        return answers

    # Order writes (form-encoded with the key; ``post`` never repeats them blindly).
    def order_set_status(self, order_id: str, status_id: int) -> None:
        self.post("/order/set_status", order_id=order_id, status_id=status_id)

    def order_tracking(self, order_id: str, tracking_id: str) -> None:
        self.post("/order/tracking", order_id=order_id, tracking_id=tracking_id)
