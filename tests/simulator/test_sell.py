"""A buyer's checkout of named listings on the simulated BrickLink, Back Market and Refurbed (Brick Owl had one): the
order carries what was bought, the marketplace lowers the listing by it, and it refuses more than the listing holds
(the oversell bench's buyers rely on all three)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from marketsync.simulator.core import SimulatorConfig, build_simulator


def _client():
    app = build_simulator(SimulatorConfig(seed=5, orders=0, speed=0, new_order_every_seconds=0, start=datetime.now(UTC)))
    return app, httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sim")


def test_bricklink_sells_named_lots_lowering_them_and_never_more_than_a_lot_holds():
    app, client = _client()
    sim = app["bricklink"]
    lot_id = sorted(sim.lots)[3]
    before = sim.lots[lot_id]["quantity"]
    answer = client.post("/_sim/bricklink/sell", json={"lots": {str(lot_id): 2}})
    assert answer.status_code == 200
    order = sim.orders[answer.json()["order_id"]]
    assert order["batches"] == [[{"inventory_id": lot_id, "quantity": 2}]] and order["status"] == "PENDING"
    assert sim.lots[lot_id]["quantity"] == before - 2
    assert client.post("/_sim/bricklink/sell", json={"lots": {str(lot_id): before}}).status_code == 400
    assert client.post("/_sim/bricklink/sell", json={"lots": {"1": 1}}).status_code == 400
    assert sim.lots[lot_id]["quantity"] == before - 2 and len(sim.orders) == 1


def test_back_market_sells_named_listings_lowering_them_and_never_more_than_a_listing_holds():
    app, client = _client()
    sim = app["backmarket"]
    listing = next(x for x in sim.listings if x["quantity"] >= 2)
    before = listing["quantity"]
    answer = client.post("/_sim/backmarket/sell", json={"listings": {listing["sku"]: 2}})
    assert answer.status_code == 200
    lines = [sim.lines[i] for i in sim.orders[answer.json()["order_id"]]["lines"]]
    assert [(line["listing"], line["quantity"], line["state"]) for line in lines] == [(listing["sku"], 2, 1)]
    assert listing["quantity"] == before - 2
    assert client.post("/_sim/backmarket/sell", json={"listings": {listing["sku"]: before}}).status_code == 400
    assert listing["quantity"] == before - 2


def test_refurbed_sells_named_offers_one_item_per_unit_lowering_their_stock_and_never_more_than_they_hold():
    app, client = _client()
    sim = app["refurbed"]
    offer = next(o for o in sim.offers.values() if o["stock"] >= 2)
    before = offer["stock"]
    answer = client.post("/_sim/refurbed/sell", json={"offers": {offer["id"]: 2}})
    assert answer.status_code == 200
    items = sim.rpc_OrderService_GetOrder({"id": answer.json()["order_id"]})["order"]["items"]
    assert [(i["offer_data"]["offer_id"], i["sku"], i["state"]) for i in items] == [(offer["id"], offer["sku"], "NEW")] * 2
    assert offer["stock"] == before - 2
    assert client.post("/_sim/refurbed/sell", json={"offers": {offer["id"]: before}}).status_code == 400
    assert offer["stock"] == before - 2
