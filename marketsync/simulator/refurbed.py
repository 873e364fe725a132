"""Refurbed merchant API simulator (grpc-gateway JSON over HTTP).

Follows ``shared/marketplaces/refurbed.md``: every call is ``POST
/refb.merchant.v1.<Service>/<Method>`` with a JSON body; ``Authorization: Plain
<token>`` (401 ``{code: 16}`` when missing or wrong, 403 ``{code: 7}`` for a token
without the RPC's permission); keyset paging with ``pagination.limit`` (1–100),
``starting_after`` / ``ending_before`` and ``has_more``; int64 ids and money as
strings, RFC 3339 timestamps, enum names; errors as ``google.rpc.Status``
``{code, message, details}``; ``X-RateLimit-*`` headers and 429 ``{code: 8}``.

Orders are stored compactly (id, release time, item states, the few fields a
merchant changed) and rendered on demand from a per-order seeded generator, so
hundreds of thousands of orders cost little memory; ids and release times are
both ascending, so paging and ``released_at`` ranges are bisections.

Control actions (``POST /_sim/refurbed/<action>``): ``revoke_token``,
``restore_token``, ``add_orders`` (``{"count"}``), ``remove_offer`` (``{"id"}``),
``set_item_state`` (``{"id", "state"}``), ``stats``, ``notify`` (``{"url", "order_id"?, "times"?}``: the Instant
Order Notification, a POST of ``{"order_id": <number>}``, the newest order unless named; ``times`` repeats it,
as Refurbed's at-least-once delivery may).
"""

from __future__ import annotations

import bisect
import json
import random
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Request, Response

from marketsync.simulator.core import MarketplaceSimulator, RateWindow, SimClock, SimulatorConfig, json_response, simulator_token

PACKAGE = "refb.merchant.v1"
MAX_LIMIT = 100
INITIAL_SPAN = timedelta(days=20)  # seeded orders are released over the 20 days before the clock starts
STATE_STEP_SECONDS = 60.0
OFFER_STEP_SECONDS = 120.0
OFFER_CHURN_EVERY_STEPS = 5

# gRPC codes and the HTTP statuses grpc-gateway maps them to.
OK, INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED = 0, 3, 5, 7, 8
FAILED_PRECONDITION, INTERNAL, UNAVAILABLE, UNAUTHENTICATED = 9, 13, 14, 16
HTTP_STATUS = {3: 400, 9: 400, 5: 404, 6: 409, 7: 403, 8: 429, 13: 500, 14: 503, 16: 401, 2: 500, 4: 504}

ITEM_TRANSITIONS = {
    "NEW": {"ACCEPTED", "REJECTED", "CANCELLED"},
    "ACCEPTED": {"SHIPPED", "CANCELLED"},
    "SHIPPED": {"RETURNED"},
}
FINAL_ITEM_STATES = {"REJECTED", "CANCELLED", "RETURNED"}
ITEM_STATES = ("NEW", "ACCEPTED", "SHIPPED", "REJECTED", "CANCELLED", "RETURNED")
URL_RE = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
# ListAvailableCarriers: slug -> (display name, tracking page the simulator derives parcel_tracking_url from)
CARRIERS = {
    "dhl": ("DHL", "https://www.dhl.de/de/privatkunden.html?piececode={number}"),
    "ups": ("UPS", "https://www.ups.com/track?tracknum={number}"),
    "post_at": ("Österreichische Post", "https://www.post.at/s/sendungsdetails?snr={number}"),
    "dpd": ("DPD", "https://tracking.dpd.de/status/de_DE/parcel/{number}"),
    "gls": ("GLS", "https://gls-group.com/track/{number}"),
}

MARKETS = [
    ("AT", "Austria", "EUR"), ("BE", "Belgium", "EUR"), ("CH", "Switzerland", "CHF"), ("CZ", "Czechia", "CZK"),
    ("DE", "Germany", "EUR"), ("DK", "Denmark", "DKK"), ("ES", "Spain", "EUR"), ("FI", "Finland", "EUR"),
    ("FR", "France", "EUR"), ("IE", "Ireland", "EUR"), ("IT", "Italy", "EUR"), ("NL", "Netherlands", "EUR"),
    ("PL", "Poland", "PLN"), ("PT", "Portugal", "EUR"), ("SE", "Sweden", "SEK"), ("SK", "Slovakia", "EUR"),
]
SITE_MARKETS = {"AT", "BE", "CH", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "PL", "PT", "SE"}
EUR_RATES = {"EUR": "1", "CHF": "0.94", "CZK": "25.2", "DKK": "7.46", "PLN": "4.31", "SEK": "11.2"}
ORDER_MARKETS = ["DE", "DE", "DE", "AT", "AT", "FR", "IT", "NL", "BE", "ES", "SE", "PL", "CH", "DK"]
PRODUCTS = [
    ("iPhone 13 128GB Midnight", 389), ("iPhone 12 64GB Blue", 299), ("iPhone SE (2022) 64GB Red", 199),
    ("iPhone 14 Pro 256GB Deep Purple", 789), ("Galaxy S21 5G 128GB Phantom Gray", 269),
    ("Galaxy A54 5G 128GB Awesome Black", 219), ("Pixel 7 128GB Obsidian", 279), ("MacBook Air 13 M1 8GB 256GB", 629),
    ("iPad 9 64GB Space Gray WiFi", 249), ("AirPods Pro 2nd gen", 159), ("Apple Watch Series 7 GPS 41mm", 209),
    ("Fairphone 4 256GB Green", 379), ("ThinkPad T14 Gen 2 i5 16GB 512GB", 549), ("E-Bike Trekking 28 inch", 1290),
]
FIRST_NAMES = ["Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Lena", "Paul", "Laura", "Elias", "Clara", "Noah"]
FAMILY_NAMES = ["Gruber", "Huber", "Müller", "Wagner", "Schmidt", "Bauer", "Fischer", "Weber", "Moser", "Hofer"]
TOWNS = [("Wien", "1070"), ("Berlin", "10115"), ("München", "80331"), ("Graz", "8010"), ("Hamburg", "20095"), ("Linz", "4020")]
PAYMENT_METHODS = ["PAYPAL", "STRIPE_CARDS", "STRIPE_KLARNA", "BRAINTREE_PAYPAL", "STRIPE_EPS", "BRAINTREE_CARDS"]
GRADINGS = ["A", "B", "C", "AA"]
SHIPPING_PROFILES = [
    (7001, "Standard AT", "AT", ["AT", "DE", "CH"]),
    (7002, "Standard EU", "DE", ["DE", "FR", "IT", "NL", "BE", "ES"]),
    (7003, "Nordics", "DE", ["SE", "DK", "FI"]),
]


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(value: datetime) -> int:
    """Milliseconds since 1970: the precision Refurbed's timestamps carry, as an exact integer."""
    return (value - UNIX_EPOCH) // timedelta(milliseconds=1)


def from_ms(value: int) -> datetime:
    return UNIX_EPOCH + timedelta(milliseconds=value)


