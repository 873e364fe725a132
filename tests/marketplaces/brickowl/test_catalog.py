"""Brick Owl's catalog in BrickLink's terms: its own colour ids, BOIDs and type names, translated through tables
built from its API (``/catalog/color_list``, ``/catalog/id_lookup``), against Brick Owl-shaped payloads."""

from __future__ import annotations

import httpx
import pytest

from inventory.catalog import catalog_translate
from inventory.catalog_sync import _claim_due_lookups, catalog_refresh
from inventory.models import CatalogColor, CatalogItem, InventoryItem, InventoryLot, Reservation, UnmappedLot
from inventory.selectors import inventory_check, unmapped_list
from marketsync.marketplaces.brickowl.client import BrickOwlClient
from marketsync.marketplaces.brickowl.mapping import color_entries, lookup_bricklink_number, lot_record, order_record
from marketsync.simulator.core import simulator_token
from marketsync.sync.runner import run_entity_sync
from orders.models import Order, OrderItem
from tests.marketplaces.bricklink.helpers import (
    SEED,
    CountingTransport,
    bricklink_connection,
    brickowl_connection,
    entity_sync,
    simulator,
)

BASE = "http://sim/brickowl/v1"


def _client(sim) -> BrickOwlClient:
    return BrickOwlClient(http=httpx.Client(transport=httpx.WSGITransport(app=sim)), api_key=simulator_token("brickowl", SEED),
                          base_url=BASE)


def _sync(connection, entity, transport):
    outcome = run_entity_sync(entity_sync(connection, entity).pk, transport=transport, force=True)
    assert outcome.status == "ok", outcome.error
    return outcome


def _lookups(transport) -> list[str]:
    return [str(r.url.params["id"]) for r in transport.requests if r.url.path.endswith("/catalog/id_lookup")]


# --- the simulator serves Brick Owl as Brick Owl does ------------------------------------------------------


def test_the_simulator_serves_brick_owls_own_colours_lots_and_catalog():
    sim = simulator(orders=0)
    client = _client(sim)
    colors = client.color_list()
    assert colors["38"]["name"] == "Black" and colors["38"]["bl_ids"] == ["11"]  # 11 is BrickLink's Black
    assert any(len(c["bl_ids"]) > 1 for c in colors.values())  # one Brick Owl colour, several BrickLink ones
    lots = client.inventory_list()
    assert lots and all("color_id" not in lot for lot in lots)  # the colour is only the BOID's suffix
    assert {lot["type"] for lot in lots} >= {"Part", "Minifigure", "Gear"}
    id_types = [{i["type"] for i in lot["ids"]} for lot in lots]
    assert any("bl_item_no" not in types for types in id_types) and any("bl_item_no" in types for types in id_types)
    tile = next(lot for lot in lots if {"id": "3069", "type": "design_id"} in lot["ids"])
    assert "-" in tile["boid"] and not any(i["type"] == "bl_item_no" for i in tile["ids"])
    answer = client.id_lookup(tile["boid"].split("-")[0], item_type="Part")
    assert lookup_bricklink_number(answer) == "3069b"  # BrickLink's number differs from the design id
    assert client.id_lookup("3069b", item_type="Part", id_type="bl_item_no")["boids"] == [tile["boid"].split("-")[0]]


def test_an_order_item_carries_brick_owls_colour_id_and_name():
    sim = simulator(orders=3)
    client = _client(sim)
    item = client.order_items(next(iter(sim["brickowl"].orders)))[0]
    assert item["boid"].endswith("-" + item["color_id"]) and item["color_name"]
    assert item["color_id"] not in {"11", "5", "1", "86", "85", "7", "3"}  # Brick Owl's ids, not BrickLink's


# --- mapping: Brick Owl-shaped payloads -----------------------------------------------------------------


