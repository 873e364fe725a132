"""BrickLink Store API simulator (``/bricklink/api/store/v1/...``).

Verifies OAuth 1.0a HMAC-SHA1 signatures with oauthlib (header or the
``Authorization=<JSON>`` query form), rejects replayed nonces, and answers
auth failures as BrickLink does: HTTP 200 with ``meta.code`` 401 (switchable
to a real HTTP 401), including a switchable ``TOKEN_IP_MISMATCHED``. Serves
orders (no paging; items in batches, a second batch for amended orders),
inventory lots and notifications; can POST an empty body to a callback URL.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import httpx
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Request, Response

from marketsync.simulator.core import EPOCH, MarketplaceSimulator, SimClock, SimulatorConfig, json_response, simulator_token

API_ROOT = "/api/store/v1"
OAUTH_TOKEN = re.compile(r'"?oauth_token"?\s*[=:]\s*"([^"]+)"')
COLORS = [(11, "Black"), (5, "Red"), (1, "White"), (86, "Light Bluish Gray"), (85, "Dark Bluish Gray"), (7, "Blue"), (3, "Yellow")]
PARTS = [
    ("3001", "Brick 2 x 4"), ("3003", "Brick 2 x 2"), ("3020", "Plate 2 x 4"), ("3023", "Plate 1 x 2"),
    ("3069b", "Tile 1 x 2 with Groove"), ("3710", "Plate 1 x 4"), ("2780", "Technic, Pin with Friction Ridges"),
    ("3062b", "Brick, Round 1 x 1 Open Stud"), ("4073", "Plate, Round 1 x 1 Straight Side"), ("54200", "Slope 30 1 x 1 x 2/3"),
]
BUYERS = ["brickfan42", "plate_stacker", "moc_maker", "greeble_guy", "tilequeen", "studs_up", "clutchpower", "minifig_max"]
# status plan of a new order: (hours after ordering, status). READY (invoice sent) comes before the buyer pays.
PLAN = [(0, "PENDING"), (1, "READY"), (2, "PAID"), (24, "PACKED"), (48, "SHIPPED"), (144, "RECEIVED"), (240, "COMPLETED")]
# The order lifecycle (bricklink.md, corrections): statuses before payment, and the lot status filter's letters.
PRE_PAYMENT = ("PENDING", "UPDATED", "PROCESSING", "READY")
STOCKROOMS = {"S": "A", "B": "B", "C": "C"}
LOT_STATUSES = ("Y", "S", "B", "C", "N", "R")
# Every status an order can be moved to, in order, and BrickLink's payment statuses (the seller's writes).
STATUS_CHAIN = ["PENDING", "UPDATED", "PROCESSING", "READY", "PAID", "PACKED", "SHIPPED", "RECEIVED", "COMPLETED"]
PAYMENT_STATUSES = ("None", "Sent", "Received", "Clearing", "Returned", "Bounced", "Completed")


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def money(value: Decimal) -> str:
    return f"{value:.4f}"


def envelope(data: Any = None, *, code: int = 200, message: str = "OK", description: str = "OK", status: int = 200,
             headers: dict | None = None) -> Response:
    body: dict[str, Any] = {"meta": {"code": code, "message": message, "description": description}}
    if data is not None:
        body["data"] = data
    return json_response(body, status, headers)


class BrickLinkSimulator(MarketplaceSimulator):
    prefix = "bricklink"

    @classmethod
    def account_credential(cls, seed: int) -> str:
        return simulator_token("bricklink", seed, "token_value")

    @classmethod
    def request_credential(cls, request: Request) -> str:
        """The access token (``oauth_token``) from the OAuth header or the ``Authorization`` query parameter."""
        found = OAUTH_TOKEN.search(request.headers.get("Authorization", "") or request.args.get("Authorization", ""))
        return unquote(found.group(1)) if found else ""

    def __init__(self, *, config: SimulatorConfig, clock: SimClock) -> None:
        super().__init__(seed=config.seed, clock=clock)
        self.config = config
        self.consumer_key = simulator_token("bricklink", config.seed, "consumer_key")
        self.consumer_secret = simulator_token("bricklink", config.seed, "consumer_secret")
        self.token_value = simulator_token("bricklink", config.seed, "token_value")
        self.token_secret = simulator_token("bricklink", config.seed, "token_secret")
        self.ip_mismatch = False
        self.auth_http_status = 200  # BrickLink answers auth failures with HTTP 200 and meta.code 401
        self.nonces: set[str] = set()
        self.callback_url = ""
        self.lots: dict[int, dict] = {}
        # What PUT /inventories did: (lot, delta) applied, and lots deleted at 0 (tests check both).
        self.quantity_updates: list[tuple[int, int]] = []
        self.deleted_lots: list[int] = []
        self.orders: dict[int, dict] = {}
        self.notifications: list[dict] = []
        self.started = clock.now()
        self.next_order_at = self.started + timedelta(seconds=config.new_order_every_seconds)
        self._seed_data()

    # --- data ---------------------------------------------------------------------------------
    def _seed_data(self) -> None:
        rng = self.rng
        for n in range(60):
            part, name = PARTS[n % len(PARTS)]
            color_id, color_name = COLORS[(n * 3 + n // len(PARTS)) % len(COLORS)]
            inventory_id = 100000 + n
            self.lots[inventory_id] = {
                "inventory_id": inventory_id,
                "item": {"no": part, "name": name, "type": "PART", "category_id": 5},
                "color_id": color_id, "color_name": color_name,
                "quantity": rng.randint(50, 600),
                "new_or_used": "N" if n % 4 else "U",
                "unit_price": money(Decimal(rng.randint(20, 900)) / 1000),
                "description": "",
                "remarks": f"{'ABCDEFGH'[n % 8]}{1 + n // 8:02d}",
                "bulk": 1, "is_retain": False, "is_stock_room": False,
                "date_created": ts(EPOCH),
            }
        count = self.config.orders
        span = timedelta(days=20)
        for i in range(count):
            placed = self.started - span + span * i / max(1, count)
            order = self._new_order(placed, notify=False)
            self._settle_plan(order, self.started)

    def _new_order(self, placed: datetime, *, notify: bool = True, lots: dict[int, int] | None = None) -> dict:
        """A buyer's order: of ``lots`` ({lot id: quantity}) when given, else of one to four random lots."""
        rng = self.rng
        order_id = 8_000_000 + len(self.orders) + 1
        roll = rng.random()
        plan = [(placed + timedelta(hours=h), s) for h, s in PLAN]
        if roll < 0.05:
            plan = plan[:1] + [(placed + timedelta(hours=3), "CANCELLED")]
        elif roll < 0.08:
            plan = plan[:1] + [(placed + timedelta(hours=72), "NPB")]
        if lots:
            batch = [self._order_line(lot_id, quantity) for lot_id, quantity in lots.items()]
        else:
            batch = [self._order_line(lot_id, rng.randint(1, 8)) for lot_id in rng.sample(sorted(self.lots), rng.randint(1, 4))]
        buyer = rng.choice(BUYERS)
        order = {
            "order_id": order_id, "date_ordered": placed, "date_status_changed": placed, "status": "PENDING",
            "buyer_name": buyer, "buyer_email": f"{buyer}@example.invalid", "is_filed": False,
            "batches": [batch], "plan": plan[1:], "shipping_cost": Decimal(rng.randint(300, 900)) / 100,
            "tracking_no": "", "country": rng.choice(["DE", "UK", "US", "NL", "FR"]),
        }
        self.orders[order_id] = order
        self._settle_plan(order, placed)
        if notify:
            self._notify(order_id, placed)
        return order

    def _order_line(self, lot_id: int, quantity: int) -> dict:
        lot = self.lots[lot_id]
        lot["quantity"] = max(0, lot["quantity"] - quantity)
        return {"inventory_id": lot_id, "quantity": quantity}

    def _settle_plan(self, order: dict, until: datetime, *, notify: bool = False) -> None:
        while order["plan"] and order["plan"][0][0] <= until:
            moment, status = order["plan"].pop(0)
            order["status"], order["date_status_changed"] = status, moment
            if status == "SHIPPED" and not order["tracking_no"]:
                order["tracking_no"] = f"1Z{order['order_id']:010d}"
            if notify:
                self._notify(order["order_id"], moment)

    def _notify(self, order_id: int, moment: datetime) -> None:
        self.notifications.append({"event_type": "Order", "resource_id": order_id, "timestamp": ts(moment)})
        if self.callback_url:
            self._post_callback(self.callback_url)

    def _post_callback(self, url: str, *, wait: bool = False) -> int | None:
        result: dict[str, int] = {}

        def send() -> None:
            try:
                result["status"] = httpx.post(url, content=b"", timeout=5).status_code
            except httpx.HTTPError:
                result["status"] = 0

        if wait:
            send()
            return result.get("status")
        threading.Thread(target=send, daemon=True).start()
        return None

    def evolve(self, until: datetime) -> None:
        interval = self.config.new_order_every_seconds
        while interval > 0 and self.next_order_at <= until:
            self._new_order(self.next_order_at)
            self.next_order_at += timedelta(seconds=interval)
        for order in self.orders.values():
            if order["plan"] and order["plan"][0][0] <= until:
                self._settle_plan(order, until, notify=True)

    # --- payloads -------------------------------------------------------------------------------
    def _item(self, line: dict) -> dict:
        lot = self.lots[line["inventory_id"]]
        return {
            "inventory_id": lot["inventory_id"], "item": dict(lot["item"]), "color_id": lot["color_id"],
            "color_name": lot["color_name"], "quantity": line["quantity"], "new_or_used": lot["new_or_used"],
            "unit_price": lot["unit_price"], "unit_price_final": lot["unit_price"], "disp_unit_price": lot["unit_price"],
            "disp_unit_price_final": lot["unit_price"], "currency_code": "EUR", "disp_currency_code": "EUR",
            "remarks": lot["remarks"], "description": lot["description"], "weight": "0.82",
        }

    def _subtotal(self, order: dict) -> Decimal:
        return sum(
            (Decimal(self.lots[line["inventory_id"]]["unit_price"]) * line["quantity"] for batch in order["batches"] for line in batch),
            Decimal(0),
        )

    def _summary(self, order: dict) -> dict:
        subtotal = self._subtotal(order)
        grand = subtotal + order["shipping_cost"]
        lines = [line for batch in order["batches"] for line in batch]
        return {
            "order_id": order["order_id"], "date_ordered": ts(order["date_ordered"]),
            "date_status_changed": ts(order["date_status_changed"]), "seller_name": "simstore", "store_name": "Sim Bricks",
            "buyer_name": order["buyer_name"], "total_count": sum(line["quantity"] for line in lines), "unique_count": len(lines),
            "status": order["status"], "is_filed": order["is_filed"],
            "payment": {"method": "PayPal", "status": self._payment_status(order), "currency_code": "EUR"},
            "cost": {"currency_code": "EUR", "subtotal": money(subtotal), "grand_total": money(grand)},
            "disp_cost": {"currency_code": "EUR", "subtotal": money(subtotal), "grand_total": money(grand)},
        }

    @staticmethod
    def _payment_status(order: dict) -> str:
        """``Received`` once paid (PAID and after, or marked paid by the seller), ``None`` before."""
        if order.get("payment_status"):
            return order["payment_status"]
        return "None" if order["status"] in PRE_PAYMENT else "Received"

    def _detail(self, order: dict) -> dict:
        data = self._summary(order)
        subtotal = self._subtotal(order)
        grand = subtotal + order["shipping_cost"]
        data.update({
            "buyer_email": order["buyer_email"], "buyer_order_count": 3, "require_insurance": False, "is_invoiced": True,
            "drive_thru_sent": order.get("drive_thru_sent", False), "salesTax_collected_by_bl": False, "remarks": "",
            "total_weight": "12.40",
            "shipping": {
                "method": "Standard", "method_id": 1,
                "address": {"name": {"full": order["buyer_name"].replace("_", " ").title()}, "full": "1 Brick Lane",
                            "address1": "1 Brick Lane", "city": "Billund", "postal_code": "7190",
                            "country_code": order["country"]},
            },
            "cost": {"currency_code": "EUR", "subtotal": money(subtotal), "grand_total": money(grand),
                     "final_total": money(grand), "shipping": money(order["shipping_cost"]), "insurance": "0.0000",
                     "etc1": "0.0000", "etc2": "0.0000", "credit": "0.0000", "coupon": "0.0000", "vat_rate": "0.0000",
                     "vat_amount": "0.0000", "salesTax_collected_by_BL": "0.0000"},
        })
        if order["tracking_no"]:
            data["shipping"]["tracking_no"] = order["tracking_no"]
            data["shipping"]["date_shipped"] = ts(order["date_status_changed"])
        if order.get("tracking_link"):
            data["shipping"]["tracking_link"] = order["tracking_link"]
        if order.get("date_shipped"):
            data["shipping"]["date_shipped"] = order["date_shipped"]
        return data

    # --- order writes (bricklink.md §2 and §9): status, payment status, tracking, drive-thru ---------------------
    def _status_allowed(self, current: str, target: str) -> bool:
        """The documented simulator rule: forward along the chain, CANCELLED from any non-terminal status."""
        if current in ("COMPLETED", "CANCELLED", "PURGED"):
            return False
        if target == "CANCELLED":
            return True
        if current not in STATUS_CHAIN or target not in STATUS_CHAIN:
            return False
        return STATUS_CHAIN.index(target) > STATUS_CHAIN.index(current)

    def _order_write(self, request: Request, parts: list[str]) -> Response:
        order = self.orders.get(int(parts[1])) if parts[1].isdigit() else None
        if order is None:
            return envelope(code=404, message="RESOURCE_NOT_FOUND", description="Order not found", status=404)
        action = parts[2] if len(parts) == 3 else ""
        if (request.method, action) == ("POST", "drive_thru"):
            order["drive_thru_sent"] = True
            return envelope(code=204, message="OK_NO_CONTENT", description="OK")
        if request.method != "PUT" or action not in ("", "status", "payment_status"):
            return envelope(code=405, message="METHOD_NOT_ALLOWED", description="not simulated", status=405)
        try:
            body = json.loads(request.get_data() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return envelope(code=400, message="INVALID_REQUEST_BODY", description="A request has been made with a malformed JSON body.",
                            status=400)
        if action in ("status", "payment_status"):
            value = body.get("value")
            if body.get("field") != action or not isinstance(value, str):
                return envelope(code=400, message="PARAMETER_MISSING_OR_INVALID",
                                description=f"field must be {action!r} and value a string", status=400)
            if action == "payment_status":
                if value not in PAYMENT_STATUSES:
                    return envelope(code=400, message="PARAMETER_MISSING_OR_INVALID", description=f"unknown payment status {value}",
                                    status=400)
                order["payment_status"] = value
                return envelope(code=204, message="OK_NO_CONTENT", description="OK")
            if not self._status_allowed(order["status"], value.upper()):
                # BrickLink says so in an HTTP 200 with meta.code 422.
                return envelope(code=422, message="RESOURCE_UPDATE_NOT_ALLOWED",
                                description=f"The status of the order cannot be changed from {order['status']} to {value}.")
            self._set_status(order, value.upper())
            return envelope(code=204, message="OK_NO_CONTENT", description="OK")
        shipping = body.get("shipping") if isinstance(body.get("shipping"), dict) else {}
        # Only these are applied; the rest is silently ignored (bricklink.md §2).
        if "tracking_no" in shipping:
            order["tracking_no"] = str(shipping["tracking_no"] or "")
        if "tracking_link" in shipping:
            order["tracking_link"] = str(shipping["tracking_link"] or "")
        if "date_shipped" in shipping:
            order["date_shipped"] = str(shipping["date_shipped"] or "")
        if "is_filed" in body:
            order["is_filed"] = bool(body["is_filed"])
        return envelope(self._detail(order))

    # --- auth -----------------------------------------------------------------------------------
    def _auth_failure(self, description: str) -> Response:
        return envelope(code=401, message="BAD_OAUTH_REQUEST", description=description, status=self.auth_http_status)

    def _check_auth(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        query = request.query_string.decode()
        headers = {"Authorization": header} if header.startswith("OAuth") else None
        params = [(k, v) for k, v in oauth_signature.collect_parameters(uri_query=query, headers=headers, exclude_oauth_signature=False)
                  if k != "Authorization"]
        if headers is None and request.args.get("Authorization"):
            try:
                fields = json.loads(request.args["Authorization"])
            except ValueError:
                return self._auth_failure("INVALID_AUTHORIZATION")
            params += [(str(k), str(v)) for k, v in fields.items() if str(k).startswith("oauth_")]
        oauth = dict(p for p in params if p[0].startswith("oauth_"))
        if not oauth.get("oauth_signature"):
            return self._auth_failure("SIGNATURE_INVALID")
        if self.ip_mismatch:
            return self._auth_failure(f"TOKEN_IP_MISMATCHED: consumer: {oauth.get('oauth_consumer_key', '')} IP: 127.0.0.1")
        if oauth.get("oauth_consumer_key") != self.consumer_key or oauth.get("oauth_token") != self.token_value:
            return self._auth_failure("SIGNATURE_INVALID")
        oauth_request = OAuthRequest(request.base_url, http_method=request.method, body=None, headers={})
        oauth_request.params = [p for p in params if p[0] not in ("oauth_signature", "realm")]
        oauth_request.signature = oauth["oauth_signature"]
        if not oauth_signature.verify_hmac_sha1(oauth_request, self.consumer_secret, self.token_secret):
            return self._auth_failure("SIGNATURE_INVALID")
        nonce = f"{oauth.get('oauth_timestamp')}:{oauth.get('oauth_nonce')}"
        if nonce in self.nonces:
            return self._auth_failure("NONCE_USED")
        self.nonces.add(nonce)
        return None

    # --- routes ---------------------------------------------------------------------------------
    def fault_response(self, kind: str) -> Response:
        if kind == "rate_limit":
            return envelope(code=429, message="TOO_MANY_REQUESTS", description="Call limit exceeded", status=429,
                            headers={"Retry-After": str(self.faults.retry_after_seconds)})
        if kind == "unauthorized":
            return self._auth_failure("SIGNATURE_INVALID")
        if kind == "forbidden":
            return envelope(code=403, message="PERMISSION_DENIED", description="Permission denied")
        return envelope(code=500, message="INTERNAL_SERVER_ERROR", description="Internal server error", status=500)

    def handle(self, request: Request, path: str) -> Response:
        if not path.startswith(API_ROOT + "/") or path.endswith("/"):
            return envelope(code=400, message="INVALID_URI", description="A request has been made to a malformed URI.", status=400)
        failure = self._check_auth(request)
        if failure is not None:
            return failure
        parts = path[len(API_ROOT) + 1 :].split("/")
        if parts[0] == "inventories" and len(parts) == 2:
            return self._inventory_one(request, parts[1])
        if request.method in ("PUT", "POST") and parts[0] == "orders" and len(parts) in (2, 3):
            return self._order_write(request, parts)
        if request.method != "GET":
            return envelope(code=405, message="METHOD_NOT_ALLOWED", description="not simulated", status=405)
        if parts == ["orders"]:
            return envelope(self._order_list(request.args))
        if parts[0] == "orders" and len(parts) in (2, 3):
            order = self.orders.get(int(parts[1])) if parts[1].isdigit() else None
            if order is None or (len(parts) == 3 and parts[2] != "items"):
                return envelope(code=404, message="RESOURCE_NOT_FOUND", description="Order not found", status=404)
            if len(parts) == 2:
                return envelope(self._detail(order))
            return envelope([[self._item(line) for line in batch] for batch in order["batches"] if batch])
        if parts == ["inventories"]:
            return envelope(self._inventory_list(request.args))
        if parts == ["notifications"]:
            unread, self.notifications = self.notifications, []
            return envelope(unread)
        return envelope(code=404, message="RESOURCE_NOT_FOUND", description="Unknown resource", status=404)

    @staticmethod
    def _filter(value: str, options: str) -> bool:
        wanted = [o.strip().upper() for o in options.split(",") if o.strip()]
        include = [o for o in wanted if not o.startswith("-")]
        exclude = [o[1:] for o in wanted if o.startswith("-")]
        value = str(value).upper()
        return (not include or value in include) and value not in exclude

    def _order_list(self, args) -> list[dict]:
        if args.get("direction", "in").lower() == "out":
            return []
        filed = args.get("filed", "false").lower() == "true"
        status = args.get("status", "")
        return [
            self._summary(o) for o in sorted(self.orders.values(), key=lambda o: o["order_id"], reverse=True)
            if o["is_filed"] == filed and (not status or self._filter(o["status"], status))
        ]

    def _inventory_one(self, request: Request, raw_id: str) -> Response:
        """``GET``/``PUT /inventories/{id}``: a PUT's ``quantity`` is a signed delta ("+3", "-2" or a bare integer);
        a lot that reaches 0 is deleted unless ``is_retain`` is true; remarks and description not re-sent are cleared
        (BrickSync's issue #41)."""
        lot = self.lots.get(int(raw_id)) if raw_id.isdigit() else None
        if lot is None:
            return envelope(code=404, message="RESOURCE_NOT_FOUND", description="Inventory not found", status=404)
        if request.method == "GET":
            return envelope(dict(lot))
        if request.method == "DELETE":
            del self.lots[lot["inventory_id"]]
            return envelope(code=204, message="OK", description="OK", status=200)
        if request.method != "PUT":
            return envelope(code=405, message="METHOD_NOT_ALLOWED", description="not simulated", status=405)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return envelope(code=400, message="PARAMETER_MISSING_OR_INVALID", description="body is not a JSON object", status=400)
        if "quantity" in body:
            raw = str(body["quantity"]).strip()
            try:
                delta = int(raw)
            except ValueError:
                return envelope(code=400, message="PARAMETER_MISSING_OR_INVALID", description="quantity", status=400)
            if lot["quantity"] + delta < 0:
                return envelope(code=400, message="PARAMETER_MISSING_OR_INVALID",
                                description="quantity would be negative", status=400)
            lot["quantity"] += delta
            self.quantity_updates.append((lot["inventory_id"], delta))
        if "is_retain" in body:
            lot["is_retain"] = bool(body["is_retain"])
        lot["remarks"] = str(body.get("remarks", ""))
        lot["description"] = str(body.get("description", ""))
        for field in ("unit_price", "bulk"):
            if field in body:
                lot[field] = body[field]
        if lot["quantity"] == 0 and not lot["is_retain"]:
            del self.lots[lot["inventory_id"]]
            self.deleted_lots.append(lot["inventory_id"])
        return envelope(dict(lot))

    def _inventory_list(self, args) -> list[dict]:
        lots = []
        for lot in self.lots.values():
            if args.get("item_type") and not self._filter(lot["item"]["type"], args["item_type"]):
                continue
            if args.get("color_id") and not self._filter(str(lot["color_id"]), args["color_id"]):
                continue
            if args.get("status") and not self._filter(lot.get("_status", "Y"), args["status"]):
                continue
            lots.append({k: v for k, v in lot.items() if not k.startswith("_")})
        return lots

    # --- control ----------------------------------------------------------------------------------
    def _order(self, data: dict) -> dict:
        try:
            return self.orders[int(data["order_id"])]
        except (KeyError, ValueError, TypeError) as exc:
            raise NotFound(f"no order {data.get('order_id')!r}") from exc

    def _set_status(self, order: dict, status: str) -> None:
        now = self.clock.now()
        order["plan"] = []  # a controlled order no longer follows its plan
        order["status"], order["date_status_changed"] = status, max(now, order["date_status_changed"] + timedelta(seconds=1))
        if status == "SHIPPED" and not order["tracking_no"]:
            order["tracking_no"] = f"1Z{order['order_id']:010d}"
        self._notify(order["order_id"], now)

    def control(self, action: str, data: dict[str, Any]) -> Any:
        if action == "callback":
            url = data.get("url") or self.callback_url
            if not url:
                raise BadRequest("callback needs a url")
            return {"status": self._post_callback(url, wait=True)}
        if action == "set_callback":
            self.callback_url = str(data.get("url", ""))
            return {"callback_url": self.callback_url}
        if action == "ip_mismatch":
            self.ip_mismatch = bool(data.get("on", True))
            return {"ip_mismatch": self.ip_mismatch}
        if action == "auth_http_status":
            self.auth_http_status = int(data.get("status", 200))
            return {"auth_http_status": self.auth_http_status}
        if action == "new_order":
            order = self._new_order(self.clock.now())
            order["plan"] = [] if data.get("hold", True) else order["plan"]
            return {"order_id": order["order_id"]}
        if action == "sell":
            # A buyer's checkout of named lots ({lot id: quantity}), held at PENDING: BrickLink sells no more than a
            # lot holds and lowers it by what it sold.
            try:
                lines = {int(k): int(v) for k, v in (data.get("lots") or {}).items()}
            except (TypeError, ValueError) as exc:
                raise BadRequest("sell needs lots as {lot id: quantity}") from exc
            short = sorted(k for k, q in lines.items() if k not in self.lots or not 0 < q <= self.lots[k]["quantity"])
            if not lines or short:
                raise BadRequest(f"sell needs lots as {{lot id: quantity}} the lots hold; not so for {short}")
            order = self._new_order(self.clock.now(), lots=lines)
            order["plan"] = []
            return {"order_id": order["order_id"]}
        if action == "amend":
            order = self._order(data)
            lot_id = int(data["inventory_id"]) if data.get("inventory_id") else self.rng.choice(sorted(self.lots))
            order["batches"].append([self._order_line(lot_id, int(data.get("quantity", 2)))])
            self._notify(order["order_id"], self.clock.now())
            return {"order_id": order["order_id"], "batches": len(order["batches"])}
        if action == "set_quantity":
            order = self._order(data)
            line = order["batches"][int(data.get("batch", 0))][int(data.get("line", 0))]
            line["quantity"] = int(data["quantity"])
            self._notify(order["order_id"], self.clock.now())
            return {"order_id": order["order_id"]}
        if action in ("cancel", "ship", "set_status"):
            order = self._order(data)
            status = {"cancel": "CANCELLED", "ship": "SHIPPED"}.get(action) or str(data["status"]).upper()
            self._set_status(order, status)
            return {"order_id": order["order_id"], "status": status}
        if action == "file":
            # The seller files (or unfiles) an order: it leaves (or rejoins) the default GET /orders list, no push.
            order = self._order(data)
            order["is_filed"] = bool(data.get("filed", True))
            return {"order_id": order["order_id"], "is_filed": order["is_filed"]}
        if action == "pay":
            # The buyer's money arrives (or the seller marks it, as PUT /orders/{id}/payment_status does): the
            # payment status moves, the order status need not.
            order = self._order(data)
            order["payment_status"] = str(data.get("payment_status", "Received"))
            return {"order_id": order["order_id"], "payment_status": order["payment_status"]}
        if action == "purge":
            # About six months after an order closes BrickLink deletes its items and marks it PURGED (the system,
            # never the seller). The items endpoint then answers an empty list.
            order = self._order(data)
            self._set_status(order, "PURGED")
            order["batches"] = []
            return {"order_id": order["order_id"], "status": "PURGED"}
        if action == "set_lot_status":
            # A lot moved to a stockroom (S, B, C: is_stock_room with stock_room_id A/B/C), made unavailable (N),
            # reserved for a buyer (R), or back for sale (Y). Only the stockroom has fields; every status answers
            # GET /inventories?status=... filters.
            lot = self.lots.get(int(data.get("inventory_id", 0)))
            status = str(data.get("status", "")).upper()
            if lot is None or status not in LOT_STATUSES:
                raise BadRequest(f"set_lot_status needs a known inventory_id and a status among {LOT_STATUSES}")
            lot["_status"] = status
            lot["is_stock_room"] = status in STOCKROOMS
            if status in STOCKROOMS:
                lot["stock_room_id"] = STOCKROOMS[status]
            else:
                lot.pop("stock_room_id", None)
            return {"inventory_id": lot["inventory_id"], "status": status}
        if action == "set_tracking":
            # shipping.tracking_no edited (as PUT /orders/{id} does): not in the list entry, no status change, no push.
            order = self._order(data)
            order["tracking_no"] = str(data.get("tracking_no", ""))
            return {"order_id": order["order_id"], "tracking_no": order["tracking_no"]}
        if action == "state":
            return {"orders": len(self.orders), "lots": len(self.lots), "unread_notifications": len(self.notifications),
                    "ip_mismatch": self.ip_mismatch}
        return super().control(action, data)


def build(*, config: SimulatorConfig, clock: SimClock) -> BrickLinkSimulator:
    return BrickLinkSimulator(config=config, clock=clock)