def parse_ts(value: Any, field: str) -> int:
    if not isinstance(value, str):
        raise RpcError(INVALID_ARGUMENT, f"invalid {field}: expected an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return to_ms(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    except ValueError:
        raise RpcError(INVALID_ARGUMENT, f"invalid {field}: {value!r} is not an RFC 3339 timestamp") from None


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def to_int64(value: Any, field: str) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise RpcError(INVALID_ARGUMENT, f"invalid {field}: {value!r} is not an int64") from None


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def status_response(code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"code": code, "message": message, "details": []}, HTTP_STATUS.get(code, 500), headers)


def order_state(states: list[str]) -> str:
    present = set(states)
    if "NEW" in present:
        return "NEW"
    if "ACCEPTED" in present:
        return "ACCEPTED"
    if len(present) == 1:
        return states[0]
    if present <= {"SHIPPED", "RETURNED"}:
        return "FULFILLED"
    if present <= {"REJECTED", "CANCELLED"}:
        return "UNFULFILLED"
    return "PARTIALLY_FULFILLED"


# --- paging helpers ----------------------------------------------------------------------------------


def read_pagination(body: dict) -> tuple[int, Any, Any]:
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, dict):
        raise RpcError(INVALID_ARGUMENT, "invalid pagination: expected an object")
    limit = pagination.get("limit")
    limit = MAX_LIMIT if limit in (None, 0, "0") else to_int64(limit, "pagination.limit")
    if limit > MAX_LIMIT:
        raise RpcError(INVALID_ARGUMENT, "pagination limit is too large (>100)")
    if limit < 0:
        raise RpcError(INVALID_ARGUMENT, "pagination limit must be between 1 and 100")
    after, before = pagination.get("starting_after"), pagination.get("ending_before")
    if after not in (None, "") and before not in (None, ""):
        raise RpcError(INVALID_ARGUMENT, "only one of starting_after and ending_before may be set")
    return limit, (None if after in (None, "") else after), (None if before in (None, "") else before)


def keyset_page(keys: list, matches, limit: int, after, before, descending: bool, lo: int = 0,
                hi: int | None = None) -> tuple[list[int], bool]:
    """Indices into sorted ``keys[lo:hi]`` (without copying it) for one page; ``matches(index)`` applies the filters.

    ``after``/``before`` are keys (in ``keys``' comparable form). In descending order
    "after" means smaller keys. Returns the page's indices in reading order and ``has_more``.
    """
    n = len(keys) if hi is None else hi
    forward = before is None
    if not descending:
        if forward:
            start = lo if after is None else bisect.bisect_right(keys, after, lo, n)
            indices = range(start, n)
        else:
            end = bisect.bisect_left(keys, before, lo, n)
            indices = range(end - 1, lo - 1, -1)
    else:
        if forward:
            end = n if after is None else bisect.bisect_left(keys, after, lo, n)
            indices = range(end - 1, lo - 1, -1)
        else:
            start = bisect.bisect_right(keys, before, lo, n)
            indices = range(start, n)
    found: list[int] = []
    has_more = False
    for index in indices:
        if matches(index):
            if len(found) == limit:
                has_more = True
                break
            found.append(index)
    if not forward:
        found.reverse()
    return found, has_more


def id_filter(flt: Any, field: str) -> tuple[set[int] | None, set[int]]:
    if not flt:
        return None, set()
    any_of = {to_int64(v, f"filter.{field}.any_of") for v in flt.get("any_of") or []}
    none_of = {to_int64(v, f"filter.{field}.none_of") for v in flt.get("none_of") or []}
    return (any_of or None), none_of


def enum_filter(flt: Any) -> tuple[set[str] | None, set[str]]:
    if not flt:
        return None, set()
    return (set(flt.get("any_of") or []) or None), set(flt.get("none_of") or [])


def time_filter(flt: Any, field: str):
    """A predicate on epoch seconds, or None when the filter is empty."""
    if not flt:
        return None
    bounds = {op: parse_ts(flt[op], f"filter.{field}.{op}") for op in ("gt", "ge", "lt", "le") if flt.get(op)}
    any_of = {parse_ts(v, f"filter.{field}.any_of") for v in flt.get("any_of") or []}
    none_of = {parse_ts(v, f"filter.{field}.none_of") for v in flt.get("none_of") or []}

    def check(ts: int) -> bool:
        if "gt" in bounds and not ts > bounds["gt"]:
            return False
        if "ge" in bounds and not ts >= bounds["ge"]:
            return False
        if "lt" in bounds and not ts < bounds["lt"]:
            return False
        if "le" in bounds and not ts <= bounds["le"]:
            return False
        if any_of and ts not in any_of:
            return False
        return ts not in none_of

    check.bounds = bounds  # type: ignore[attr-defined]
    return check