def test_lot_and_order_item_records_keep_brick_owls_names_and_only_what_the_payload_says_of_bricklinks():
    lot = lot_record({"lot_id": "2726773", "boid": "306255-64", "type": "Part", "con": "new", "full_con": "new", "qty": "12",
                      "external_lot_ids": {"other": "55984821"},
                      "ids": [{"id": "30562", "type": "design_id"}, {"id": "306255-64", "type": "boid"}]})
    assert (lot.brickowl_boid, lot.brickowl_color_id, lot.brickowl_type) == ("306255-64", "64", "Part")
    assert (lot.part_number, lot.item_type, lot.color_id) == ("", "PART", "")  # the design id is not BrickLink's number
    record = order_record({"order_id": "1"}, {"order_id": "1", "status_id": "2"}, [
        {"order_item_id": "7", "boid": "547781", "type": "Minifigure", "ordered_quantity": "1",
         "ids": [{"id": "sw0001a", "type": "bl_item_no"}]},
        {"order_item_id": "8", "boid": "487300-38", "type": "Part", "color_id": "38", "color_name": "Black",
         "ordered_quantity": "2", "ids": []},
    ])
    minifig, tile = record.items
    assert (minifig.item_type, minifig.part_number, minifig.brickowl_color_id) == ("MINIFIG", "sw0001a", "")
    assert (tile.brickowl_color_id, tile.color_id, tile.color_name) == ("38", "", "Black")


def test_an_undocumented_type_name_is_not_upper_cased_into_a_bricklink_type():
    lot = lot_record({"lot_id": "1", "boid": "9-38", "type": "Minibuild", "qty": "1"})
    assert lot.item_type == "SET"
    odd = lot_record({"lot_id": "2", "boid": "9-38", "type": "Widget", "qty": "1"})
    assert odd.item_type == ""  # not "WIDGET"


def test_a_boid_longer_than_its_column_is_a_named_bad_record():
    with pytest.raises(ValueError, match="boid"):
        lot_record({"lot_id": "1", "boid": "9" * 41 + "-38", "type": "Part", "qty": "1"})


def test_colour_list_entries_are_read_defensively():
    rows = color_entries({
        "205": {"id": "205", "name": "Reddish Gold", "bl_ids": ["226"]},
        "38": {"id": 38, "name": "Black", "bl_ids": [11, "11"]},
        "7": {"name": "No BrickLink twin", "bl_ids": []},
        "9": {"id": "9", "name": "One value", "bl_ids": "12"},
        "junk": "not an object",
    })
    assert rows == [("205", "Reddish Gold", ["226"]), ("38", "Black", ["11"]), ("7", "No BrickLink twin", []),
                    ("9", "One value", ["12"])]


# --- translation through the tables -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_brick_owl_lot_in_black_joins_the_bricklink_stock_item_in_colour_11():
    """The old mapping keyed Brick Owl lots by Brick Owl's colour ids (38, or nothing): a second stock item."""
    sim = simulator(orders=0)
    transport = CountingTransport(sim)
    bricklink = bricklink_connection()
    owl = brickowl_connection(organization=bricklink.organization)
    _sync(bricklink, "inventory", transport)
    _sync(owl, "inventory", transport)
    catalog_refresh(transport=transport)
    black = [lot for lot in sim["brickowl"].lots.values() if lot["boid"].endswith("-38") and not lot["bl_lot_id"]]
    assert black  # Black lots that no BrickLink lot id links: only the translated key can join them
    for raw in black:
        lot = InventoryLot.objects.select_related("item").get(connection=owl, external_id=raw["lot_id"])
        assert (lot.item.color_id, lot.color_id, lot.brickowl_color_id, lot.brickowl_boid) == ("11", "11", "38", raw["boid"])
        assert lot.item.lots.filter(connection=bricklink).exists()
    assert not InventoryItem.objects.filter(color_id__in=["38", ""]).exists()


@pytest.mark.django_db
def test_a_colour_brick_owl_lists_as_several_bricklink_ones_joins_the_one_the_seller_stocks():
    sim = simulator(orders=0)
    transport = CountingTransport(sim)
    bricklink = bricklink_connection()
    owl = brickowl_connection(organization=bricklink.organization)
    _sync(bricklink, "inventory", transport)
    _sync(owl, "inventory", transport)
    catalog_refresh(transport=transport)
    assert CatalogColor.objects.get(brickowl_color_id="64").bricklink_color_ids == ["103", "3"]
    yellow = InventoryLot.objects.filter(connection=owl, brickowl_color_id="64", external_bricklink_id="")
    assert yellow.exists()
    assert set(yellow.values_list("item__color_id", flat=True)) == {"3"}  # BrickLink's Yellow, not the first listed
    assert not InventoryItem.objects.filter(color_id="103").exists()


