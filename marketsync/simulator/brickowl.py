"""Brick Owl API simulator (``/brickowl/v1/...``).

``key`` in the query for GET and in a form-encoded body for POST; raw JSON
without an envelope where every scalar is a string (except the fee numbers);
``external_lot_ids`` is ``[]`` when empty. Serves ``/order/list``,
``/order/view``, ``/order/items``, ``/inventory/list``, ``/catalog/color_list``,
``/catalog/id_lookup`` and the settable statuses; a control action GETs a
notify URL with ``order_id`` and ``store_id``.

Brick Owl's catalog is its own, and so is this simulator's: colour ids are
Brick Owl's (Black is 38 here, 11 at BrickLink; one colour may list several
BrickLink ids), a lot's colour is only the suffix of its item-and-colour BOID
(``/inventory/list`` has no ``color_id``), ``ids`` lists carry a ``design_id``
that may differ from BrickLink's number ("3069" for "3069b") and carry
``bl_item_no`` for some items only, and types are Brick Owl's names (``Part``,
``Minifigure``, ``Gear``). Only ``/catalog/id_lookup`` names every item's
BrickLink number, and one item has none at all.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Request, Response

from marketsync.simulator.bricklink import BUYERS, COLORS, PARTS
from marketsync.simulator.core import MarketplaceSimulator, SimClock, SimulatorConfig, json_response, simulator_token

STORE_ID = "1"
STATUSES = ["Pending", "Payment Submitted", "Payment Received", "Processing", "Processed", "Shipped", "Received", "On Hold",
            "Cancelled"]
# Pending, then the buyer submits payment (1: not arrived yet), then Payment Received (2): only then ready to ship.
PLAN = [(0, 0), (1, 1), (2, 2), (12, 3), (48, 5), (144, 6)]

# Brick Owl's colours (its own ids; a simulator choice apart from Black = 38), each with the BrickLink ids Brick Owl
# lists for it (``bl_ids``), keyed here by the BrickLink colour the seeded lots share with the BrickLink simulator.
# Yellow lists two, the one the seeded BrickLink store uses second: taking the first blindly splits stock.
COLOR_LIST = {
    "38": ("Black", ["11"]), "81": ("Red", ["5"]), "21": ("White", ["1"]), "95": ("Light Bluish Gray", ["86"]),
    "94": ("Dark Bluish Gray", ["85"]), "36": ("Blue", ["7"]), "64": ("Yellow", ["103", "3"]),
    "101": ("Trans-Clear", ["12"]), "144": ("Pearl Gold", ["115"]),
}
OWL_COLOR = {11: "38", 5: "81", 1: "21", 86: "95", 85: "94", 7: "36", 3: "64"}
FIRST_ITEM_BOID = 400000
# Catalog items that no BrickLink lot shares: (BOID, Brick Owl type, name, BrickLink number or "" for none).
OWL_ONLY_ITEMS = [("547781", "Minifigure", "Battle Droid", "sw0001a"), ("771010", "Gear", "Brick Owl Sorting Tray", "")]


def design_id(part: str) -> str:
    """A LEGO design id is the BrickLink number without its variant letter ("3069b" -> "3069")."""
    return re.sub(r"[a-z]+$", "", part)


def unix(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class BrickOwlSimulator(MarketplaceSimulator):
    prefix = "brickowl"

    @classmethod
    def request_credential(cls, request: Request) -> str:
        return str((request.args if request.method == "GET" else request.form).get("key") or "")

    def __init__(self, *, config: SimulatorConfig, clock: SimClock) -> None:
        super().__init__(seed=config.seed + 1, clock=clock)
        self.config = config
        self.key = simulator_token("brickowl", config.seed)
        self.lots: dict[str, dict] = {}
        self.quantity_updates: list[tuple[str, int]] = []  # (lot, quantity) set by /inventory/update
        self.orders: dict[str, dict] = {}
        self.next_item_id = 9_000_000
        self.started = clock.now()
        self.next_order_at = self.started + timedelta(seconds=config.new_order_every_seconds)
        self._seed_data()
        self._seed_orders()

    def _seed_data(self) -> None:
        self.catalog: dict[str, dict] = {}
        for i, (part, name) in enumerate(PARTS):
            boid = str(FIRST_ITEM_BOID + i)
            self.catalog[boid] = {"type": "Part", "name": name, "bl_item_no": part, "ids": [
                {"id": design_id(part), "type": "design_id"}, {"id": part, "type": "ldraw"}, {"id": part, "type": "peeron_id"},
            ]}
        for boid, kind, name, bl_item_no in OWL_ONLY_ITEMS:
            self.catalog[boid] = {"type": kind, "name": name, "bl_item_no": bl_item_no, "ids": []}
        for n in range(60):
            part, name = PARTS[n % len(PARTS)]
            bl_color, color_name = COLORS[(n * 3 + n // len(PARTS)) % len(COLORS)]
            item = str(FIRST_ITEM_BOID + n % len(PARTS))
            # The BrickLink number is in the lot's ids for some items only (Brick Owl's catalog is patchy there).
            named = n % len(PARTS) % 3 == 0
            self._add_lot(n, item, OWL_COLOR[bl_color], color_name, used=n % 4 == 0, bl_lot=str(100000 + n) if n % 2 == 0 else "",
                          bl_item_no=part if named else "", element=str(4_200_000 + n * 17))
        # The lots random orders draw from: the ones a BrickLink lot shares (Brick Owl-only items sell when a test asks).
        self.order_lots = sorted(self.lots)
        for k, (boid, *_rest) in enumerate(OWL_ONLY_ITEMS):
            self._add_lot(60 + k, boid, "", "", used=False, bl_lot="", bl_item_no="", element="")

    def _add_lot(self, n: int, item: str, color: str, color_name: str, *, used: bool, bl_lot: str, bl_item_no: str,
                 element: str) -> None:
        rng = self.rng
        entry = self.catalog[item]
        boid = f"{item}-{color}" if color else item
        ids = [*entry["ids"], {"id": boid, "type": "boid"}]
        if element:
            ids.append({"id": element, "type": "item_no"})
        if bl_item_no:
            ids.append({"id": bl_item_no, "type": "bl_item_no"})
        lot_id = str(5_000_000 + n)
        self.lots[lot_id] = {
            "lot_id": lot_id, "boid": boid, "type": entry["type"], "name": entry["name"],
            "color_id": color, "color_name": color_name,
            "con": "used" if used else "new", "full_con": "usedg" if used else "new",
            "qty": str(rng.randint(50, 600)), "price": f"{Decimal(rng.randint(20, 900)) / 1000:.3f}", "for_sale": "1",
            "sale_percent": "0", "bulk_qty": "1", "public_note": "",
            "personal_note": f"{'ABCDEFGH'[n % 8]}{1 + n // 8:02d}",
            "external_lot_ids": {"other": bl_lot} if bl_lot else [], "bl_lot_id": bl_lot, "ids": ids,
        }

    def _seed_orders(self) -> None:
        count = self.config.orders
        span = timedelta(days=20)
        for i in range(count):
            order = self._new_order(self.started - span + span * i / max(1, count))
            self._settle(order, self.started)

    def _new_order(self, placed: datetime) -> dict:
        rng = self.rng
        order_id = str(3_500_000 + len(self.orders) + 1)
        roll = rng.random()
        plan = [(placed + timedelta(hours=h), s) for h, s in PLAN]
        if roll < 0.05:
            plan = plan[:1] + [(placed + timedelta(hours=3), 8)]
        elif roll < 0.08:
            plan = plan[:2] + [(placed + timedelta(hours=30), 7)]
        items = []
        for lot_id in rng.sample(self.order_lots, rng.randint(1, 4)):
            items.append(self._line(lot_id, rng.randint(1, 8)))
        buyer = rng.choice(BUYERS)
        order = {"order_id": order_id, "placed": placed, "updated": placed, "status_id": 0, "plan": plan[1:], "items": items,
                 "buyer": buyer, "tracking": None, "ship_total": Decimal(rng.randint(300, 900)) / 100}
        self.orders[order_id] = order
        return order

    def _line(self, lot_id: str, quantity: int) -> dict:
        lot = self.lots[lot_id]
        lot["qty"] = str(max(0, int(lot["qty"]) - quantity))
        self.next_item_id += 1
        return {"order_item_id": str(self.next_item_id), "lot_id": lot_id, "quantity": quantity, "remaining": lot["qty"]}

    def _settle(self, order: dict, until: datetime) -> None:
        while order["plan"] and order["plan"][0][0] <= until:
            moment, status = order["plan"].pop(0)
            order["status_id"], order["updated"] = status, moment
            if status == 5 and not order["tracking"]:
                order["tracking"] = f"LX{order['order_id']}DE"

    def evolve(self, until: datetime) -> None:
        interval = self.config.new_order_every_seconds
        while interval > 0 and self.next_order_at <= until:
            self._new_order(self.next_order_at)
            self.next_order_at += timedelta(seconds=interval)
        for order in self.orders.values():
            if order["plan"] and order["plan"][0][0] <= until:
                self._settle(order, until)

    # --- payloads -----------------------------------------------------------------------------
    def _subtotal(self, order: dict) -> Decimal:
        return sum((Decimal(self.lots[i["lot_id"]]["price"]) * i["quantity"] for i in order["items"]), Decimal(0))

    def _entry(self, order: dict) -> dict:
        total = self._subtotal(order) + order["ship_total"]
        return {
            "order_id": order["order_id"], "order_date": unix(order["placed"]),
            "total_quantity": str(sum(i["quantity"] for i in order["items"])), "total_lots": str(len(order["items"])),
            "base_order_total": f"{total:.2f}", "status": STATUSES[order["status_id"]], "status_id": str(order["status_id"]),
        }

    def _refunded(self, order: dict) -> Decimal:
        return sum((Decimal(self.lots[i["lot_id"]]["price"]) * i.get("refunded", 0) for i in order["items"]), Decimal(0))

    def _view(self, order: dict) -> dict:
        subtotal = self._subtotal(order)
        total = subtotal + order["ship_total"]
        refunded = self._refunded(order)
        processed = order["updated"] if order["status_id"] >= 4 else None
        first, _, last = order["buyer"].partition("_")
        return {
            "order_id": order["order_id"], "store_id": STORE_ID, "status": STATUSES[order["status_id"]],
            "status_id": str(order["status_id"]), "combine_with": None,
            "order_time": unix(order["placed"]), "iso_order_time": iso(order["placed"]),
            "processed_time": unix(processed) if processed else None,
            "iso_processed_time": iso(processed) if processed else "1970-01-01T00:00:00+00:00",
            "ship_method_name": "Tracked Letter", "ship_method_id": "7", "ship_total": f"{order['ship_total']:.2f}",
            "weight": "24", "tracking_number": order["tracking"], "tracking_advice": None,
            "total_quantity": str(sum(i["quantity"] for i in order["items"])), "total_lots": str(len(order["items"])),
            "base_currency": "EUR", "base_order_total": f"{total:.2f}", "sub_total": f"{subtotal:.3f}",
            "coupon_discount": "0.00", "tax_rate": 0, "tax_amount": "0.00", "payment_method_type": "paypal_standard",
            "payment_currency": "EUR", "payment_total": f"{total:.2f}",
            "refund_shipping": "0.00", "refund_adjustment": "0.00", "refund_subtotal": f"{refunded:.2f}",
            "refund_total": f"{refunded:.2f}", "refund_note": "",
            "affiliate_fee": 0.15425, "brickowl_fee": 0.30425,
            "buyer_name": order["buyer"], "buyer_note": "", "customer_email": f"{order['buyer']}@message.brickowl.com",
            "customer_username": order["buyer"], "seller_note": "",
            "ship_first_name": first.title(), "ship_last_name": last.title() or "Builder", "ship_country_code": "DE",
            "ship_country": "Germany", "ship_post_code": "10115", "ship_street_1": "Klemmbausteinweg 3", "ship_street_2": "",
            "ship_city": "Berlin", "ship_region": "", "ship_phone": "",
        }

    def _items(self, order: dict) -> list[dict]:
        rows = []
        for line in order["items"]:
            lot = self.lots[line["lot_id"]]
            rows.append({
                "order_item_id": line["order_item_id"], "lot_id": lot["lot_id"], "boid": lot["boid"], "name": lot["name"],
                "type": lot["type"], "color_id": lot["color_id"], "color_name": lot["color_name"],
                "condition": "New" if lot["con"] == "new" else "Used (Good)", "full_con": lot["full_con"],
                "ordered_quantity": str(line["quantity"]), "refunded_quantity": str(line.get("refunded", 0)),
                "remaining_quantity": line["remaining"],
                "base_price": lot["price"], "weight": "0.82", "personal_note": lot["personal_note"], "public_note": "",
                "bl_lot_id": lot["bl_lot_id"], "external_lot_ids": lot["external_lot_ids"], "ids": lot["ids"],
                "image_small": "//img.brickowl.com/files/image_cache/small/sim.jpg",
            })
        return rows

    # --- routes ---------------------------------------------------------------------------------
    def fault_response(self, kind: str) -> Response:
        if kind == "rate_limit":
            return json_response({"error": "Rate limit exceeded"}, 429, {"Retry-After": str(self.faults.retry_after_seconds)})
        if kind in ("unauthorized", "forbidden"):
            return json_response({"error": "Invalid key"}, 401 if kind == "unauthorized" else 403)
        return json_response({"error": "Internal error"}, 500)

    def handle(self, request: Request, path: str) -> Response:
        if not path.startswith("/v1/"):
            return json_response({"error": "Not found"}, 404)
        params = request.args if request.method == "GET" else request.form
        if params.get("key") != self.key:
            return json_response({"error": "Invalid key"}, 401)
        route = path[len("/v1/") :]
        if request.method == "GET":
            if route == "order/list":
                return json_response(self._order_list(params))
            if route in ("order/view", "order/items"):
                order = self.orders.get(str(params.get("order_id", "")))
                if order is None:
                    return json_response({"error": "Order not found"}, 404)
                return json_response(self._view(order) if route == "order/view" else self._items(order))
            if route == "inventory/list":
                return json_response(self._inventory(params))
            if route == "catalog/color_list":
                return json_response(self._color_list())
            if route == "catalog/id_lookup":
                if not str(params.get("id", "")).strip() or not str(params.get("type", "")).strip():
                    return json_response({"error": "id and type are required"}, 400)
                return json_response(self._id_lookup(params))
        elif route == "order/set_status":
            order = self.orders.get(str(params.get("order_id", "")))
            status = str(params.get("status_id", ""))
            if order is None or status not in {str(s) for s in range(1, 8)}:
                return json_response({"error": "Invalid order or status"}, 400)
            self._set(order, int(status))
            return json_response({"status": "success"})
        elif route == "inventory/update":
            answer, status = self._inventory_update(params)
            return json_response(answer, status)
        elif route == "bulk/batch":
            return self._bulk_batch(params)
        elif route == "order/tracking":
            order = self.orders.get(str(params.get("order_id", "")))
            if order is None:
                return json_response({"error": "Order not found"}, 404)
            order["tracking"] = str(params.get("tracking_id", ""))
            return json_response({"status": "success"})
        return json_response({"error": "Not found"}, 404)

    def _inventory_update(self, params) -> tuple[dict, int]:
        """``/inventory/update``: exactly one of ``lot_id`` / ``external_id``, then ``absolute_quantity`` or
        ``relative_quantity`` (one of them). A lot at 0 stays (not for sale until restocked)."""
        lot_id, external_id = str(params.get("lot_id", "")).strip(), str(params.get("external_id", "")).strip()
        if bool(lot_id) == bool(external_id):
            return {"error": "Exactly one of lot_id or external_id is required"}, 400
        lot = self.lots.get(lot_id) if lot_id else next((x for x in self.lots.values() if x["bl_lot_id"] == external_id), None)
        if lot is None:
            return {"error": "Lot not found"}, 404
        absolute, relative = params.get("absolute_quantity"), params.get("relative_quantity")
        if absolute is not None and relative is not None:
            return {"error": "Give absolute_quantity or relative_quantity, not both"}, 400
        try:
            if absolute is not None:
                quantity = int(absolute)
            elif relative is not None:
                quantity = int(lot["qty"]) + int(relative)
            else:
                return {"error": "Nothing to update"}, 400
        except ValueError:
            return {"error": "Invalid quantity"}, 400
        if quantity < 0:
            return {"error": "Quantity cannot be negative"}, 400
        lot["qty"] = str(quantity)
        self.quantity_updates.append((lot["lot_id"], quantity))
        return {"status": "success"}, 200

    def _bulk_batch(self, params) -> Response:
        """``/bulk/batch``: ``requests`` is a JSON string of ``{"requests": [...]}``, at most 50; answers in order."""
        try:
            requests = json.loads(str(params.get("requests", "")))["requests"]
            assert isinstance(requests, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            return json_response({"error": "requests must be a JSON object with a requests list"}, 400)
        if not 1 <= len(requests) <= 50:
            return json_response({"error": "Between 1 and 50 requests per batch"}, 400)
        answers = []
        for sub in requests:
            if not isinstance(sub, dict) or sub.get("endpoint") != "inventory/update" or not isinstance(sub.get("params"), list):
                answers.append({"error": "Unsupported request"})
                continue
            sub_params = sub["params"][0] if sub["params"] and isinstance(sub["params"][0], dict) else {}
            answers.append(self._inventory_update({k: str(v) for k, v in sub_params.items()})[0])
        return json_response(answers)

    def _order_list(self, params) -> list[dict]:
        if params.get("list_type", "store") == "customer":
            return []
        limit = min(5000, max(1, int(params.get("limit") or 500)))
        since = int(params.get("order_time") or 0)
        status = str(params.get("status", "")).strip()
        rows = []
        for order in self.orders.values():
            if int(order["placed"].timestamp()) < since:
                continue
            if status and status not in (str(order["status_id"]), STATUSES[order["status_id"]]):
                continue
            rows.append(order)
        key = "updated" if params.get("sort_by") == "updated" else "placed"
        rows.sort(key=lambda o: (o[key], o["order_id"]), reverse=True)
        return [self._entry(o) for o in rows[:limit]]

    def _inventory(self, params) -> list[dict]:
        active_only = str(params.get("active_only", "1")) != "0"
        rows = []
        for lot in self.lots.values():
            if active_only and (lot["for_sale"] != "1" or int(lot["qty"]) <= 0):
                continue
            if params.get("lot_id") and params["lot_id"] != lot["lot_id"]:
                continue
            if params.get("type") and params["type"].lower() != lot["type"].lower():
                continue
            if params.get("external_id_1") and params["external_id_1"] != lot["bl_lot_id"]:
                continue
            # No name and no colour id: the colour is only the BOID's suffix.
            rows.append({k: v for k, v in lot.items() if k not in ("name", "color_id", "color_name", "bl_lot_id")})
        return rows

    def _color_list(self) -> dict:
        """Keyed by Brick Owl colour id; ``bl_ids`` are BrickLink's ids for it, as strings."""
        return {color_id: {"id": color_id, "name": name, "bl_ids": list(bl_ids)} for color_id, (name, bl_ids) in COLOR_LIST.items()}

    def _id_lookup(self, params) -> dict:
        """The BOIDs an id names; asked by BOID (``id_type=boid``), also that item's other catalog ids."""
        wanted, kind = str(params.get("id", "")).strip(), str(params.get("type", "")).strip().lower()
        id_type = str(params.get("id_type", "")).strip()
        found = []
        for boid, entry in self.catalog.items():
            if entry["type"].lower() != kind:
                continue
            if id_type == "boid":
                hit = wanted.split("-")[0] == boid
            else:
                names = [*entry["ids"], {"id": entry["bl_item_no"], "type": "bl_item_no"}]
                hit = any(i["id"] == wanted and (not id_type or i["type"] == id_type) for i in names)
            if hit:
                found.append(boid)
        answer: dict[str, Any] = {"boids": found}
        if id_type == "boid" and found:
            entry = self.catalog[found[0]]
            ids = [*entry["ids"], {"id": found[0], "type": "boid"}]
            answer["ids"] = ids + ([{"id": entry["bl_item_no"], "type": "bl_item_no"}] if entry["bl_item_no"] else [])
        return answer

    # --- control ----------------------------------------------------------------------------------
    def _order(self, data: dict) -> dict:
        order = self.orders.get(str(data.get("order_id", "")))
        if order is None:
            raise NotFound(f"no order {data.get('order_id')!r}")
        return order

    def _set(self, order: dict, status: int) -> None:
        order["plan"] = []
        order["status_id"], order["updated"] = status, self.clock.now()
        if status == 5 and not order["tracking"]:
            order["tracking"] = f"LX{order['order_id']}DE"

    def control(self, action: str, data: dict[str, Any]) -> Any:
        if action == "notify":
            url = data.get("url")
            if not url:
                raise BadRequest("notify needs a url")
            order_id = str(data.get("order_id") or max(self.orders, key=int))
            response = httpx.get(url, params={"order_id": order_id, "store_id": STORE_ID}, timeout=5)
            return {"status": response.status_code, "order_id": order_id}
        if action == "new_order":
            order = self._new_order(self.clock.now())
            order["plan"] = [] if data.get("hold", True) else order["plan"]
            return {"order_id": order["order_id"]}
        if action in ("cancel", "ship", "set_status"):
            order = self._order(data)
            status = {"cancel": 8, "ship": 5}.get(action)
            self._set(order, status if status is not None else int(data["status_id"]))
            return {"order_id": order["order_id"], "status_id": str(order["status_id"])}
        if action == "set_quantity":
            order = self._order(data)
            order["items"][int(data.get("line", 0))]["quantity"] = int(data["quantity"])
            return {"order_id": order["order_id"]}
        if action == "refund_line":
            # The seller refunds part of a line: the item's refunded_quantity and the view's refund totals move,
            # the status does not (Brick Owl has no refunded status).
            order = self._order(data)
            line = order["items"][int(data.get("line", 0))]
            quantity = int(data.get("quantity", line["quantity"]))
            if not 0 <= quantity <= line["quantity"]:
                raise BadRequest(f"refunded quantity must be 0 to {line['quantity']}")
            line["refunded"] = quantity
            return {"order_id": order["order_id"], "order_item_id": line["order_item_id"], "refunded_quantity": str(quantity)}
        if action == "state":
            return {"orders": len(self.orders), "lots": len(self.lots), "store_id": STORE_ID}
        if action == "sell":
            # An order of named lots ({lot id: quantity}), held at Pending: how a test sells a Brick Owl-only item.
            lines = {str(k): int(v) for k, v in (data.get("lots") or {}).items()}
            unknown = sorted(k for k in lines if k not in self.lots)
            if not lines or unknown or any(q <= 0 for q in lines.values()):
                raise BadRequest(f"sell needs lots as {{lot id: quantity > 0}}; unknown: {unknown}")
            now = self.clock.now()
            order_id = str(3_500_000 + len(self.orders) + 1)
            self.orders[order_id] = {
                "order_id": order_id, "placed": now, "updated": now, "status_id": 0, "plan": [], "buyer": BUYERS[0],
                "items": [self._line(lot_id, quantity) for lot_id, quantity in lines.items()], "tracking": None,
                "ship_total": Decimal("4.50"),
            }
            return {"order_id": order_id}
        return super().control(action, data)


def build(*, config: SimulatorConfig, clock: SimClock) -> BrickOwlSimulator:
    return BrickOwlSimulator(config=config, clock=clock)