class RefurbedSimulator(MarketplaceSimulator):
    prefix = "refurbed"

    @classmethod
    def request_credential(cls, request: Request) -> str:
        auth = request.headers.get("Authorization", "")
        return auth[len("Plain "):] if auth.startswith("Plain ") else ""

    def __init__(self, *, config: SimulatorConfig, clock: SimClock) -> None:
        super().__init__(seed=config.seed, clock=clock)
        self.config = config
        self.token = simulator_token("refurbed", config.seed)
        self.no_permission_token = simulator_token("refurbed", config.seed, "no_permissions")
        self.revoked = False
        self.rate = RateWindow(config.rate_limit_per_second)
        self.calls: dict[str, int] = {}
        self._server_error_cycle = 0
        self.start = clock.now()
        self.start_ts = self.start.timestamp()
        # Orders: parallel arrays, ascending by id and by release time.
        self.order_ids: list[int] = []
        self.released: list[int] = []  # release times in epoch milliseconds
        self.item_states: list[list[str]] = []
        self.index_of: dict[int, int] = {}
        self.item_overrides: dict[int, dict] = {}  # item id -> fields the merchant set
        self._next_order_id = 4_100_000
        self._build_reference()
        self._seed_orders(config.orders)
        self._build_offers(max(120, min(3000, config.orders // 10)))
        self._next_order_at = self.start_ts + config.new_order_every_seconds
        self._state_steps_done = 0
        self._offer_steps_done = 0

    # --- seeded data ------------------------------------------------------------------------------------
    def _build_reference(self) -> None:
        rng = random.Random(f"{self.seed}:reference")
        self.markets = {
            code: {"code": code, "is_site": code in SITE_MARKETS, "type": "COUNTRY", "name": name, "currency_code": cur}
            for code, name, cur in MARKETS
        }
        self.currencies = {}
        for code in sorted(EUR_RATES):
            rates = []
            for target in sorted(EUR_RATES):
                if target != code:
                    rate = Decimal(EUR_RATES[target]) / Decimal(EUR_RATES[code])
                    rates.append({"base_currency": code, "target_currency": target, "rate": str(rate.quantize(Decimal("0.000001")))})
            self.currencies[code] = {"code": code, "exchange_rates": rates}
        self.instances = {}
        for i, (name, _price) in enumerate(PRODUCTS):
            iid = 31_000 + i * 17
            self.instances[iid] = {"id": str(iid), "name": name, "gtin": f"0190199{iid:06d}", "mpn": f"MPN-{iid}"}
        self.shipping_profiles = []
        for pid, name, source, destinations in SHIPPING_PROFILES:
            self.shipping_profiles.append({
                "id": str(pid), "version": "1", "is_current": True,
                "created_at": rfc3339(self.start - timedelta(days=400 - pid % 100)),
                "name": name, "source_country_market_code": source,
                "source_country_market_name": self.markets[source]["name"], "is_deletable": False,
                "num_offers_assigned": 0,
                "destinations": [
                    {"market_code": m, "market_name": self.markets[m]["name"], "is_site_market": m in SITE_MARKETS,
                     "currency_code": self.markets[m]["currency_code"],
                     "shipping_costs": money(Decimal(rng.choice([0, 0, 4.9, 9.9]))),
                     "min_delivery_days": 1, "max_delivery_days": rng.randint(3, 7), "label_creation_enabled": True,
                     "carrier": rng.choice(["dhl", "ups", "post_at"]), "dispatch_cutoff_hour": 14}
                    for m in destinations
                ],
            })

    def _new_order(self, released_ms: int, rng: random.Random, states: list[str] | None = None) -> int:
        oid = self._next_order_id
        self._next_order_id += rng.randint(1, 5)
        count = rng.choice((1, 2, 2, 3))
        self.index_of[oid] = len(self.order_ids)
        self.order_ids.append(oid)
        self.released.append(released_ms)
        self.item_states.append(states or ["NEW"] * count)
        return oid

    def _seed_orders(self, count: int) -> None:
        rng = random.Random(f"{self.seed}:orders")
        span = INITIAL_SPAN.total_seconds()
        first = self.start_ts - span
        step = span / max(1, count)
        for i in range(count):
            released = first + i * step + rng.random() * step * 0.5
            age_days = (self.start_ts - released) / 86400
            n = rng.choice((1, 2, 2, 3))
            states = []
            for _ in range(n):
                r = rng.random()
                if age_days > 3:
                    state = "SHIPPED" if r < 0.82 else "RETURNED" if r < 0.88 else "CANCELLED" if r < 0.95 else "REJECTED"
                elif age_days > 1:
                    state = "SHIPPED" if r < 0.6 else "ACCEPTED" if r < 0.9 else "CANCELLED"
                else:
                    state = "NEW" if r < 0.6 else "ACCEPTED" if r < 0.9 else "SHIPPED"
                states.append(state)
            self._new_order(int(released * 1000), rng, states)

    def _build_offers(self, count: int) -> None:
        rng = random.Random(f"{self.seed}:offers")
        self.offers: dict[int, dict] = {}
        self.stock_updates: list[tuple[str, int]] = []  # (offer, stock) set by UpdateOffer / BatchUpdateOffers
        self.offer_ids: list[int] = []
        self._next_offer_id = 600_000
        for _ in range(count):
            self._add_offer(rng, created=self.start - timedelta(days=rng.randint(1, 300)))

    def _add_offer(self, rng: random.Random, *, created: datetime) -> dict:
        oid = self._next_offer_id
        self._next_offer_id += rng.randint(1, 3)
        index = rng.randrange(len(PRODUCTS))
        instance_id = 31_000 + index * 17
        name, base = PRODUCTS[index]
        profile = rng.choice(SHIPPING_PROFILES)
        price = Decimal(base) * Decimal(str(round(rng.uniform(0.85, 1.15), 2)))
        markets = sorted(rng.sample(profile[3], k=min(len(profile[3]), rng.randint(1, 3))))
        offer = {
            "id": str(oid), "version": "1", "is_current": True, "created_at": rfc3339(created),
            "instance_id": str(instance_id), "instance_name": name,
            "state": rng.choice(["OK"] * 8 + ["UNVERIFIED", "PENDING_REVIEW"]),
            "sku": f"RF-{oid}-{rng.choice(GRADINGS)}", "grading": rng.choice(GRADINGS), "warranty": "M12",
            "stock": rng.randint(0, 25), "shipping_profile_id": str(profile[0]), "shipping_profile_name": profile[1],
            "taxation": rng.choice(["MARGINAL", "GROSS"]), "reference_currency_code": "EUR",
            "reference_price": money(price), "reference_min_price": money(price * Decimal("0.9")),
            "battery_condition": "OPTIMAL",
            "_markets": markets,
        }
        offer["real_taxation"] = offer["taxation"]
        self.offers[oid] = offer
        bisect.insort(self.offer_ids, oid)
        return offer

    # --- rendering ---------------------------------------------------------------------------------------
    def _market_price(self, offer: dict, code: str) -> dict:
        market = self.markets[code]
        currency = market["currency_code"]
        rate = Decimal(EUR_RATES[currency])
        price = Decimal(offer["reference_price"]) * rate
        price_row = {
            "offer_id": offer["id"], "market_code": code, "market_name": market["name"],
            "is_site_market": market["is_site"], "is_calculated": currency != "EUR", "currency_code": currency,
            "price": money(price), "min_price": money(Decimal(offer["reference_min_price"]) * rate),
            "visibility": "FULL" if offer["stock"] > 0 and offer["state"] == "OK" else "NONE",
            "instance_buybox_state": "WON" if int(offer["id"]) % 3 == 0 else "ELIGIBLE",
        }
        if price_row["instance_buybox_state"] == "WON":
            price_row["buybox_scope"] = "INSTANCE_GRADING_BATTERY_CONDITION"
        else:
            price_row["instance_buybox_info"] = {
                "suggested_offer_price": money(price * Decimal("0.97")),
                "suggested_offer_price_diff": money(price * Decimal("0.03")),
            }
        return price_row

    def render_offer(self, offer: dict) -> dict:
        data = {k: v for k, v in offer.items() if not k.startswith("_")}
        prices = [self._market_price(offer, code) for code in offer["_markets"]]
        data["set_market_prices"] = [p for p in prices if not p["is_calculated"]]
        data["calculated_market_prices"] = [p for p in prices if p["is_calculated"]]
        return data

    def render_market_offer(self, offer: dict, code: str) -> dict:
        data = {k: v for k, v in offer.items() if not k.startswith("_") and k not in ("id", "battery_condition")}
        data["id"] = {"offer_id": {"id": offer["id"], "sku": offer["sku"]}, "market_code": code}
        data["market_price"] = self._market_price(offer, code)
        return data

    def _address(self, rng: random.Random, country: str) -> dict:
        town, post_code = rng.choice(TOWNS)
        return {
            "first_name": rng.choice(FIRST_NAMES), "family_name": rng.choice(FAMILY_NAMES),
            "entity": rng.choice(["MALE", "FEMALE"]), "country_code": country, "post_code": post_code, "town": town,
            "street_name": rng.choice(["Hauptstraße", "Bahnhofstraße", "Gartengasse", "Lindenweg"]),
            "house_no": str(rng.randint(1, 120)), "phone_number": f"+43 660 {rng.randint(1000000, 9999999)}",
        }

    def render_order(self, index: int, with_items: bool = True) -> dict:
        oid = self.order_ids[index]
        rng = random.Random(self.seed * 1_000_003 + oid)
        market = rng.choice(ORDER_MARKETS)
        currency = self.markets[market]["currency_code"]
        rate = Decimal(EUR_RATES[currency])
        states = self.item_states[index]
        address = self._address(rng, market)
        email = f"{address['first_name'].lower()}.{oid}@example.com"
        items = []
        for k, state in enumerate(states):
            items.append(self._render_item(oid, k, state, rng, currency, rate, market))
        total_charged = sum((Decimal(i["total_charged"]) for i in items), Decimal(0))
        total_refunded = sum((Decimal(i["total_refunded"]) for i in items), Decimal(0))
        total_vat = sum((Decimal(i["vat_charged"]) for i in items), Decimal(0))
        labels = self._labels(states, items)
        released = from_ms(self.released[index])
        order = {
            "id": str(oid), "released_at": rfc3339(released), "state": order_state(states), "labels": labels,
            "customer_email": email, "shipping_address": address, "invoice_address": dict(address),
            "shipping_label_address": dict(address),
            "currency_code": currency, "settlement_currency_code": "EUR",
            "settlement_exchange_rate": str((Decimal(1) / rate).quantize(Decimal("0.000001"))),
            "total_charged": money(total_charged), "settlement_total_charged": money(total_charged / rate),
            "total_discount": "0.00", "settlement_total_discount": "0.00",
            "total_paid": money(total_charged - total_refunded), "settlement_total_paid": money((total_charged - total_refunded) / rate),
            "total_refunded": money(total_refunded), "settlement_total_refunded": money(total_refunded / rate),
            "total_vat_charged": money(total_vat), "settlement_total_vat_charged": money(total_vat / rate),
            "is_refundable": any(s in ("SHIPPED", "ACCEPTED") for s in states),
            "refund_eligibility": "ELIGIBLE" if any(s == "SHIPPED" for s in states) else "INELIGIBLE_UNKNOWN",
            "is_invoiceable": (to_ms(self.clock.now()) - self.released[index]) < 30 * 86400 * 1000,
            "has_invoice": False, "payment_method": rng.choice(PAYMENT_METHODS),
        }
        if with_items:
            order["items"] = items
        return order

    def _render_item(self, oid: int, k: int, state: str, rng: random.Random, currency: str, rate: Decimal, market: str) -> dict:
        item_id = oid * 10 + k
        offers = self.offer_ids
        offer_id = offers[rng.randrange(len(offers))] if offers else 600_000
        name, base = PRODUCTS[rng.randrange(len(PRODUCTS))]
        price = (Decimal(base) * Decimal(str(round(rng.uniform(0.9, 1.1), 2))) * rate).quantize(Decimal("0.01"))
        refunded = price if state == "RETURNED" else Decimal(0)
        vat_rate = Decimal(20)
        vat = (price * vat_rate / (100 + vat_rate)).quantize(Decimal("0.01"))
        grading = rng.choice(GRADINGS)
        item = {
            "id": str(item_id), "order_id": str(oid), "name": name, "state": state,
            "sku": f"RF-{offer_id}-{grading}", "currency_code": currency, "settlement_currency_code": "EUR",
            "total_charged": money(price), "settlement_total_charged": money(price / rate),
            "total_discount": "0.00", "settlement_total_discount": "0.00",
            "total_charged_dynamic": "0.00", "settlement_total_charged_dynamic": "0.00",
            "total_paid": money(price - refunded), "settlement_total_paid": money((price - refunded) / rate),
            "total_refunded": money(refunded), "settlement_total_refunded": money(refunded / rate),
            "settlement_total_commission": money(price / rate * Decimal("0.1")),
            "settlement_base_commission": money(price / rate * Decimal("0.08")),
            "settlement_payout_commission": money(price / rate * Decimal("0.01")),
            "settlement_payment_commission": money(price / rate * Decimal("0.01")),
            "settlement_dynamic_commission": "0.00",
            "taxation": rng.choice(["MARGINAL", "GROSS"]), "is_refundable": state in ("ACCEPTED", "SHIPPED"),
            "refund_eligibility": "ELIGIBLE" if state == "SHIPPED" else "INELIGIBLE_UNKNOWN",
            "offer_data": {
                "offer_id": str(offer_id), "offer_version": "1", "offer_order_exchange_rate": str(rate),
                "offer_warranty": "M12", "offer_grading": grading, "shipping_profile_id": "7001",
                "shipping_profile_version": "1", "shipping_costs": "0.00", "battery_condition": "OPTIMAL",
            },
            "return_initiated": state == "RETURNED",
            "vat_rate": str(vat_rate), "vat_country": market, "vat_charged": money(vat), "settlement_vat_charged": money(vat / rate),
        }
        imei = f"35{rng.randint(10**12, 10**13 - 1)}"
        if state in ("SHIPPED", "RETURNED"):
            item["parcel_tracking_url"] = f"https://www.dhl.de/de/privatkunden.html?piececode={item_id}"
            item["item_identifiers"] = [{"identifier_type": "IMEI", "value": imei}]
            item["shipment_status"] = "DELIVERED" if state == "RETURNED" or rng.random() < 0.7 else "IN_TRANSIT"
        else:
            item["item_identifiers"] = []
        if state == "RETURNED":
            item["return_shipment_tracking_url"] = f"https://www.dhl.de/de/privatkunden.html?piececode=R{item_id}"
        override = self.item_overrides.get(item_id)
        if override:
            item.update(override)
        return item

    @staticmethod
    def _labels(states: list[str], items: list[dict]) -> list[str]:
        labels = []
        if not (all(s == "NEW" for s in states) or all(s in FINAL_ITEM_STATES | {"SHIPPED"} for s in states)):
            labels.append("PROCESSING")
        for state, label in (("REJECTED", "PARTIALLY_REJECTED"), ("CANCELLED", "PARTIALLY_CANCELLED"),
                             ("SHIPPED", "PARTIALLY_SHIPPED"), ("RETURNED", "PARTIALLY_RETURNED")):
            if state in states and not all(s == state for s in states):
                labels.append(label)
        live = [i for i in items if i["state"] in ("ACCEPTED", "SHIPPED")]
        if any(not i.get("parcel_tracking_url") for i in live):
            labels.append("MISSING_PARCEL_TRACKING_URLS")
        if any(not i.get("item_identifiers") for i in live):
            labels.append("MISSING_ITEM_IDENTIFIERS")
        return labels

    # --- evolution ---------------------------------------------------------------------------------------
    def evolve(self, until: datetime) -> None:
        until_ts = until.timestamp()
        every = self.config.new_order_every_seconds
        if every and every > 0:
            while self._next_order_at <= until_ts:
                rng = random.Random(f"{self.seed}:new-order:{self._next_order_id}")
                self._new_order(int(self._next_order_at * 1000), rng)
                self._next_order_at += every
        steps = int((until_ts - self.start_ts) // STATE_STEP_SECONDS)
        while self._state_steps_done < steps:
            self._state_steps_done += 1
            self._advance_items(random.Random(f"{self.seed}:states:{self._state_steps_done}"))
        steps = int((until_ts - self.start_ts) // OFFER_STEP_SECONDS)
        while self._offer_steps_done < steps:
            self._offer_steps_done += 1
            self._move_offers(random.Random(f"{self.seed}:offers:{self._offer_steps_done}"), self._offer_steps_done)

    def _advance_items(self, rng: random.Random) -> None:
        window = min(len(self.order_ids), 300)
        if not window:
            return
        for _ in range(3):
            index = len(self.order_ids) - 1 - rng.randrange(window)
            states = self.item_states[index]
            k = rng.randrange(len(states))
            state, r = states[k], rng.random()
            if state == "NEW":
                states[k] = "ACCEPTED" if r < 0.85 else "REJECTED" if r < 0.93 else "CANCELLED"
            elif state == "ACCEPTED":
                states[k] = "SHIPPED" if r < 0.95 else "CANCELLED"
            elif state == "SHIPPED" and r < 0.05:
                states[k] = "RETURNED"

    def _move_offers(self, rng: random.Random, step: int) -> None:
        if self.offer_ids:
            for _ in range(2):
                offer = self.offers[self.offer_ids[rng.randrange(len(self.offer_ids))]]
                offer["stock"] = max(0, offer["stock"] + rng.randint(-3, 3))
                price = Decimal(offer["reference_price"]) * Decimal(str(round(rng.uniform(0.97, 1.03), 3)))
                offer["reference_price"] = money(price)
                offer["reference_min_price"] = money(price * Decimal("0.9"))
        if step % OFFER_CHURN_EVERY_STEPS == 0:
            if step % (2 * OFFER_CHURN_EVERY_STEPS) == 0 and len(self.offer_ids) > 1:
                self._remove_offer(self.offer_ids[rng.randrange(len(self.offer_ids))])
            else:
                self._add_offer(rng, created=datetime.fromtimestamp(self.start_ts + step * OFFER_STEP_SECONDS, UTC))

    def _remove_offer(self, oid: int) -> bool:
        if oid not in self.offers:
            return False
        del self.offers[oid]
        self.offer_ids.remove(oid)
        return True

    # --- faults and control ------------------------------------------------------------------------------
    def _rate_headers(self) -> tuple[bool, dict[str, str]]:
        allowed, remaining, reset = self.rate.hit()
        if self.rate.limit <= 0:
            return True, {}
        return allowed, {
            "X-RateLimit-Limit": str(self.rate.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
        }

    def fault_response(self, kind: str) -> Response:
        if kind == "rate_limit":
            _, _, reset = self.rate.hit()
            limit = self.rate.limit or 10
            return status_response(RESOURCE_EXHAUSTED, "rate limit exceeded", {
                "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset),
            })
        if kind == "unauthorized":
            return status_response(UNAUTHENTICATED, "invalid authentication token")
        if kind == "forbidden":
            return status_response(PERMISSION_DENIED, "permission denied")
        self._server_error_cycle += 1
        status = (500, 502, 503)[self._server_error_cycle % 3]
        code = INTERNAL if status == 500 else UNAVAILABLE
        return json_response({"code": code, "message": "upstream error" if status == 502 else "internal error", "details": []}, status)

    def control(self, action: str, data: dict[str, Any]) -> Any:
        if action == "notify":
            url = data.get("url")
            if not url or not self.order_ids:
                raise BadRequest("notify needs a url and an order")
            order_id = int(data.get("order_id") or self.order_ids[-1])
            statuses = [httpx.post(url, json={"order_id": order_id}, timeout=5).status_code
                        for _ in range(max(1, int(data.get("times", 1))))]
            return {"status": statuses[-1], "statuses": statuses, "order_id": str(order_id)}
        if action == "revoke_token":
            self.revoked = True
            return {"ok": True}
        if action == "restore_token":
            self.revoked = False
            return {"ok": True}
        if action == "add_orders":
            count = int(data.get("count", 1))
            now = to_ms(self.clock.now())
            ids = []
            for _ in range(count):
                rng = random.Random(f"{self.seed}:added-order:{self._next_order_id}")
                ids.append(str(self._new_order(max(now, self.released[-1] if self.released else now), rng)))
            return {"ids": ids}
        if action == "sell":
            # A buyer's checkout of named offers ({offer id: units}), one order item per unit, state NEW: Refurbed
            # sells no more than an offer's stock and lowers it by what it sold.
            wanted = {int(k): int(v) for k, v in (data.get("offers") or {}).items()}
            short = sorted(k for k, q in wanted.items() if k not in self.offers or not 0 < q <= self.offers[k]["stock"])
            if not wanted or short:
                raise BadRequest(f"sell needs offers as {{offer id: units}} they hold; not so for {short}")
            units = [offer_id for offer_id, quantity in wanted.items() for _ in range(quantity)]
            now = to_ms(self.clock.now())
            rng = random.Random(f"{self.seed}:sold-order:{self._next_order_id}")
            order_id = self._new_order(max(now, self.released[-1] if self.released else now), rng, ["NEW"] * len(units))
            rendered = self.rpc_OrderService_GetOrder({"id": str(order_id)})["order"]["items"]
            for item, offer_id in zip(rendered, units, strict=True):
                offer = self.offers[offer_id]
                self.item_overrides[int(item["id"])] = {
                    "offer_data": {**item["offer_data"], "offer_id": str(offer_id), "offer_grading": offer["grading"]},
                    "sku": offer["sku"], "name": offer["instance_name"],
                }
            for offer_id, quantity in wanted.items():
                self.offers[offer_id]["stock"] -= quantity
            return {"order_id": str(order_id)}
        if action == "remove_offer":
            return {"removed": self._remove_offer(int(data["id"]))}
        if action == "set_item_state":
            item_id = int(data["id"])
            index = self.index_of[item_id // 10]
            self.item_states[index][item_id % 10] = data["state"]
            return {"ok": True}
        if action == "return_item":
            # The customer sends a SHIPPED item back (OrderItemState: SHIPPED -> RETURNED, final). With
            # ``initiated_only`` the return has only begun: still SHIPPED, ``return_initiated`` and a return parcel.
            item_id = int(data["id"])
            index = self.index_of.get(item_id // 10)
            if index is None or item_id % 10 >= len(self.item_states[index]):
                raise NotFound(f"no order item {item_id}")
            state = self.item_states[index][item_id % 10]
            if state != "SHIPPED":
                raise ValueError(f"order item {item_id} is {state}: only a SHIPPED item can be returned")
            if data.get("initiated_only"):
                self.item_overrides.setdefault(item_id, {}).update({
                    "return_initiated": True,
                    "return_shipment_tracking_url": f"https://www.dhl.de/de/privatkunden.html?piececode=R{item_id}",
                })
            else:
                self.item_states[index][item_id % 10] = "RETURNED"
            return {"id": str(item_id), "order_state": order_state(self.item_states[index])}
        if action == "stats":
            return {
                "orders": len(self.order_ids), "offers": len(self.offer_ids),
                "market_offers": sum(len(o["_markets"]) for o in self.offers.values()),
                "open_orders": sum(1 for s in self.item_states if order_state(s) in ("NEW", "ACCEPTED", "SHIPPED")),
                "calls": dict(self.calls), "now": self.clock.now().isoformat(),
            }
        return super().control(action, data)

    # --- the API -----------------------------------------------------------------------------------------
    def handle(self, request: Request, path: str) -> Response:
        allowed, headers = self._rate_headers()
        response = self._dispatch(request, path, allowed)
        response.headers.update(headers)
        return response

    def _dispatch(self, request: Request, path: str, allowed: bool) -> Response:
        service, _, method = path.strip("/").partition("/")
        if not service.startswith(PACKAGE + "."):
            return status_response(NOT_FOUND, f"Not Found: {path}")
        handler = getattr(self, f"rpc_{service[len(PACKAGE) + 1:]}_{method}", None)
        if handler is None:
            return status_response(NOT_FOUND, f"unknown method {path.strip('/')}")
        if request.method != "POST":
            return status_response(NOT_FOUND, "Method Not Allowed")
        auth = request.headers.get("Authorization", "")
        token = auth[len("Plain "):] if auth.startswith("Plain ") else None
        if not token or token not in (self.token, self.no_permission_token) or (token == self.token and self.revoked):
            return status_response(UNAUTHENTICATED, "invalid authentication token")
        if token == self.no_permission_token:
            return status_response(PERMISSION_DENIED, f"missing permission for {service[len(PACKAGE) + 1:]}.{method}")
        if not allowed:
            return status_response(RESOURCE_EXHAUSTED, "rate limit exceeded")
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return status_response(INVALID_ARGUMENT, "invalid request body: not JSON")
        if not isinstance(body, dict):
            return status_response(INVALID_ARGUMENT, "invalid request body: expected an object")
        name = f"{service[len(PACKAGE) + 1:]}/{method}"
        self.calls[name] = self.calls.get(name, 0) + 1
        try:
            return json_response(handler(body))
        except RpcError as exc:
            return status_response(exc.code, exc.message)

    @staticmethod
    def _sort(body: dict, allowed: tuple[str, ...]) -> bool:
        sort = body.get("sort") or {}
        by = sort.get("by") or allowed[0]
        if by not in allowed:
            raise RpcError(INVALID_ARGUMENT, f"the simulator sorts by {', '.join(allowed)} only, not {by}")
        order = sort.get("order") or "ASC"
        if order not in ("ASC", "DESC", 0, 1):
            raise RpcError(INVALID_ARGUMENT, f"invalid sort.order {order!r}")
        return order in ("DESC", 1)

    # OrderService
    def rpc_OrderService_ListOrders(self, body: dict) -> dict:
        limit, after, before = read_pagination(body)
        descending = self._sort(body, ("ID", "RELEASED_AT"))  # ids and release times ascend together
        flt = body.get("filter") or {}
        ids_any, ids_none = id_filter(flt.get("id"), "id")
        states_any, states_none = enum_filter(flt.get("state"))
        released = time_filter(flt.get("released_at"), "released_at")
        after = None if after is None else to_int64(after, "pagination.starting_after")
        before = None if before is None else to_int64(before, "pagination.ending_before")
        keys = self.order_ids
        lo, hi = 0, len(keys)
        if released is not None:
            bounds = released.bounds
            if "ge" in bounds:
                lo = bisect.bisect_left(self.released, bounds["ge"])
            if "gt" in bounds:
                lo = max(lo, bisect.bisect_right(self.released, bounds["gt"]))
            if "le" in bounds:
                hi = bisect.bisect_right(self.released, bounds["le"])
            if "lt" in bounds:
                hi = min(hi, bisect.bisect_left(self.released, bounds["lt"]))
        if ids_any is not None:
            positions = sorted(i for i in (self.index_of.get(oid) for oid in ids_any) if i is not None and lo <= i < hi)
            keys, lo, hi = [self.order_ids[i] for i in positions], 0, None
        else:
            positions = None

        def matches(k: int) -> bool:
            index = positions[k] if positions is not None else k
            if ids_none and self.order_ids[index] in ids_none:
                return False
            if released is not None and not released(self.released[index]):
                return False
            if states_any is not None or states_none:
                state = order_state(self.item_states[index])
                if (states_any is not None and state not in states_any) or state in states_none:
                    return False
            return True

        found, has_more = keyset_page(keys, matches, limit, after, before, descending, lo, hi)
        orders = [self.render_order(positions[k] if positions is not None else k) for k in found]
        return {"orders": orders, "has_more": has_more}

    def _order_index(self, value: Any, field: str) -> int:
        oid = to_int64(value, field)
        if oid not in self.index_of:
            raise RpcError(NOT_FOUND, f"order {oid} not found")
        return self.index_of[oid]

    def rpc_OrderService_GetOrder(self, body: dict) -> dict:
        if body.get("id") in (None, ""):
            raise RpcError(INVALID_ARGUMENT, "id is required")
        return {"order": self.render_order(self._order_index(body["id"], "id"))}

    # OrderItemService
    def rpc_OrderItemService_ListOrderItemsByOrder(self, body: dict) -> dict:
        if body.get("order_id") in (None, ""):
            raise RpcError(INVALID_ARGUMENT, "order_id is required")
        limit, after, before = read_pagination(body)
        descending = self._sort(body, ("ID",))
        items = self.render_order(self._order_index(body["order_id"], "order_id"))["items"]
        flt = body.get("filter") or {}
        ids_any, ids_none = id_filter(flt.get("id"), "id")
        states_any, states_none = enum_filter(flt.get("state"))
        keys = [int(i["id"]) for i in items]

        def matches(k: int) -> bool:
            item = items[k]
            if ids_any is not None and keys[k] not in ids_any or keys[k] in ids_none:
                return False
            return not ((states_any is not None and item["state"] not in states_any) or item["state"] in states_none)

        found, has_more = keyset_page(
            keys, matches, limit,
            None if after is None else to_int64(after, "pagination.starting_after"),
            None if before is None else to_int64(before, "pagination.ending_before"), descending,
        )
        return {"order_items": [items[k] for k in found], "has_more": has_more}

    def _item(self, value: Any, field: str) -> tuple[int, int, dict]:
        item_id = to_int64(value, field)
        index = self.index_of.get(item_id // 10)
        if index is None or item_id % 10 >= len(self.item_states[index]):
            raise RpcError(NOT_FOUND, f"order item {item_id} not found")
        return item_id, index, self.render_order(index)["items"][item_id % 10]

    def rpc_OrderItemService_GetOrderItem(self, body: dict) -> dict:
        if body.get("id") in (None, ""):
            raise RpcError(INVALID_ARGUMENT, "id is required")
        return {"order_item": self._item(body["id"], "id")[2]}

    # --- order item writes: Refurbed's item state machine and field checks (refurbed.md §2.2, §4) ---------------
    def _carrier_tracking_url(self, pair: Any) -> str:
        """A ``parcel_carrier_tracking_number`` pair: a carrier slug from ListAvailableCarriers ("Carrier slug,
        obtained from ListAvailableCarriers RPC") and that carrier's tracking number. The spec's ``OrderItem`` has no
        carrier or tracking number field, only ``parcel_tracking_url``, which SHIPPED requires: the pair is Refurbed's
        way to give one without a URL. The page it points to is this simulator's stand-in (the spec names none)."""
        if not isinstance(pair, dict):
            raise RpcError(INVALID_ARGUMENT, "invalid parcel_carrier_tracking_number: expected an object")
        slug, number = str(pair.get("carrier") or ""), str(pair.get("tracking_number") or "").strip()
        if slug not in CARRIERS:
            raise RpcError(INVALID_ARGUMENT, f"invalid parcel_carrier_tracking_number.carrier {slug!r}: unknown carrier")
        if not number:
            raise RpcError(INVALID_ARGUMENT, "parcel_carrier_tracking_number.tracking_number is required")
        return CARRIERS[slug][1].format(number=quote(number, safe=""))

    def _apply_item_update(self, body: Any, *, with_state: bool) -> dict:
        """Validate one update in full, then apply it (nothing changes when any field is refused)."""
        if not isinstance(body, dict) or body.get("id") in (None, ""):
            raise RpcError(INVALID_ARGUMENT, "id is required")
        item_id, index, item = self._item(body["id"], "id")
        current, target = item["state"], item["state"]
        if with_state:
            target = body.get("state")
            if target not in ITEM_STATES:
                raise RpcError(INVALID_ARGUMENT, f"invalid state {target!r}")
            if target not in ITEM_TRANSITIONS.get(current, set()):
                raise RpcError(INVALID_ARGUMENT, f"illegal state transition from {current} to {target}")
        override = dict(self.item_overrides.get(item_id, {}))
        url = body.get("parcel_tracking_url")
        if url is not None:
            if not isinstance(url, str) or not URL_RE.match(url):
                raise RpcError(INVALID_ARGUMENT, "invalid parcel tracking URL")
            override["parcel_tracking_url"] = url
        if body.get("parcel_carrier_tracking_number") is not None:
            derived = self._carrier_tracking_url(body["parcel_carrier_tracking_number"])  # checked either way
            if url is None:  # a URL given in the same update is the merchant's own link: it stands
                override["parcel_tracking_url"] = derived
        if target == "SHIPPED" and current != "SHIPPED" and not (override.get("parcel_tracking_url") or item.get("parcel_tracking_url")):
            raise RpcError(INVALID_ARGUMENT, "parcel tracking URL is required for state SHIPPED")
        if body.get("item_identifiers") is not None:
            identifiers = body["item_identifiers"]
            if not isinstance(identifiers, list):
                raise RpcError(INVALID_ARGUMENT, "invalid item identifiers: expected a list")
            for entry in identifiers:
                if not isinstance(entry, dict) or entry.get("identifier_type") not in ("IMEI", "SERIAL_NUMBER") or not entry.get("value"):
                    raise RpcError(INVALID_ARGUMENT, "invalid item identifier")
            override["item_identifiers"] = identifiers
        if body.get("item_identifier"):
            override["item_identifier"] = str(body["item_identifier"])
        self.item_overrides[item_id] = override
        self.item_states[index][item_id % 10] = target
        return self.render_order(index)["items"][item_id % 10]

    def rpc_OrderItemService_UpdateOrderItemState(self, body: dict) -> dict:
        return {"order_item": self._apply_item_update(body, with_state=True)}

    def rpc_OrderItemService_UpdateOrderItem(self, body: dict) -> dict:
        return {"order_item": self._apply_item_update(body, with_state=False)}

    def rpc_OrderItemService_BatchUpdateOrderItemsState(self, body: dict) -> dict:
        updates = body.get("updates")
        if not isinstance(updates, list) or not 1 <= len(updates) <= 50:
            raise RpcError(INVALID_ARGUMENT, "updates must hold between 1 and 50 entries")
        results = []
        for update in updates:  # HTTP 200 whatever happens to each entry; results in request order
            try:
                results.append({"status": {"code": OK, "message": "", "details": []},
                                "order_item": self._apply_item_update(update, with_state=True)})
            except RpcError as exc:
                results.append({"status": {"code": exc.code, "message": exc.message, "details": []}})
        return {"results": results}

    def rpc_ShippingProfileService_ListAvailableCarriers(self, body: dict) -> dict:
        return {"carriers": [{"name": name, "slug": slug} for slug, (name, _url) in CARRIERS.items()]}

    # OfferService
    def _offer_matches(self, offer: dict, flt: dict) -> bool:
        ids_any, ids_none = id_filter(flt.get("id") if "offer_id" not in flt else flt.get("offer_id"), "id")
        oid = int(offer["id"])
        if (ids_any is not None and oid not in ids_any) or oid in ids_none:
            return False
        states_any, states_none = enum_filter(flt.get("state"))
        if (states_any is not None and offer["state"] not in states_any) or offer["state"] in states_none:
            return False
        created = time_filter(flt.get("created_at"), "created_at")
        return created is None or created(parse_ts(offer["created_at"], "created_at"))

    def rpc_OfferService_ListOffers(self, body: dict) -> dict:
        limit, after, before = read_pagination(body)
        descending = self._sort(body, ("ID",))
        flt = body.get("filter") or {}
        keys = self.offer_ids
        found, has_more = keyset_page(
            keys, lambda k: self._offer_matches(self.offers[keys[k]], flt), limit,
            None if after is None else to_int64(after, "pagination.starting_after"),
            None if before is None else to_int64(before, "pagination.ending_before"), descending,
        )
        return {"offers": [self.render_offer(self.offers[keys[k]]) for k in found], "has_more": has_more}

    def _offer_by_identifier(self, identifier: Any, field: str) -> dict:
        if not isinstance(identifier, dict) or not (identifier.get("id") or identifier.get("sku")):
            raise RpcError(INVALID_ARGUMENT, f"{field} needs an id or a sku")
        if identifier.get("id"):
            offer = self.offers.get(to_int64(identifier["id"], f"{field}.id"))
        else:
            offer = next((o for o in self.offers.values() if o["sku"] == identifier["sku"]), None)
        if offer is None:
            raise RpcError(NOT_FOUND, "offer not found")
        return offer

    def rpc_OfferService_GetOffer(self, body: dict) -> dict:
        return {"offer": self.render_offer(self._offer_by_identifier(body.get("identifier"), "identifier"))}

    def _offer_set_stock(self, update: Any, field: str) -> dict:
        """One offer's stock (``UpdateOffer`` / ``BatchUpdateOffers``): absolute, never below 0; an offer at 0 stays."""
        if not isinstance(update, dict):
            raise RpcError(INVALID_ARGUMENT, f"{field} must be an object")
        offer = self._offer_by_identifier(update.get("identifier"), f"{field}.identifier")
        if update.get("stock") is not None:
            stock = to_int64(update["stock"], f"{field}.stock")
            if stock < 0:
                raise RpcError(INVALID_ARGUMENT, f"{field}.stock must not be negative")
            offer["stock"] = stock
            offer["version"] = str(int(offer["version"]) + 1)
            self.stock_updates.append((offer["id"], stock))
        return offer

    def rpc_OfferService_UpdateOffer(self, body: dict) -> dict:
        return {"offer": self.render_offer(self._offer_set_stock(body, "request"))}

    def rpc_OfferService_BatchUpdateOffers(self, body: dict) -> dict:
        offers = body.get("offers")
        if not isinstance(offers, list) or not 1 <= len(offers) <= 50:
            raise RpcError(INVALID_ARGUMENT, "offers: between 1 and 50 updates")
        results = []
        for n, update in enumerate(offers):  # HTTP 200 whatever happens to each entry; results in request order
            try:
                offer = self.render_offer(self._offer_set_stock(update, f"offers[{n}]"))
                results.append({"status": {"code": OK, "message": "", "details": []}, "offer": offer})
            except RpcError as exc:
                results.append({"status": {"code": exc.code, "message": exc.message, "details": []}})
        return {"results": results}

    # MarketOfferService
    def _market_offer_key(self, value: Any, field: str) -> tuple[int, str]:
        if not isinstance(value, dict) or not value.get("market_code"):
            raise RpcError(INVALID_ARGUMENT, f"{field} needs offer_id and market_code")
        offer_id = value.get("offer_id") or {}
        if offer_id.get("id"):
            return to_int64(offer_id["id"], f"{field}.offer_id.id"), value["market_code"]
        return int(self._offer_by_identifier(offer_id, f"{field}.offer_id")["id"]), value["market_code"]

    def rpc_MarketOfferService_ListMarketOffers(self, body: dict) -> dict:
        limit, after, before = read_pagination(body)
        descending = self._sort(body, ("ID",))
        flt = body.get("filter") or {}
        codes_any, codes_none = enum_filter(flt.get("market_price_market_code"))
        keys = [(oid, code) for oid in self.offer_ids for code in self.offers[oid]["_markets"]]

        def matches(k: int) -> bool:
            oid, code = keys[k]
            if (codes_any is not None and code not in codes_any) or code in codes_none:
                return False
            return self._offer_matches(self.offers[oid], flt)

        found, has_more = keyset_page(
            keys, matches, limit,
            None if after is None else self._market_offer_key(after, "pagination.starting_after"),
            None if before is None else self._market_offer_key(before, "pagination.ending_before"), descending,
        )
        return {
            "market_offers": [self.render_market_offer(self.offers[keys[k][0]], keys[k][1]) for k in found],
            "has_more": has_more,
        }

    def rpc_MarketOfferService_GetMarketOffer(self, body: dict) -> dict:
        oid, code = self._market_offer_key(body.get("identifier"), "identifier")
        offer = self.offers.get(oid)
        if offer is None or code not in offer["_markets"]:
            raise RpcError(NOT_FOUND, "market offer not found")
        return {"market_offer": self.render_market_offer(offer, code)}

    # Reference data
    def _string_list(self, body: dict, rows: dict, key: str, sort_by: tuple[str, ...]) -> dict:
        limit, after, before = read_pagination(body)
        descending = self._sort(body, sort_by)
        codes_any, codes_none = enum_filter((body.get("filter") or {}).get("code"))
        keys = sorted(rows)

        def matches(k: int) -> bool:
            return not ((codes_any is not None and keys[k] not in codes_any) or keys[k] in codes_none)

        found, has_more = keyset_page(keys, matches, limit, after, before, descending)
        return {key: [rows[keys[k]] for k in found], "has_more": has_more}

    def rpc_MarketService_ListMarkets(self, body: dict) -> dict:
        return self._string_list(body, self.markets, "markets", ("CODE", "NAME"))

    def rpc_MarketService_GetMarket(self, body: dict) -> dict:
        market = self.markets.get(str(body.get("code") or ""))
        if market is None:
            raise RpcError(NOT_FOUND, f"market {body.get('code')!r} not found")
        return {"market": market}

    def rpc_CurrencyService_ListCurrencies(self, body: dict) -> dict:
        return self._string_list(body, self.currencies, "currencies", ("CODE",))

    def rpc_CurrencyService_GetCurrency(self, body: dict) -> dict:
        currency = self.currencies.get(str(body.get("code") or ""))
        if currency is None:
            raise RpcError(NOT_FOUND, f"currency {body.get('code')!r} not found")
        return {"currency": currency}

    def rpc_InstanceService_GetInstance(self, body: dict) -> dict:
        found = None
        if body.get("id") not in (None, ""):
            found = self.instances.get(to_int64(body["id"], "id"))
        elif body.get("gtin") or body.get("mpn"):
            key = "gtin" if body.get("gtin") else "mpn"
            found = next((i for i in self.instances.values() if i[key] == body[key]), None)
        else:
            raise RpcError(INVALID_ARGUMENT, "one of id, gtin or mpn is required")
        if found is None:
            raise RpcError(NOT_FOUND, "instance not found")
        return {"instance": {"id": found["id"], "name": found["name"]}}

    def rpc_ShippingProfileService_ListShippingProfiles(self, body: dict) -> dict:
        limit, after, before = read_pagination(body)
        descending = self._sort(body, ("ID",))
        keys = [int(p["id"]) for p in self.shipping_profiles]
        counts: dict[str, int] = {}
        for offer in self.offers.values():
            counts[offer["shipping_profile_id"]] = counts.get(offer["shipping_profile_id"], 0) + 1
        found, has_more = keyset_page(
            keys, lambda k: True, limit,
            None if after is None else to_int64(after, "pagination.starting_after"),
            None if before is None else to_int64(before, "pagination.ending_before"), descending,
        )
        profiles = [{**self.shipping_profiles[k], "num_offers_assigned": counts.get(self.shipping_profiles[k]["id"], 0)} for k in found]
        return {"shipping_profiles": profiles, "has_more": has_more}

    def rpc_CatalogService_GetCatalogTemplates(self, body: dict) -> dict:
        category_type = body.get("category_type")
        if category_type not in ("ELECTRONICS", "SPORTS", "KIDS"):
            raise RpcError(INVALID_ARGUMENT, "category_type must be ELECTRONICS, SPORTS or KIDS")
        lang = body.get("lang_code") or "EN"
        if lang not in ("DE", "EN"):
            raise RpcError(INVALID_ARGUMENT, "lang_code must be DE or EN")
        german = lang == "DE"
        colour = "Farbe" if german else "Colour"
        storage = "Speicher" if german else "Storage"
        child = {
            "constraints": [
                {"attribute_key": "storage", "attribute_name": storage, "presence": "REQUIRED",
                 "known_values": ["64", "128", "256", "512"], "unit": "GB", "value_type": "INTEGER", "description": storage},
            ],
            "category_id": "1201", "category_name": "Smartphones", "child_templates": [], "version": "3",
        }
        template = {
            "constraints": [
                {"attribute_key": "colour", "attribute_name": colour, "presence": "REQUIRED",
                 "known_values": ["Black", "White", "Blue"], "value_type": "STRING", "description": colour},
            ],
            "category_id": str(body.get("category_id") or {"ELECTRONICS": "12", "SPORTS": "40", "KIDS": "55"}[category_type]),
            "category_name": category_type.title(), "child_templates": [child] if category_type == "ELECTRONICS" else [],
            "version": "7",
        }
        return {"templates": [template]}


def build(*, config: SimulatorConfig, clock: SimClock) -> RefurbedSimulator:
    return RefurbedSimulator(config=config, clock=clock)