@pytest.mark.django_db
def test_a_first_import_queues_what_it_cannot_translate_and_bounded_catalog_runs_store_it():
    sim = simulator(orders=0)
    transport = CountingTransport(sim)
    owl = brickowl_connection()
    _sync(owl, "inventory", transport)
    lots = sim["brickowl"].lots
    assert UnmappedLot.objects.filter(connection=owl).count() == len(lots)  # no colour list yet: nothing dropped, all wait
    assert not InventoryLot.objects.exists()
    assert "not in Brick Owl's colour list (not read yet)" in UnmappedLot.objects.first().reason

    transport.requests.clear()
    first = catalog_refresh(lookups=2, transport=transport)
    assert first.colors == len(sim["brickowl"]._color_list()) and len(_lookups(transport)) == 2 and first.looked_up == 2
    assert first.pending_left > 0 and UnmappedLot.objects.exists()  # the rest waits for later runs
    stored = InventoryLot.objects.filter(connection=owl).count()
    assert stored > 0 and stored + UnmappedLot.objects.count() == len(lots)

    transport.requests.clear()
    catalog_refresh(transport=transport)
    assert all(not r.url.path.endswith("/color_list") for r in transport.requests)  # the colour list is fresh
    assert CatalogItem.objects.filter(state="pending").count() == 0
    waiting = list(UnmappedLot.objects.values_list("brickowl_boid", "brickowl_type", "reason"))
    assert waiting == [("771010", "Gear", "Brick Owl's catalog names no BrickLink number for BOID 771010")]
    assert InventoryLot.objects.filter(connection=owl).count() == len(lots) - 1
    assert InventoryLot.objects.get(connection=owl, brickowl_boid="547781").item.part_number == "sw0001a"

    transport.requests.clear()
    again = catalog_refresh(transport=transport)
    _sync(owl, "inventory", transport)
    assert _lookups(transport) == [] and again.looked_up == 0  # answers are cached, imports never look up
    assert UnmappedLot.objects.count() == 1


@pytest.mark.django_db
def test_a_bricklink_lot_id_links_a_lot_that_cannot_be_translated_yet():
    sim = simulator(orders=0)
    transport = CountingTransport(sim)
    bricklink = bricklink_connection()
    owl = brickowl_connection(organization=bricklink.organization)
    _sync(bricklink, "inventory", transport)
    _sync(owl, "inventory", transport)  # no catalog yet
    linked = [lot for lot in sim["brickowl"].lots.values() if lot["bl_lot_id"]]
    assert InventoryLot.objects.filter(connection=owl).count() == len(linked)
    assert not UnmappedLot.objects.filter(external_id__in=[lot["lot_id"] for lot in linked]).exists()
    lot = InventoryLot.objects.select_related("item").get(connection=owl, external_id=linked[0]["lot_id"])
    assert (lot.part_number, lot.color_id) == (lot.item.part_number, lot.item.color_id)  # named as the BrickLink lot's item


@pytest.mark.django_db
def test_order_items_store_both_marketplaces_ids_and_reserve_the_bricklink_stock_item():
    sim = simulator(orders=0)
    transport = CountingTransport(sim)
    bricklink = bricklink_connection()
    owl = brickowl_connection(organization=bricklink.organization)
    _sync(bricklink, "inventory", transport)
    _sync(owl, "inventory", transport)
    catalog_refresh(transport=transport)
    tile = next(lot for lot in sim["brickowl"].lots.values() if lot["boid"] == "400004-36")  # 3069b in Blue, BrickLink 7
    order_id = sim["brickowl"].control("sell", {"lots": {tile["lot_id"]: 3}})["order_id"]
    _sync(owl, "orders", transport)
    item = OrderItem.objects.get(order__connection=owl, order__external_id=order_id)
    assert (item.brickowl_boid, item.brickowl_color_id, item.brickowl_type) == ("400004-36", "36", "Part")
    assert (item.part_number, item.color_id, item.item_type) == ("3069b", "7", "PART")
    reservation = Reservation.objects.get(order_item=item)
    assert reservation.quantity == 3 and reservation.item.lots.filter(connection=bricklink).exists()
    assert inventory_check() == []


