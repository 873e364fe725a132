"""Back Market Seller API simulator: orders and orderlines, listings and bulk tasks, BackShip.

Follows ``shared/marketplaces/backmarket.md`` and Back Market's OpenAPI document:
``Authorization: Basic <token>``; ``page``/``page-size`` (default 10, at most 50)
with ``{count, next, previous, results}`` and absolute ``next`` URLs; integer
states; money as decimal strings; addresses in snake_case as real responses
send them; BackShip objects in camelCase; errors the way Back Market renders
them (HTML 429 from the edge with no Retry-After, WAF 403 in HTML or as a
``bot-need-challenge`` JSON, ``ErrorResponseV1`` bodies, bare JSON strings
for 400s on listing writes).

Control actions (``POST /_sim/backmarket/<action>``): ``waf`` (``{"count", "form":
"html"|"challenge"}``), ``unauthorized`` (``{"count"}``), ``task_outcome``
(``{"outcome": "failure"}`` for the next bulk task), ``remove_listing``
(``{"sku"}``), ``touch_order`` (``{"order_id"}``), ``new_order``, ``label_fail``
(``{"count"}``), ``summary``.
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from marketsync.simulator.core import MarketplaceSimulator, SimClock, SimulatorConfig, json_response, simulator_token

PAGE_SIZE_DEFAULT = 10
PAGE_SIZE_MAX = 50
CSV_MAX_LINES = 15_000
LOCALE_RE = re.compile(r"^[a-z]{2}-[a-z]{2}$")
PARIS = timezone(timedelta(hours=2))

# Orderline transitions the merchant may request (documented table).
TRANSITIONS = {1: {2, 4}, 2: {3, 5}, 3: {6}}
CANCELLED_LINE_STATES = {4, 5, 6, 7}

PRODUCTS = [
    ("iPhone 13 128 Go - Minuit - Débloqué", "Apple", 429),
    ("iPhone 12 64 Go - Bleu - Débloqué", "Apple", 319),
    ("iPhone SE (2022) 64 Go - Rouge - Débloqué", "Apple", 229),
    ("Galaxy S21 128 Go - Gris - Débloqué", "Samsung", 289),
    ("Galaxy A54 5G 128 Go - Noir - Débloqué", "Samsung", 219),
    ("Pixel 7 128 Go - Obsidian - Débloqué", "Google", 279),
    ("MacBook Air 13\" M1 (2020) 8 Go 256 Go SSD", "Apple", 649),
    ("iPad 9 (2021) 64 Go - Gris sidéral - WiFi", "Apple", 259),
    ("AirPods Pro (2e génération)", "Apple", 169),
    ("Apple Watch Series 7 GPS 41 mm", "Apple", 219),
    ("Xperia 10 IV 128 Go - Noir - Débloqué", "Sony", 199),
    ("Fairphone 4 256 Go - Vert - Débloqué", "Fairphone", 389),
]
GRADES = [("PREMIUM", 9, 10), ("EXCELLENT", 0, 10), ("VERY_GOOD", 1, 11), ("GOOD", 2, 11), ("FAIR", 3, 12)]
FIRST_NAMES = ["Camille", "Louis", "Chloé", "Hugo", "Léa", "Jules", "Manon", "Arthur", "Inès", "Nathan"]
LAST_NAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"]
CITIES = [("Paris", "75011"), ("Lyon", "69003"), ("Marseille", "13006"), ("Lille", "59000"), ("Nantes", "44000")]
CARRIERS = [(1, "UPS", "https://www.ups.com/track?tracknum={}"), (2, "DHL Express", "https://www.dhl.com/fr-fr/track?id={}")]

HTML_429 = (
    "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)
HTML_403 = (
    "<!DOCTYPE html><html lang=\"en-US\"><head><title>Attention Required! | Cloudflare</title></head>"
    "<body><div id=\"cf-wrapper\"><h1>Sorry, you have been blocked</h1>"
    "<p>This website is using a security service to protect itself from online attacks.</p>"
    "<p>Cloudflare Ray ID: <strong>{ray}</strong></p></div></body></html>"
)


def minimal_pdf(text: str) -> bytes:
    """A tiny, valid one-page PDF (xref offsets computed) showing ``text``."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 36 760 Td ({safe}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def parse_when(value: str) -> datetime:
    """RFC 3339 (Z, offset, fractions), ``YYYY-MM-DD HH:MM:SS`` or a date; naive means UTC."""
    value = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class BadRequest(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def error_v1(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}, "requestId": uuid.uuid4().hex}, status)


