"""The simulator's batch stock endpoints, as the docs describe them, and the clients' per-item answers: Brick Owl
``/bulk/batch`` (a JSON string in a form field, at most 50 sub-requests, one answer each, in order) and Refurbed
``BatchUpdateOffers`` (1 to 50 updates, HTTP 200 with a ``{status, offer?}`` per update, in request order)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from marketsync.marketplaces.brickowl.client import BrickOwlClient
from marketsync.marketplaces.refurbed.client import RefurbedClient
from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
from marketsync.sync.errors import InvalidRequest, NotFound

SEED = 5


@pytest.fixture
def sim():
    return build_simulator(SimulatorConfig(seed=SEED, orders=0, speed=0, new_order_every_seconds=0,
                                           start=datetime(2026, 11, 1, tzinfo=UTC)))


def _brickowl(sim):
    return BrickOwlClient(http=httpx.Client(transport=httpx.WSGITransport(app=sim)), api_key=simulator_token("brickowl", SEED),
                          base_url="http://sim/brickowl/v1")


def _refurbed(sim):
    return RefurbedClient(http=httpx.Client(transport=httpx.WSGITransport(app=sim)), token=simulator_token("refurbed", SEED),
                          base_url="http://sim/refurbed")


def test_brick_owl_bulk_batch_answers_each_sub_request_in_order_and_refuses_more_than_fifty(sim):
    lots = sorted(sim["brickowl"].lots)[:3]
    answers = _brickowl(sim).inventory_set_quantities([(lots[0], 4), ("999999999", 1), (lots[1], 0)])
    assert answers[0] == {"status": "success"} and answers[2] == {"status": "success"}
    assert isinstance(answers[1], InvalidRequest) and "Lot not found" in str(answers[1])
    assert sim["brickowl"].lots[lots[0]]["qty"] == "4" and sim["brickowl"].lots[lots[1]]["qty"] == "0"
    assert lots[1] in sim["brickowl"].lots  # 0 keeps the lot
    with httpx.Client(transport=httpx.WSGITransport(app=sim), base_url="http://sim/brickowl/v1") as http:
        requests = [{"endpoint": "inventory/update", "request_method": "POST",
                     "params": [{"lot_id": lots[2], "absolute_quantity": 1}]}] * 51
        too_many = http.post("/bulk/batch", data={"key": simulator_token("brickowl", SEED),
                                                  "requests": json.dumps({"requests": requests})})
        assert too_many.status_code == 400 and "50" in too_many.json()["error"]
        not_json = http.post("/bulk/batch", data={"key": simulator_token("brickowl", SEED), "requests": "{oops"})
        assert not_json.status_code == 400
    with pytest.raises(ValueError):
        _brickowl(sim).inventory_set_quantities([(lots[2], 1)] * 51)


def test_refurbed_batch_update_offers_gives_a_status_per_offer_and_refuses_more_than_fifty(sim):
    offers = sorted(sim["refurbed"].offers)[:2]
    answers = _refurbed(sim).batch_update_offers_stock([(str(offers[0]), 3), ("1", 2), (str(offers[1]), 0)])
    assert answers[0]["stock"] == 3 and answers[2]["stock"] == 0
    assert isinstance(answers[1], NotFound)
    assert sim["refurbed"].offers[offers[1]]["stock"] == 0  # an offer at 0 stays
    with httpx.Client(transport=httpx.WSGITransport(app=sim), base_url="http://sim/refurbed") as http:
        headers = {"Authorization": f"Plain {simulator_token('refurbed', SEED)}"}
        path = "/refb.merchant.v1.OfferService/BatchUpdateOffers"
        raw = http.post(path, json={"offers": [{"identifier": {"id": str(offers[0])}, "stock": -1}]}, headers=headers)
        assert raw.status_code == 200 and raw.json()["results"][0]["status"]["code"] == 3  # INVALID_ARGUMENT, per entry
        too_many = http.post(path, json={"offers": [{"identifier": {"id": str(offers[0])}, "stock": 1}] * 51}, headers=headers)
        assert too_many.status_code == 400
        assert http.post(path, json={"offers": []}, headers=headers).status_code == 400