@pytest.mark.django_db
def test_an_order_of_an_untranslated_item_waits_unmapped_and_reserves_once_the_catalog_maps_it():
    sim = simulator(orders=0)
    transport = CountingTransport(sim)
    owl = brickowl_connection()
    _sync(owl, "inventory", transport)
    minifig = next(lot for lot in sim["brickowl"].lots.values() if lot["type"] == "Minifigure")
    order_id = sim["brickowl"].control("sell", {"lots": {minifig["lot_id"]: 2}})["order_id"]
    _sync(owl, "orders", transport)
    order = Order.objects.get(connection=owl, external_id=order_id)
    item = order.items.get()
    assert order.has_unmatched_items and item.part_number == "" and item.brickowl_boid == "547781"
    rows = unmapped_list(organization=owl.organization)
    queued = [r for r in rows if r.kind == "order item"]
    assert [(r.external_id, r.brickowl_type, r.quantity) for r in queued] == [(item.external_id, "Minifigure", 2)]
    assert "waits for Brick Owl's catalog lookup" in queued[0].reason

    result = catalog_refresh(transport=transport)
    item.refresh_from_db()
    order.refresh_from_db()
    assert result.order_items_mapped >= 1
    assert (item.part_number, item.item_type, item.color_id) == ("sw0001a", "MINIFIG", "0")
    assert not order.has_unmatched_items
    assert Reservation.objects.get(order_item=item).quantity == 2
    assert not [r for r in unmapped_list(organization=owl.organization) if r.kind == "order item"]
    assert inventory_check() == []


@pytest.mark.django_db
def test_translation_without_remember_writes_nothing():
    lot = lot_record({"lot_id": "1", "boid": "123456-38", "type": "Part", "qty": "1"})
    [translation] = catalog_translate([lot], remember=False)
    assert not translation.mapped and not CatalogItem.objects.exists()
    catalog_translate([lot])
    assert CatalogItem.objects.get().state == "pending"


@pytest.mark.django_db
def test_two_catalog_runs_never_claim_the_same_boid():
    from django.utils import timezone

    CatalogItem.objects.bulk_create([CatalogItem(boid=str(n), brickowl_type="Part") for n in range(5)])
    now = timezone.now()
    first = {c.boid for c in _claim_due_lookups(now=now, limit=3)}
    second = {c.boid for c in _claim_due_lookups(now=now, limit=3)}
    assert len(first) == 3 and len(second) == 2 and not first & second


@pytest.mark.django_db
def test_a_refused_key_stops_the_run_and_returns_its_claims():
    sim = simulator(orders=0)
    transport = CountingTransport(sim)
    owl = brickowl_connection()
    _sync(owl, "inventory", transport)
    catalog_refresh(lookups=0, transport=transport)  # the colour list only
    pending = CatalogItem.objects.filter(state="pending").count()
    sim["brickowl"].faults.force("unauthorized", 1)
    result = catalog_refresh(transport=transport)
    assert "API key" in result.error and simulator_token("brickowl", SEED) not in result.error and result.looked_up == 0
    assert not CatalogItem.objects.filter(claimed_until__isnull=False).exists()  # back in the queue at once
    assert CatalogItem.objects.filter(state="pending").count() == pending
    assert UnmappedLot.objects.count() + InventoryLot.objects.count() == len(sim["brickowl"].lots)  # nothing lost
    assert catalog_refresh(transport=transport).error == ""
    assert UnmappedLot.objects.count() == 1


@pytest.mark.django_db
def test_without_a_brick_owl_connection_a_run_says_so_and_calls_nothing():
    result = catalog_refresh(transport=httpx.MockTransport(lambda request: pytest.fail("no call expected")))
    assert "no enabled Brick Owl connection" in result.error


@pytest.mark.django_db
def test_a_re_lookup_naming_no_number_keeps_the_mapping_it_had():
    from inventory.catalog_sync import catalog_item_store

    entry = CatalogItem.objects.create(boid="400004", brickowl_type="Part", bricklink_item_no="3069b", state="mapped")
    catalog_item_store(entry=entry, answer={"boids": ["400004"], "ids": [{"id": "3069", "type": "design_id"}]})
    entry.refresh_from_db()
    assert (entry.state, entry.bricklink_item_no) == ("mapped", "3069b") and "earlier one is kept" in entry.lookup_error
    fresh = CatalogItem.objects.create(boid="771010", brickowl_type="Gear")
    catalog_item_store(entry=fresh, answer={"boids": []})
    fresh.refresh_from_db()
    assert fresh.state == "unmapped" and fresh.lookup_error == "Brick Owl's catalog does not know this BOID"
