"""orders.presentation: addresses as labels per country, codes in words, money, times, colours and images — and
that nothing a payload holds (junk types, unknown codes, bad dates) raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketsync.sync import statuses
from orders import presentation
from orders.models import Order, OrderItem


def test_a_german_address_prints_postcode_before_town_and_the_country_by_name():
    label = presentation.address_label({"first_name": "Anna", "family_name": "Muster", "company_name": "Klötzchen GmbH",
                                        "street_name": "Hauptstraße", "house_no": "5", "supplement": "Hinterhaus",
                                        "post_code": "10115", "town": "Berlin", "country_code": "DE",
                                        "phone_number": "+49 30 1234"})
    assert label.lines == ["Anna Muster", "Klötzchen GmbH", "Hauptstraße 5", "Hinterhaus", "10115 BERLIN", "GERMANY"]
    assert label.text.endswith("GERMANY\nTel. +49 30 1234")


def test_a_british_address_prints_town_above_postcode_and_a_french_one_puts_the_number_first():
    gb = presentation.address_label({"name": "Bob Smith", "address1": "1 High Street", "city": "London",
                                     "postal_code": "SW1A 1AA", "country_code": "GB"})
    assert gb.lines == ["Bob Smith", "1 High Street", "LONDON", "SW1A 1AA", "UNITED KINGDOM"]
    fr = presentation.address_label({"first_name": "Hugo", "family_name": "Durand", "street_name": "rue de la Paix",
                                     "house_no": "33", "post_code": "59000", "town": "Lille", "country_code": "FR"})
    assert fr.lines == ["Hugo Durand", "33 rue de la Paix", "59000 LILLE", "FRANCE"]


def test_a_us_address_prints_city_state_and_zip_on_one_line():
    us = presentation.address_label({"name": "Jo Doe", "address1": "1 Main St", "city": "Mountain View", "state": "CA",
                                     "postal_code": "94043", "country_code": "US"})
    assert us.lines[-2:] == ["MOUNTAIN VIEW, CA 94043", "UNITED STATES"]


def test_an_address_without_or_with_an_unknown_country_still_reads_as_a_label():
    assert presentation.address_label({"name": "Ada", "city": "London"}).lines == ["Ada", "London"]
    assert presentation.address_label({"name": "Ada", "city": "Atlantis", "country_code": "XX"}).lines == ["Ada", "Atlantis", "XX"]
    assert presentation.address_label({}) is None and presentation.address_label("junk") is None


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "first_name", "last_name", "family_name", "street", "street_name",
                                        "house_no", "address1", "address2", "full", "postal_code", "post_code", "city",
                                        "town", "state", "country", "country_code", "phone", "email", "company"]),
                       st.one_of(st.none(), st.text(max_size=40), st.integers(), st.booleans(), st.lists(st.integers()),
                                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))))
def test_no_address_payload_raises(address):
    label = presentation.address_label(address)
    assert label is None or all(isinstance(line, str) for line in label.lines)
    presentation.address_parts(address)


@pytest.mark.parametrize("status_table, words_table", [
    (statuses.BACKMARKET_ORDER_STATUS, statuses.BACKMARKET_ORDER_WORDS),
    (statuses.BACKMARKET_LINE_STATUS, statuses.BACKMARKET_LINE_WORDS),
    (statuses.REFURBED_ORDER_STATUS, statuses.REFURBED_ORDER_WORDS),
    (statuses.REFURBED_ITEM_STATUS, statuses.REFURBED_ITEM_WORDS),
    (statuses.BRICKLINK_STATUS, statuses.BRICKLINK_STATUS_WORDS),
])
def test_every_status_a_mapping_table_knows_has_words(status_table, words_table):
    assert set(status_table) <= set(words_table)
    assert all(words and words != code for code, words in words_table.items())


def _order(**fields) -> Order:
    return Order(**{"marketplace": "backmarket", "status": "new", "marketplace_status": "1", "details": {}, **fields})


def test_order_state_in_words_with_the_code_for_the_tooltip():
    state = presentation.order_state(_order())
    assert (state.words, state.code) == ("Paid: accept or cancel each line", "Back Market order state 1")
    closed = presentation.order_state(_order(status="cancelled"))
    assert closed.words == "Every orderline cancelled" and "order state 1" in closed.code
    unknown = presentation.order_state(_order(marketplace="refurbed", marketplace_status="SOMETHING_NEW"))
    assert unknown.words == "SOMETHING_NEW"  # shown as it is, never an error
    assert presentation.order_state(_order(marketplace="bricklink", marketplace_status="NSS")).words == "On hold: seller has not shipped"


@pytest.mark.parametrize("marketplace, fields, words", [
    ("backmarket", {"condition": "11"}, "Good"),
    ("refurbed", {"details": {"grading": "AA"}}, "Grade AA"),
    ("brickowl", {"condition": "used", "details": {"full_con": "usedn"}}, "Used, like new"),
    ("bricklink", {"condition": "new", "completeness": "S"}, "New, sealed"),
    ("bricklink", {"condition": "used"}, "Used"),
    ("backmarket", {"condition": "77"}, "77"),
])
def test_item_condition_in_words(marketplace, fields, words):
    item = OrderItem(**{"details": {}, **fields})
    assert presentation.item_condition(item, marketplace=marketplace).words == words


def test_money_keeps_its_currency_and_junk_is_no_amount():
    assert presentation.money_text(Decimal("1189.3100"), "CHF") == "1\u202f189.31 CHF"
    assert presentation.money_text("12.5", "EUR") == "12.50 EUR"
    assert presentation.money_text("NaN", "EUR") == "" and presentation.money_text(None, "EUR") == ""
    assert presentation.money_text(True, "EUR") == ""


def test_payload_times_become_aware_datetimes_and_junk_none():
    assert presentation.moment("2026-11-30T07:05:07+02:00") == datetime(2026, 11, 30, 5, 5, 7, tzinfo=UTC)
    assert presentation.moment("2026-11-30T07:05:07Z").tzinfo is not None
    for junk in ("2026-13-45T00:00:00+00:00", "2026-11-30T07:05:07", "yesterday", 12, None, ["x"]):
        assert presentation.moment(junk) is None


def test_ship_by_state_is_late_only_for_an_open_order_past_its_date():
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert presentation.ship_by_state(_order(ship_by=now - timedelta(minutes=1)), now) == "late"
    assert presentation.ship_by_state(_order(ship_by=now + timedelta(hours=3)), now) == "soon"
    assert presentation.ship_by_state(_order(ship_by=now + timedelta(days=3)), now) == ""
    assert presentation.ship_by_state(_order(ship_by=now - timedelta(days=1), status="shipped"), now) == ""
    assert presentation.ship_by_state(_order(ship_by=None), now) == ""


def test_item_images_come_from_the_payload_or_bricklinks_catalog_shape():
    assert presentation.item_image(SimpleNamespace(image_url="https://img.brickowl.com/x.jpg")) == "https://img.brickowl.com/x.jpg"
    part = SimpleNamespace(image_url="", part_number="3001", item_type="PART", color_id="5")
    assert presentation.item_image(part) == "https://img.bricklink.com/ItemImage/PN/5/3001.png"
    minifig = SimpleNamespace(image_url="", part_number="sw0001a", item_type="MINIFIG", color_id="")
    assert presentation.item_image(minifig) == "https://img.bricklink.com/ItemImage/MN/0/sw0001a.png"
    assert presentation.item_image(SimpleNamespace(image_url="javascript:alert(1)", part_number="", item_type="", color_id="")) == ""
    assert presentation.item_image(SimpleNamespace(image_url="", part_number="3001\"><x", item_type="PART", color_id="5")) == ""
    assert presentation.item_image(SimpleNamespace(image_url="", part_number="RF-1", item_type="", color_id="")) == ""


def test_a_colour_without_a_name_is_never_a_bare_id():
    row = SimpleNamespace(color_id="86", color_name="", brickowl_color_id="")
    assert presentation.colour(row, {}).words == "Colour 86 (name not known yet)"
    assert presentation.colour(row, {"86": "Light Bluish Gray"}).words == "Light Bluish Gray"
    owl = SimpleNamespace(color_id="", color_name="", brickowl_color_id="38")
    assert presentation.colour(owl, {"bo:38": "Red"}).code == "Brick Owl colour 38"
    assert presentation.colour(SimpleNamespace(color_id="", color_name="", brickowl_color_id=""), {}).words == ""


@pytest.mark.parametrize("details", [
    {"date_payment": "junk", "expected_dispatch_date": 5, "is_backship": "yes", "delivery_note": "javascript:x",
     "sales_taxes": "NaN", "payment_method": ["x"]},
    {"labels": "not a list", "refund_eligibility": {"x": 1}, "settlement_currency_code": 7},
    {"total_count": True, "unique_count": "3", "remarks": None, "is_filed": "1"},
    "not a dict",
])
@pytest.mark.parametrize("marketplace", ["backmarket", "refurbed", "bricklink", "brickowl"])
def test_facts_and_money_of_a_hostile_payload_do_not_raise(marketplace, details):
    order = _order(marketplace=marketplace, details=details, raw={"disp_cost": "x"}, currency="EUR",
                   total_amount=Decimal("1"))
    facts = presentation.order_facts(order)
    assert all(f.kind != "link" or f.value.startswith("http") for f in facts)
    assert presentation.order_money(order)[-1].value.endswith("EUR")