class BackMarketSimulator(MarketplaceSimulator):
    prefix = "backmarket"

    @classmethod
    def request_credential(cls, request: Request) -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "basic" else ""

    def __init__(self, *, config: SimulatorConfig, clock: SimClock) -> None:
        super().__init__(seed=config.seed, clock=clock)
        self.config = config
        self.token = simulator_token("backmarket", config.seed)
        self.orders: dict[int, dict] = {}
        self.lines: dict[int, dict] = {}
        self.listings: list[dict] = []
        self.tasks: dict[int, dict] = {}
        self.deliveries: dict[int, dict] = {}
        self.returns: dict[int, dict] = {}
        self.labels: dict[str, bytes] = {}
        self.invoices: dict[int, list[tuple[str, int]]] = {}
        self.forced_waf: list[str] = []
        self.forced_unauthorized = 0
        self.label_failures = 0
        self.next_task_outcome = ""
        self._edge: deque[float] = deque()
        self._edge_limit = config.rate_limit_per_second * 10
        self._next_order_id = 70_000_001
        self._next_line_id = 90_000_001
        self._next_shipment_id = 5_000_001
        self._next_task_id = 1_200_001
        self._next_legacy_listing = 400_001
        self.started = clock.now().replace(microsecond=0)
        self._seed()
        self._next_order_at = self.started + timedelta(seconds=config.new_order_every_seconds)
        self._pending_payment: dict[int, datetime] = {}

    # ---------------------------------------------------------------- seed data
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _seed(self) -> None:
        for index in range(max(60, min(240, self.config.orders // 2 + 20))):
            title, brand, base = PRODUCTS[index % len(PRODUCTS)]
            grade, legacy_state, _ = GRADES[(index // len(PRODUCTS)) % len(GRADES)]
            price = Decimal(base) - Decimal(10 * GRADES.index(next(g for g in GRADES if g[0] == grade))) + Decimal(index % 7)
            quantity = self.rng.choice([0, 1, 2, 3, 5, 8, 12]) if index % 9 else 0
            publication = 2 if quantity else 3
            if index % 23 == 5:
                publication = 1
            elif index % 29 == 7:
                publication = 4
            legacy = self._next_legacy_listing
            self._next_legacy_listing += 1
            self.listings.append({
                "id": self._uuid(),
                "listing_id": legacy,
                "product_id": self._uuid(),
                "backmarket_id": 100_000 + index,
                "sku": f"BM-{brand[:3].upper()}-{index:04d}-{grade[:2]}",
                "title": title,
                "price": f"{price:.2f}",
                "currency": "EUR",
                "min_price": f"{price * Decimal('0.9'):.2f}" if index % 3 else None,
                "max_price": f"{price * Decimal('1.3'):.2f}",
                "quantity": quantity,
                "publication_state": publication,
                "grade": grade,
                "state": legacy_state,
                "warranty_delay": 12 if index % 4 else 24,
                "comment": "Batterie neuve" if index % 5 == 0 else None,
                "new_battery": index % 5 == 0,
                "shippings": [{
                    "shipping_price": "0.00", "shipping_delay": 48, "shipper": "COLISSIMO",
                    "shipper_display": "Colissimo", "country_code": "fr-fr",
                }],
                "_brand": brand,
                "_ean": f"{190_000_000_000 + index:013d}",
            })
        count = self.config.orders
        step = timedelta(minutes=30)
        for n in range(count):
            created = self.started - step * (count - n)
            age = self.started - created
            if n % 37 == 3:
                kind = "new_unpaid"
            elif n % 41 == 4:
                kind = "not_paid"
            elif n % 43 == 5:
                kind = "pending"
            elif age > timedelta(hours=48):
                kind = "shipped"
            elif age > timedelta(hours=24):
                kind = "accepted"
            else:
                kind = "paid"
            self._create_order(created, kind=kind, backship=(n % 5 in (0, 2)), index=n)

    def _address(self, customer: int, order_id: int, kind: str) -> dict:
        first = FIRST_NAMES[customer % len(FIRST_NAMES)]
        last = LAST_NAMES[(customer // 3) % len(LAST_NAMES)]
        city, postal = CITIES[customer % len(CITIES)]
        return {
            "company": "", "first_name": first, "first_name_pronunciation": "", "last_name": last,
            "last_name_pronunciation": "", "gender": customer % 2, "street": f"{10 + customer % 90} rue de la Paix",
            "street2": "" if customer % 4 else "Bâtiment B", "postal_code": postal, "country": "FR", "city": city,
            "phone": f"+33 6 {customer % 100:02d} {(customer * 7) % 100:02d} 00 00",
            "email": f"{kind}_{customer}_{order_id}@backmarket.fr", "customer_id_number": "",
        }

    def _create_order(self, created: datetime, *, kind: str, backship: bool, index: int,
                      picks: list[tuple[dict, int]] | None = None) -> dict:
        """An order of ``kind``: of ``picks`` ((listing, quantity), each lowering the listing's quantity as a sale
        does) when given, else of one or two random live listings."""
        order_id = self._next_order_id
        self._next_order_id += 1
        customer = 1000 + self.rng.randrange(5000)
        live = [item for item in self.listings if item["publication_state"] == 2] or self.listings
        line_count = len(picks) if picks else 2 if index % 6 == 1 else 1
        order_state, line_state = {
            "new_unpaid": (0, 0), "not_paid": (8, 8), "pending": (10, 8), "paid": (1, 1),
            "accepted": (3, 2), "shipped": (9, 3),
        }[kind]
        modified = created + {
            "new_unpaid": timedelta(0), "not_paid": timedelta(hours=1), "pending": timedelta(0),
            "paid": timedelta(minutes=5), "accepted": timedelta(hours=2), "shipped": timedelta(hours=30),
        }[kind]
        lines = []
        for position in range(line_count):
            if picks:
                listing, quantity = picks[position]
                listing["quantity"] = max(0, int(listing["quantity"]) - quantity)  # "sales decrement automatically"
            else:
                listing = live[self.rng.randrange(len(live))]
                quantity = 1 if position == 0 or self.rng.random() < 0.7 else 2
            state = line_state
            return_reason = 0
            if kind == "shipped" and index % 11 == 0 and position == 0:
                state, return_reason = 6, 21
            elif kind in ("paid", "accepted") and line_count == 2 and position == 1 and index % 4 == 1 and not picks:
                state = 4
            line = {
                "id": self._next_line_id, "date_creation": created, "state": state, "price": listing["price"],
                "shipping_price": "0.00", "shipping_delay": 48, "shipper": "", "currency": "EUR",
                "return_reason": return_reason, "return_message": "Écran défectueux" if return_reason else "",
                "listing": listing["sku"], "listing_id": listing["listing_id"],
                "orderline_fee": f"{Decimal(listing['price']) * Decimal('0.1'):.2f}", "product": listing["title"],
                "quantity": quantity, "brand": listing["_brand"], "product_id": listing["backmarket_id"],
                "backcare": index % 7 == 0, "backcare_price": 1299 if index % 7 == 0 else 0,
                "sales_taxes": f"{Decimal(listing['price']) / 6:.2f}",
                "imei": "", "serial_number": "", "condition": GRADES[[g[0] for g in GRADES].index(listing["grade"])][2],
                "_order_id": order_id,
            }
            if kind == "shipped" and quantity == 1 and index % 3 == 0:
                line["imei"] = self._imei(index)
            self._next_line_id += 1
            lines.append(line)
            self.lines[line["id"]] = line
        total = sum(Decimal(line["price"]) * line["quantity"] for line in lines)
        method = ["CARD", "PAYPAL", "CARD", "ONEY3X", "APPLEPAY"][index % 5]
        order = {
            "order_id": order_id, "state": order_state, "country_code": "fr-fr", "date_creation": created,
            "date_modification": modified, "date_payment": created + timedelta(minutes=5) if order_state not in (0, 8, 10) else None,
            "date_shipping": None, "expected_dispatch_date": created + timedelta(days=2),
            "tracking_number": "", "tracking_url": "", "shipper": "", "shipper_display": "", "is_backship": backship,
            "price": f"{total:.2f}", "shipping_price": "0.00", "sales_taxes": f"{total / 6:.2f}", "currency": "EUR",
            "paypal_reference": f"PP{order_id}" if method == "PAYPAL" else None, "psp_reference": f"PSP{order_id:012d}",
            "installment_payment": method == "ONEY3X", "payment_method": method,
            "customer": customer, "lines": [line["id"] for line in lines], "date_bill_provided": None,
        }
        self.orders[order_id] = order
        if kind in ("accepted", "shipped") and backship:
            self._create_delivery(order, created + timedelta(hours=2))
        if kind == "shipped":
            carrier = CARRIERS[index % 2]
            tracking = f"1Z{order_id:010d}"
            delivery = next((d for d in self.deliveries.values() if d["order"] == order_id), None)
            if delivery:
                tracking = delivery["trackingNumber"]
                delivery["hubScanned"] = True
                delivery["datePickup"] = created + timedelta(hours=26)
                delivery["dateDelivery"] = created + timedelta(hours=50)
            order.update(
                tracking_number=tracking, tracking_url=carrier[2].format(tracking), shipper=carrier[1],
                shipper_display=carrier[1], date_shipping=created + timedelta(hours=30),
            )
            for line in lines:
                line["shipper"] = carrier[1]
            returned = [line for line in lines if line["state"] == 6]
            if returned and backship:
                self._create_return(order, returned[0], created + timedelta(days=3))
        return order

    def _imei(self, index: int) -> str:
        body = f"35{(self.seed * 1_000_003 + index * 7919) % 10**12:012d}"
        for check in range(10):
            if luhn_ok(body + str(check)):
                return body + str(check)
        raise AssertionError("unreachable")

    def _create_delivery(self, order: dict, when: datetime) -> dict:
        shipment_id = self._next_shipment_id
        self._next_shipment_id += 1
        carrier_id, carrier, url = CARRIERS[shipment_id % 2]
        tracking = f"{carrier[:2].upper()}{shipment_id:012d}"
        name = f"eu-{self._uuid()}-1.pdf"
        self.labels[name] = minimal_pdf(f"BackShip label {shipment_id} order {order['order_id']}")
        delivery = {
            "order": order["order_id"], "shipmentId": shipment_id, "carrierId": carrier_id,
            "orderlines": [lid for lid in order["lines"] if self.lines[lid]["state"] not in (4, 5, 7)],
            "referenceNumber": f"REF{shipment_id}", "trackingNumber": tracking, "trackingUrl": url.format(tracking),
            "carrierName": carrier, "hubScanned": False, "invoicedCurrency": "EUR", "invoicedPrice": 690,
            "datePickup": when + timedelta(days=1), "dateCreation": when, "dateDelivery": None,
            # Relative to the host, as in the spec's example; the simulator lives under its prefix.
            "labelUrl": f"/{self.prefix}/static/shipment_labels/{name}", "type": "DELIVERY",
            "pickupInfo": {
                "confirmationNumber": f"CONF{shipment_id}", "datePickupActual": "", "datePickupRangeStart": when + timedelta(days=1),
                "datePickupRangeEnd": when + timedelta(days=1, hours=4), "datePickupRequested": when,
                "isCanceled": False, "pickupId": shipment_id * 10,
            },
        }
        self.deliveries[shipment_id] = delivery
        return delivery

    def _create_return(self, order: dict, line: dict, when: datetime) -> dict:
        shipment_id = self._next_shipment_id
        self._next_shipment_id += 1
        carrier_id, carrier, url = CARRIERS[0]
        tracking = f"RT{shipment_id:012d}"
        name = f"eu-{self._uuid()}-return.pdf"
        self.labels[name] = minimal_pdf(f"BackShip return label {shipment_id}")
        item = {
            "orderId": order["order_id"], "orderlineId": line["id"], "shipmentId": shipment_id, "carrierId": carrier_id,
            "carrierName": carrier, "dateCreation": when, "referenceNumber": f"RET{shipment_id}",
            "trackingNumber": tracking, "trackingUrl": url.format(tracking), "hubScanned": False,
            "datePickup": when + timedelta(days=1), "dateDelivery": None,
            "label": f"@host/{self.prefix}/static/shipment_labels/{name}",  # made absolute when rendered
            "invoicedPrice": 790, "invoicedCurrency": "EUR", "type": "RETURN",
        }
        self.returns[shipment_id] = item
        return item

    # ---------------------------------------------------------------- the clock
    def evolve(self, until: datetime) -> None:
        every = timedelta(seconds=max(1.0, self.config.new_order_every_seconds))
        created = 0
        while self._next_order_at <= until and created < 500:
            index = self._next_order_id - 70_000_001
            order = self._create_order(self._next_order_at, kind="pending" if index % 13 == 0 else "paid",
                                       backship=index % 5 in (0, 2), index=index)
            if order["state"] == 10:
                self._pending_payment[order["order_id"]] = self._next_order_at + timedelta(minutes=15)
            self._next_order_at += every
            created += 1
        for order_id, due in list(self._pending_payment.items()):
            if due <= until:
                order = self.orders[order_id]
                order["state"] = 1
                order["date_payment"] = due
                for line_id in order["lines"]:
                    self.lines[line_id]["state"] = 1
                order["date_modification"] = due
                del self._pending_payment[order_id]

    # ---------------------------------------------------------------- faults
    def fault_response(self, kind: str) -> Response:
        if kind == "rate_limit":
            return Response(HTML_429, status=429, content_type="text/html", headers={"server": "cloudflare", "cf-ray": self._ray()})
        if kind == "forbidden":
            return self._waf("html")
        if kind == "unauthorized":
            return error_v1(401, "unauthorized", "Authentication credentials were not provided or are invalid.")
        return error_v1(500, "internal_error", "An internal error occurred.")

    def _ray(self) -> str:
        return f"{self.rng.getrandbits(64):016x}-CDG"

    def _waf(self, form: str) -> Response:
        if form == "challenge":
            body = {"errors": [{"code": "bot-need-challenge", "message": "Forbidden", "challengePath": "/testchallengepage"}]}
            return json_response(body, 403, {"server": "cloudflare", "cf-ray": self._ray()})
        return Response(HTML_403.format(ray=self._ray()), status=403, content_type="text/html; charset=UTF-8",
                        headers={"server": "cloudflare", "cf-ray": self._ray()})

    def control(self, action: str, data: dict[str, Any]) -> Any:
        if action == "waf":
            form = data.get("form", "html")
            if form not in ("html", "challenge"):
                raise ValueError("form must be 'html' or 'challenge'")
            self.forced_waf.extend([form] * int(data.get("count", 1)))
            return {"forced_waf": len(self.forced_waf)}
        if action == "unauthorized":
            self.forced_unauthorized += int(data.get("count", 1))
            return {"forced_unauthorized": self.forced_unauthorized}
        if action == "task_outcome":
            outcome = data.get("outcome", "")
            if outcome not in ("", "success", "failure"):
                raise ValueError("outcome must be 'success' or 'failure'")
            self.next_task_outcome = outcome
            return {"next_task_outcome": outcome}
        if action == "remove_listing":
            before = len(self.listings)
            self.listings = [item for item in self.listings if item["sku"] != data.get("sku") and item["id"] != data.get("id")]
            return {"removed": before - len(self.listings)}
        if action == "touch_order":
            order = self.orders[int(data["order_id"])]
            order["date_modification"] = self.clock.now()
            return {"order_id": order["order_id"]}
        if action == "new_order":
            index = self._next_order_id - 70_000_001
            order = self._create_order(self.clock.now(), kind="paid", backship=bool(data.get("backship", False)), index=index)
            return {"order_id": order["order_id"]}
        if action == "sell":
            # A buyer's paid checkout of named listings ({listing id or sku: quantity}): Back Market sells no more
            # than a listing's quantity and lowers it by what it sold.
            wanted = {str(k): int(v) for k, v in (data.get("listings") or {}).items()}
            picks, short = [], []
            for key, quantity in wanted.items():
                found = [x for x in self.listings if key in (x["id"], x["sku"], str(x["listing_id"]))]
                if not found or not 0 < quantity <= int(found[0]["quantity"]):
                    short.append(key)
                else:
                    picks.append((found[0], quantity))
            if not picks or short:
                raise ValueError(f"sell needs listings as {{id or sku: quantity}} they hold; not so for {sorted(short)}")
            index = self._next_order_id - 70_000_001
            order = self._create_order(self.clock.now(), kind="paid", backship=False, index=index, picks=picks)
            return {"order_id": order["order_id"]}
        if action == "payment_failed":
            # The customer's payment fails: the order becomes 8 (not paid), which GET /ws/orders hides unless
            # asked for by state; its lines become 7 (payment refused, final).
            order = self.orders[int(data["order_id"])]
            if order["state"] not in (0, 10):
                raise ValueError(f"order {order['order_id']} is in state {order['state']}, not awaiting payment")
            order["state"], order["date_modification"] = 8, self.clock.now()
            for line_id in order["lines"]:
                self.lines[line_id]["state"] = 7
            self._pending_payment.pop(order["order_id"], None)
            return {"order_id": order["order_id"], "state": 8}
        if action == "label_fail":
            self.label_failures += int(data.get("count", 1))
            return {"label_failures": self.label_failures}
        if action == "summary":
            return {"orders": len(self.orders), "listings": len(self.listings), "deliveries": len(self.deliveries),
                    "returns": len(self.returns), "tasks": len(self.tasks)}
        return super().control(action, data)

    # ---------------------------------------------------------------- rendering
    def _when(self, value: datetime | None, style: int) -> str | None:
        if value is None:
            return None
        if style == 0:
            return value.astimezone(PARIS).isoformat(timespec="seconds")
        if style == 1:
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _naive(self, value: datetime | str | None) -> str:
        if not isinstance(value, datetime):
            return value or ""
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def render_line(self, line: dict, style: int) -> dict:
        out = {k: v for k, v in line.items() if not k.startswith("_")}
        out["date_creation"] = self._when(line["date_creation"], style)
        return out

    def render_order(self, order: dict, request: Request) -> dict:
        style = order["order_id"] % 3
        host = request.host_url.rstrip("/")
        out = {
            "order_id": order["order_id"], "state": order["state"],
            "shipping_address": self._address(order["customer"], order["order_id"], "shipping"),
            "billing_address": self._address(order["customer"], order["order_id"], "billing"),
            "delivery_note": f"{host}/{self.prefix}/static/delivery_notes/{order['order_id']}.pdf",
            "tracking_number": order["tracking_number"], "tracking_url": order["tracking_url"],
            "shipper": order["shipper"], "shipper_display": order["shipper_display"], "is_backship": order["is_backship"],
            "date_creation": self._when(order["date_creation"], style),
            "date_modification": self._when(order["date_modification"], style),
            "orderlines": [self.render_line(self.lines[lid], style) for lid in order["lines"]],
            "price": order["price"], "shipping_price": order["shipping_price"], "currency": order["currency"],
            "country_code": order["country_code"], "paypal_reference": order["paypal_reference"],
            "psp_reference": order["psp_reference"], "installment_payment": order["installment_payment"],
            "payment_method": order["payment_method"], "sales_taxes": order["sales_taxes"],
            "date_bill_provided": self._when(order["date_bill_provided"], style),
        }
        # The spec types these as non-nullable date-times: sent only once known.
        for key in ("date_payment", "date_shipping", "expected_dispatch_date"):
            if order[key] is not None:
                out[key] = self._when(order[key], style)
        return out

    def render_listing(self, listing: dict, *, single: bool = False) -> dict:
        out = {k: v for k, v in listing.items() if not k.startswith("_")}
        if single:
            out["statuscode"] = 200
        return out

    def render_delivery(self, delivery: dict) -> dict:
        out = {k: self._naive(v) if isinstance(v, datetime) or v is None else v for k, v in delivery.items() if k != "pickupInfo"}
        out["pickupInfo"] = {k: self._naive(v) if isinstance(v, datetime) else v for k, v in delivery["pickupInfo"].items()}
        return out

    def render_return(self, item: dict, request: Request) -> dict:
        out = {k: self._naive(v) if isinstance(v, datetime) or v is None else v for k, v in item.items()}
        out["label"] = item["label"].replace("@host", request.host_url.rstrip("/"))
        return out

    def page(self, request: Request, items: list, render) -> Response:
        try:
            page = int(request.args.get("page", "1"))
            size = int(request.args.get("page-size", str(PAGE_SIZE_DEFAULT)))
        except ValueError:
            raise BadRequest(error_v1(400, "invalid_parameter", "page and page-size must be integers")) from None
        if page < 1 or size < 1:
            raise BadRequest(error_v1(400, "invalid_parameter", "page and page-size must be positive"))
        size = min(size, PAGE_SIZE_MAX)
        start = (page - 1) * size
        chunk = items[start:start + size]
        base = request.host_url.rstrip("/") + request.path

        def link(number: int) -> str:
            args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"] + [("page", str(number))]
            return f"{base}?{urlencode(args)}"

        return json_response({
            "count": len(items),
            "next": link(page + 1) if start + size < len(items) else None,
            "previous": link(page - 1) if page > 1 and start - size < len(items) else None,
            "results": [render(item) for item in chunk],
        })

    # ---------------------------------------------------------------- routing
    def handle(self, request: Request, path: str) -> Response:
        if path.startswith("/static/"):
            return self._static(path)
        if self._edge_limit:
            now = time.monotonic()
            while self._edge and now - self._edge[0] > 10:
                self._edge.popleft()
            if len(self._edge) >= self._edge_limit:
                return self.fault_response("rate_limit")
            self._edge.append(now)
        if self.forced_waf:
            return self._waf(self.forced_waf.pop(0))
        agent = request.headers.get("User-Agent", "")
        if not agent.startswith("BM-") or ";" not in agent:
            return self._waf("html")
        if self.forced_unauthorized:
            self.forced_unauthorized -= 1
            return self.fault_response("unauthorized")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or token.strip() != self.token:
            return self.fault_response("unauthorized")
        locale = request.headers.get("Accept-Language")
        if locale is not None and not LOCALE_RE.match(locale):
            return error_v1(400, "invalid_locale", f"Accept-Language must look like fr-fr, got {locale!r}")
        try:
            return self._route(request, path)
        except BadRequest as exc:
            return exc.response

    def _route(self, request: Request, path: str) -> Response:
        method = request.method
        parts = [p for p in path.split("/") if p]
        if parts[:1] != ["ws"]:
            return error_v1(404, "not_found", "Not found")
        rest = parts[1:]
        if rest == ["orders"] and method == "GET":
            return self.list_orders(request)
        if len(rest) == 2 and rest[0] == "orders":
            order = self._order(rest[1])
            if method == "GET":
                return json_response(self.render_order(order, request))
            if method == "POST":
                return self.update_order(request, order)
            return self._not_allowed()
        if len(rest) == 3 and rest[0] == "orders" and rest[2] == "invoice":
            if method != "POST":
                return self._not_allowed()
            return self.upload_invoice(request, self._order(rest[1]))
        if len(rest) == 2 and rest[0] == "orderlines":
            if method != "PATCH":
                return self._not_allowed()
            return self.patch_orderline(request, rest[1])
        if rest == ["listings"]:
            if method == "GET":
                return self.list_listings(request)
            if method == "POST":
                return self.bulk_listings(request)
            return self._not_allowed()
        if rest == ["listings", "detail"] and method == "GET":
            return self.listing_detail(request)
        if len(rest) == 2 and rest[0] == "listings":
            listing = self._listing(rest[1])
            if method == "GET":
                return json_response(self.render_listing(listing, single=True))
            if method == "POST":
                return self.update_listing(request, listing)
            return self._not_allowed()
        if len(rest) == 2 and rest[0] == "tasks" and method == "GET":
            return self.get_task(rest[1])
        if rest[:3] == ["shipping", "v1", "deliveries"] or rest[:3] == ["shipping", "v1", "returns"]:
            if method != "GET":
                return self._not_allowed()
            return self.backship(request, rest[2], rest[3] if len(rest) > 3 else None)
        return error_v1(404, "not_found", "Not found")

    def _not_allowed(self) -> Response:
        return error_v1(405, "method_not_allowed", "Method not allowed")

    def _static(self, path: str) -> Response:
        name = path.rsplit("/", 1)[-1]
        if self.label_failures and path.startswith("/static/shipment_labels/"):
            self.label_failures -= 1
            return Response("<html><body>502 Bad Gateway</body></html>", status=502, content_type="text/html")
        if path.startswith("/static/shipment_labels/") and name in self.labels:
            return Response(self.labels[name], content_type="application/pdf")
        if path.startswith("/static/delivery_notes/") and name.removesuffix(".pdf").isdigit():
            return Response(minimal_pdf(f"Bon de livraison {name.removesuffix('.pdf')}"), content_type="application/pdf")
        return Response("<html><body>Not Found</body></html>", status=404, content_type="text/html")

    # ---------------------------------------------------------------- orders
    def _order(self, raw: str) -> dict:
        if not raw.isdigit() or int(raw) not in self.orders:
            raise BadRequest(Response("Webservices unavailable", status=404, content_type="text/plain"))
        return self.orders[int(raw)]

    def list_orders(self, request: Request) -> Response:
        items = list(self.orders.values())
        state = request.args.get("state")
        try:
            if state is not None:
                items = [o for o in items if o["state"] == int(state)]
            else:
                items = [o for o in items if o["state"] not in (0, 8)]
            for key in ("date_creation", "date_modification"):
                if request.args.get(key):
                    since = parse_when(request.args[key])
                    items = [o for o in items if o[key] >= since]
        except ValueError:
            raise BadRequest(json_response("Invalid filter value", 400)) from None
        if request.args.get("country_code"):
            items = [o for o in items if o["country_code"] == request.args["country_code"]]
        items.sort(key=lambda o: o["order_id"])
        return self.page(request, items, lambda o: self.render_order(o, request))

    def update_order(self, request: Request, order: dict) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return json_response("The body must be a JSON object", 400)
        if body.get("order_id") not in (None, order["order_id"]) and str(body.get("order_id")) != str(order["order_id"]):
            return json_response("order_id does not match the order in the path", 400)
        try:
            new_state = int(body.get("new_state"))
        except (TypeError, ValueError):
            return json_response("new_state is required", 400)
        now = self.clock.now()
        if new_state == 3:
            tracking = str(body.get("tracking_number") or "").strip()
            if not tracking:
                return json_response("tracking_number is required to ship an order", 400)
            if len(tracking) > 200 or len(str(body.get("tracking_url") or "")) > 300 or len(str(body.get("shipper") or "")) > 200:
                return json_response("tracking_number, tracking_url or shipper is too long", 400)
            lines = [self.lines[lid] for lid in order["lines"]]
            active = [line for line in lines if line["state"] not in CANCELLED_LINE_STATES]
            blocked = [line for line in active if line["state"] != 2]
            if not active or blocked:
                states = ", ".join(f"{line['id']}:{line['state']}" for line in blocked) or "none active"
                message = f"Order {order['order_id']} cannot be shipped: every orderline must be accepted (2) first ({states})"
                return json_response(message, 400)
            if body.get("imei") or body.get("serial_number"):
                if len(active) != 1 or active[0]["quantity"] != 1:
                    return json_response("imei and serial_number are only accepted for a single-line order of quantity 1", 400)
                error = self._set_identifiers(active[0], body.get("imei"), body.get("serial_number"))
                if error:
                    return json_response(error, 400)
            for line in active:
                line["state"] = 3
                line["shipper"] = str(body.get("shipper") or "")
            order.update(
                state=9, tracking_number=tracking, tracking_url=str(body.get("tracking_url") or ""),
                shipper=str(body.get("shipper") or ""), shipper_display=str(body.get("shipper") or ""),
                date_shipping=parse_when(body["date_shipping"]) if body.get("date_shipping") else now,
            )
        elif new_state in (2, 4, 5, 6):
            sku = str(body.get("sku") or "")
            lines = [self.lines[lid] for lid in order["lines"] if self.lines[lid]["listing"].lower() == sku.lower()]
            if not sku or not lines:
                return json_response(f"No orderline with sku {sku!r} in order {order['order_id']}", 400)
            line = lines[0]
            if new_state not in TRANSITIONS.get(line["state"], set()):
                return json_response(f"Orderline {line['id']} cannot go from state {line['state']} to state {new_state}", 400)
            line["state"] = new_state
            if new_state in (5, 6):
                line["return_reason"] = int(body.get("return_reason") or 0)
                line["return_message"] = str(body.get("return_message") or "")[:500]
            active = [self.lines[lid] for lid in order["lines"] if self.lines[lid]["state"] not in CANCELLED_LINE_STATES]
            if order["state"] == 1 and active and all(item["state"] == 2 for item in active):
                order["state"] = 3
                if order["is_backship"] and not any(d["order"] == order["order_id"] for d in self.deliveries.values()):
                    self._create_delivery(order, now)
        else:
            return json_response(f"new_state {new_state} cannot be set by the merchant", 400)
        order["date_modification"] = now
        return json_response(self.render_order(order, request))

    def _set_identifiers(self, line: dict, imei: Any, serial: Any) -> str:
        if imei:
            imei = str(imei)
            if line["imei"]:
                return f"Orderline {line['id']} already has an IMEI; it cannot be changed"
            if not (len(imei) == 15 and imei.isdigit() and luhn_ok(imei)):
                return "imei must be 15 digits with a valid check digit"
        if serial:
            serial = str(serial)
            if line["serial_number"]:
                return f"Orderline {line['id']} already has a serial number; it cannot be changed"
            if len(serial) > 50:
                return "serial_number must be at most 50 characters"
        if imei:
            line["imei"] = imei
        if serial:
            line["serial_number"] = serial
        return ""

    def patch_orderline(self, request: Request, raw: str) -> Response:
        if not raw.isdigit() or int(raw) not in self.lines:
            return Response("Webservices unavailable", status=404, content_type="text/plain")
        line = self.lines[int(raw)]
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not (body.get("imei") or body.get("serial_number")):
            return json_response("imei or serial_number is required", 400)
        imei, serial = body.get("imei"), body.get("serial_number")
        if imei and (not str(imei).isdigit() or len(str(imei)) != 15 or not luhn_ok(str(imei))):
            return json_response({"error": {"code": "invalid_imei", "message": "imei must be 15 digits with a valid check digit"}}, 422)
        if serial and len(str(serial)) > 50:
            return json_response({"error": {"code": "invalid_serial_number", "message": "serial_number is too long"}}, 422)
        error = self._set_identifiers(line, imei, serial)
        if error:
            return json_response(error, 400)
        self.orders[line["_order_id"]]["date_modification"] = self.clock.now()
        return json_response({"imei": line["imei"], "serial_number": line["serial_number"]})

    def upload_invoice(self, request: Request, order: dict) -> Response:
        files = request.files.getlist("invoice")
        if not files:
            return json_response("invoice file is required (multipart field 'invoice')", 400)
        stored = []
        for upload in files:
            content = upload.read()
            if not content.startswith(b"%PDF-"):
                return json_response(f"{upload.filename} is not a PDF", 400)
            stored.append((upload.filename or "invoice.pdf", len(content)))
        self.invoices.setdefault(order["order_id"], []).extend(stored)
        order["date_bill_provided"] = self.clock.now()
        order["date_modification"] = self.clock.now()
        return Response(status=200)

    # ---------------------------------------------------------------- listings
    def _listing(self, raw: str) -> dict:
        for listing in self.listings:
            if listing["id"] == raw or (raw.isdigit() and listing["listing_id"] == int(raw)):
                return listing
        raise BadRequest(error_v1(404, "not_found", f"Listing {raw} not found"))

    def list_listings(self, request: Request) -> Response:
        items = list(self.listings)
        try:
            if request.args.get("publication_state") is not None:
                items = [i for i in items if i["publication_state"] == int(request.args["publication_state"])]
            if request.args.get("min_quantity") is not None:
                items = [i for i in items if i["quantity"] >= int(request.args["min_quantity"])]
            if request.args.get("max_quantity") is not None:
                items = [i for i in items if i["quantity"] <= int(request.args["max_quantity"])]
        except ValueError:
            raise BadRequest(error_v1(400, "invalid_parameter", "filters must be integers")) from None
        return self.page(request, items, self.render_listing)

    def listing_detail(self, request: Request) -> Response:
        sku, legacy, uid = request.args.get("sku"), request.args.get("listing_id"), request.args.get("id")
        for listing in self.listings:
            if (sku and listing["sku"].lower() == sku.lower()) or (legacy and str(listing["listing_id"]) == legacy) or (
                uid and listing["id"] == uid
            ):
                return json_response(self.render_listing(listing, single=True))
        if not (sku or legacy or uid):
            return error_v1(400, "missing_parameter", "one of sku, listing_id or id is required")
        return error_v1(404, "not_found", "Listing not found")

    def _apply_listing_fields(self, listing: dict, fields: dict) -> str:
        """Validate then apply; returns an error message (nothing applied) or ''."""
        updates: dict[str, Any] = {}
        for key in ("price", "min_price"):
            if key in fields and fields[key] not in (None, ""):
                try:
                    value = Decimal(str(fields[key]))
                except ArithmeticError:
                    return f"{key} must be a number"
                if not value.is_finite() or value <= 0:
                    return f"{key} must be a positive number"
                updates[key] = f"{value:.2f}"
            elif key == "min_price" and key in fields:
                updates[key] = None
        if "quantity" in fields:
            try:
                updates["quantity"] = int(str(fields["quantity"]))
            except ValueError:
                return "quantity must be an integer"
            if updates["quantity"] < 0:
                return "quantity must be zero or more"
        if "warranty_delay" in fields and fields["warranty_delay"] not in (None, ""):
            try:
                updates["warranty_delay"] = int(str(fields["warranty_delay"]))
            except ValueError:
                return "warranty_delay must be an integer"
            if updates["warranty_delay"] < 12:
                return "warranty_delay must be at least 12 months"
        if "comment" in fields:
            comment = fields["comment"]
            if comment is not None and len(str(comment)) > 500:
                return "comment must be at most 500 characters"
            updates["comment"] = comment
        if fields.get("currency") and fields["currency"] != listing["currency"]:
            return f"currency {fields['currency']} does not match the market's currency {listing['currency']}"
        price = Decimal(updates.get("price", listing["price"]))
        minimum = updates.get("min_price", listing["min_price"])
        if minimum is not None and Decimal(minimum) > price:
            return "min_price cannot be above price"
        listing.update(updates)
        if "quantity" in updates:
            if updates["quantity"] == 0:
                listing["publication_state"] = 3
            elif listing["publication_state"] == 3:
                listing["publication_state"] = 2
        return ""

    def update_listing(self, request: Request, listing: dict) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not body:
            return json_response("parameters not found", 400)
        error = self._apply_listing_fields(listing, body)
        if error:
            return json_response(error, 400)
        out = self.render_listing(listing, single=True)
        out["shippings_response"] = []
        return json_response(out)

    def bulk_listings(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return json_response("parameter catalog not found", 400)
        for key in ("catalog", "quotechar", "delimiter", "encoding"):
            if not isinstance(body.get(key), str) or not body[key]:
                return json_response(f"parameter {key} not found", 400)
        if len(body["delimiter"]) != 1 or len(body["quotechar"]) != 1:
            return json_response("delimiter and quotechar must be one character", 400)
        lines = body["catalog"].splitlines()
        if len(lines) > CSV_MAX_LINES:
            return json_response(f"catalog has {len(lines)} lines; at most {CSV_MAX_LINES}", 400)
        rows = list(csv.DictReader(io.StringIO(body["catalog"]), delimiter=body["delimiter"], quotechar=body["quotechar"]))
        task_id = self._next_task_id
        self._next_task_id += 1
        self.tasks[task_id] = {"rows": rows, "polls": 0, "status": 0, "error": None, "result": None,
                               "outcome": self.next_task_outcome}
        self.next_task_outcome = ""
        return json_response({"bodymessage": task_id, "statuscode": 200})

    def get_task(self, raw: str) -> Response:
        if not raw.isdigit() or int(raw) not in self.tasks:
            return error_v1(404, "not_found", f"Task {raw} not found")
        task = self.tasks[int(raw)]
        task["polls"] += 1
        if task["status"] in (0, 2):
            if task["polls"] == 1:
                task["status"] = 2
            else:
                self._finish_task(task)
        return json_response({"task_id": int(raw), "action_status": task["status"], "last_action_error": task["error"],
                              "result": task["result"], "statuscode": 200})

    def _finish_task(self, task: dict) -> None:
        rows = task["rows"]
        if task["outcome"] == "failure" or not rows or "sku" not in rows[0]:
            task["status"], task["error"] = 8, "Task has been interrupted."
            return
        success, errors = {}, {}
        for row in rows:
            sku = (row.get("sku") or "").strip()
            if not sku:
                continue
            listing = next((item for item in self.listings if item["sku"].lower() == sku.lower()), None)
            wanted = ("price", "min_price", "quantity", "comment", "warranty_delay")
            fields = {k: v for k, v in row.items() if k in wanted and v not in (None, "")}
            if listing is None:
                if not (row.get("product_id") or row.get("ean")):
                    errors[sku] = {"sku": sku, "error": "Unknown sku: product_id or ean is required to create a listing"}
                    continue
                listing = self._new_listing(sku, row)
            error = self._apply_listing_fields(listing, fields)
            if error:
                errors[sku] = {"sku": sku, "error": error}
                continue
            success[sku] = {"sku": listing["sku"], "backmarket_id": listing["backmarket_id"], "listing_id": listing["listing_id"],
                            "publication_state": listing["publication_state"], "ean": listing["_ean"]}
        task["status"], task["result"] = 9, {"product_success": success, "product_errors": errors}

    def _new_listing(self, sku: str, row: dict) -> dict:
        legacy = self._next_legacy_listing
        self._next_legacy_listing += 1
        product = row.get("product_id") or self._uuid()
        listing = {
            "id": self._uuid(), "listing_id": legacy, "product_id": product, "backmarket_id": 200_000 + legacy % 100_000,
            "sku": sku, "title": row.get("title") or f"Product {product[:8]}", "price": "1.00", "currency": "EUR",
            "min_price": None, "max_price": "1.00", "quantity": 0, "publication_state": 1, "grade": row.get("grade") or "GOOD",
            "state": 2, "warranty_delay": 12, "comment": None, "new_battery": False, "shippings": [], "_brand": "",
            "_ean": row.get("ean") or "",
        }
        self.listings.append(listing)
        return listing

    # ---------------------------------------------------------------- BackShip
    def backship(self, request: Request, kind: str, item_id: str | None) -> Response:
        store = self.deliveries if kind == "deliveries" else self.returns

        def render(item):
            return self.render_delivery(item) if kind == "deliveries" else self.render_return(item, request)

        if item_id is not None:
            if not item_id.isdigit() or int(item_id) not in store:
                return Response(status=404)
            return json_response(render(store[int(item_id)]))
        items = sorted(store.values(), key=lambda d: d["shipmentId"])
        args = request.args
        order_key = "order" if kind == "deliveries" else "orderId"
        if args.get("order_id") is not None:
            if not args["order_id"].isdigit():
                return json_response({"error": {"code": "E009", "message": "Validation error"},
                                      "data": {"fields": {"orderId": ["An integer is needed."]}}}, 422)
            items = [d for d in items if d[order_key] == int(args["order_id"])]
        try:
            if args.get("start_date"):
                items = [d for d in items if d["dateCreation"] >= parse_when(args["start_date"])]
            if args.get("end_date"):
                items = [d for d in items if d["dateCreation"] <= parse_when(args["end_date"])]
        except ValueError:
            return json_response({"error": {"code": "E009", "message": "Validation error"},
                                  "data": {"fields": {"start_date": ["A valid datetime is required."]}}}, 422)
        if args.get("hub_scanned") is not None:
            wanted = args["hub_scanned"].lower() in ("1", "true")
            items = [d for d in items if d["hubScanned"] == wanted]
        if args.get("order_state") is not None and args["order_state"].isdigit():
            wanted_state = int(args["order_state"])
            items = [d for d in items if self.orders.get(d[order_key], {}).get("state") == wanted_state]
        return self.page(request, items, render)


def build(*, config: SimulatorConfig, clock: SimClock) -> BackMarketSimulator:
    return BackMarketSimulator(config=config, clock=clock)

