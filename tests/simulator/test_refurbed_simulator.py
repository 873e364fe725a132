"""The Refurbed simulator on its own: determinism, evolution, auth, paging rules, limits, faults, control."""

from __future__ import annotations

import time

import httpx
import pytest

from marketsync.simulator.core import SimulatorConfig, build_simulator
from marketsync.simulator.management.commands.runsimulator import available_marketplaces
from tests.marketplaces.refurbed.sim import START, make_sim, token

LIST_ORDERS = "/refurbed/refb.merchant.v1.OrderService/ListOrders"


def post(app, path, body=None, api_key=None, headers=None):
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sim") as c:
        auth = {} if api_key == "" else {"Authorization": f"Plain {api_key or token()}"}
        return c.post(path, json=body or {}, headers={**auth, **(headers or {})})


def test_same_seed_same_data_and_another_seed_other_data():
    a, b, c = make_sim(start=START), make_sim(start=START), make_sim(start=START, seed=7)
    body = {"pagination": {"limit": 20}}
    assert post(a, LIST_ORDERS, body).json() == post(b, LIST_ORDERS, body).json()
    assert post(a, LIST_ORDERS, body).json() != post(c, LIST_ORDERS, body, api_key=token(seed=7)).json()


def test_the_clock_releases_new_orders_and_moves_states_deterministically():
    a = make_sim(start=START, new_order_every_seconds=30)
    b = make_sim(start=START, new_order_every_seconds=30)
    before = len(a["refurbed"].order_ids)
    for app in (a, b):
        app.clock.advance(3600)
        post(app, LIST_ORDERS, {"pagination": {"limit": 1}})
    assert len(a["refurbed"].order_ids) == before + 120
    assert a["refurbed"].item_states == b["refurbed"].item_states
    fresh = make_sim(start=START, new_order_every_seconds=30)
    assert a["refurbed"].item_states[:before] != fresh["refurbed"].item_states  # states moved
    offers_before = dict(fresh["refurbed"].offers)
    assert set(a["refurbed"].offers) != set(offers_before)  # offers appeared and disappeared
    newest = post(a, LIST_ORDERS, {"pagination": {"limit": 1}, "sort": {"by": "ID", "order": "DESC"}}).json()["orders"][0]
    assert newest["released_at"].startswith("2026-11-01T13:00:00")


def test_auth_missing_wrong_and_without_permission():
    app = make_sim()
    missing = post(app, LIST_ORDERS, api_key="")
    assert missing.status_code == 401 and missing.json()["code"] == 16 and missing.json()["details"] == []
    assert post(app, LIST_ORDERS, api_key="nope").status_code == 401
    forbidden = post(app, LIST_ORDERS, api_key=token("no_permissions"))
    assert forbidden.status_code == 403 and forbidden.json()["code"] == 7
    app["refurbed"].control("revoke_token", {})
    assert post(app, LIST_ORDERS).status_code == 401
    app["refurbed"].control("restore_token", {})
    assert post(app, LIST_ORDERS).status_code == 200


def test_paging_rules_limits_and_cursors():
    app = make_sim(orders=250)
    ids = [str(i) for i in app["refurbed"].order_ids]
    too_big = post(app, LIST_ORDERS, {"pagination": {"limit": 101}})
    assert too_big.status_code == 400 and too_big.json() == {
        "code": 3, "message": "pagination limit is too large (>100)", "details": []}
    both = post(app, LIST_ORDERS, {"pagination": {"starting_after": ids[1], "ending_before": ids[5]}})
    assert both.status_code == 400 and both.json()["code"] == 3
    first = post(app, LIST_ORDERS, {}).json()
    assert len(first["orders"]) == 100 and first["has_more"] is True
    last = post(app, LIST_ORDERS, {"pagination": {"starting_after": int(ids[199])}}).json()  # int64 as a number is accepted
    assert [o["id"] for o in last["orders"]] == ids[200:] and last["has_more"] is False
    back = post(app, LIST_ORDERS, {"pagination": {"ending_before": ids[200], "limit": 10}}).json()
    assert [o["id"] for o in back["orders"]] == ids[190:200] and back["has_more"] is True
    desc = post(app, LIST_ORDERS, {"pagination": {"limit": 3}, "sort": {"by": "ID", "order": "DESC"}}).json()
    assert [o["id"] for o in desc["orders"]] == ids[-1:-4:-1]


def test_filters_by_id_released_at_and_state_and_encodings():
    app = make_sim(orders=250)
    sim = app["refurbed"]
    by_id = post(app, LIST_ORDERS, {"filter": {"id": {"any_of": [str(sim.order_ids[3]), sim.order_ids[9], "1"]}}}).json()
    assert [o["id"] for o in by_id["orders"]] == [str(sim.order_ids[3]), str(sim.order_ids[9])]
    since = by_id["orders"][1]["released_at"]
    released = post(app, LIST_ORDERS, {"filter": {"released_at": {"gt": since}}, "pagination": {"limit": 100}}).json()
    assert released["orders"][0]["id"] == str(sim.order_ids[10])
    new = post(app, LIST_ORDERS, {"filter": {"state": {"any_of": ["NEW"]}}}).json()["orders"]
    assert new and all(o["state"] == "NEW" and any(i["state"] == "NEW" for i in o["items"]) for o in new)
    order = new[0]
    assert isinstance(order["id"], str) and isinstance(order["total_charged"], str) and order["released_at"].endswith("Z")
    assert isinstance(order["items"][0]["order_id"], str) and "." in order["items"][0]["total_charged"]


def test_rate_limit_headers_and_429_above_the_configured_rate():
    app = make_sim(rate_limit_per_second=2)
    responses = [post(app, LIST_ORDERS, {"pagination": {"limit": 1}}) for _ in range(6)]
    assert all("X-RateLimit-Reset" in r.headers and "X-RateLimit-Remaining" in r.headers for r in responses)
    limited = [r for r in responses if r.status_code == 429]
    assert limited and limited[0].json()["code"] == 8
    assert int(limited[0].headers["X-RateLimit-Reset"]) >= int(time.time())


def test_faults_render_refurbed_status_bodies():
    app = make_sim()
    app["refurbed"].faults.force("server_error", 3)
    statuses = [post(app, LIST_ORDERS) for _ in range(3)]
    assert sorted(r.status_code for r in statuses) == [500, 502, 503]
    assert all(set(r.json()) == {"code", "message", "details"} for r in statuses)
    app["refurbed"].faults.force("rate_limit")
    limited = post(app, LIST_ORDERS)
    assert limited.status_code == 429 and limited.json()["code"] == 8 and "X-RateLimit-Reset" in limited.headers
    app["refurbed"].faults.force("malformed")
    with pytest.raises(ValueError):
        post(app, LIST_ORDERS).json()


def test_control_add_orders_and_stats():
    app = make_sim()
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sim") as c:
        ids = c.post("/_sim/refurbed/add_orders", json={"count": 4}).json()["ids"]
        stats = c.post("/_sim/refurbed/stats").json()
    assert len(ids) == 4 and stats["orders"] == 304 and stats["offers"] >= 120
    got = post(app, "/refurbed/refb.merchant.v1.OrderService/GetOrder", {"id": ids[0]}).json()["order"]
    assert got["id"] == ids[0] and got["state"] == "NEW"


def test_unknown_method_and_get_are_refused_with_status_bodies():
    app = make_sim()
    assert post(app, "/refurbed/refb.merchant.v1.OrderService/Nope").json()["code"] == 5
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sim") as c:
        assert c.get(LIST_ORDERS, headers={"Authorization": f"Plain {token()}"}).status_code == 404


@pytest.mark.slow
def test_two_hundred_thousand_orders_are_served_quickly():
    started = time.monotonic()
    app = build_simulator(SimulatorConfig(marketplaces=("refurbed",), speed=0, orders=200_000, new_order_every_seconds=0))
    built = time.monotonic() - started
    sim = app["refurbed"]
    started = time.monotonic()
    page = post(app, LIST_ORDERS, {"pagination": {"starting_after": str(sim.order_ids[150_000])}}).json()
    recent = post(app, LIST_ORDERS, {"filter": {"released_at": {"ge": page["orders"][0]["released_at"]}}}).json()
    served = time.monotonic() - started
    assert page["orders"][0]["id"] == str(sim.order_ids[150_001]) and recent["orders"][0]["id"] == page["orders"][0]["id"]
    assert built < 15 and served < 2, (built, served)


def test_runsimulator_skips_a_marketplace_whose_module_is_missing():
    notes: list[str] = []
    assert available_marketplaces(["refurbed", "nosuchmarket"], notes.append) == ["refurbed"]
    assert "nosuchmarket" in notes[0]


def test_ship_tracking_follows_the_spec_url_or_carrier_slug_pair_and_the_item_shows_only_the_url():
    """UpdateOrderItemState to SHIPPED needs a parcel tracking URL; a carrier + tracking number pair (the carrier a
    slug from ListAvailableCarriers) gives one; an explicit URL in the same update stands; an unknown slug is refused;
    the item carries only parcel_tracking_url (no carrier or tracking number field in the spec's OrderItem)."""
    app = make_sim(start=START, orders=40)
    sim = app["refurbed"]
    single = [i for i, s in enumerate(sim.item_states) if len(s) == 1][:4]
    for index in single:
        sim.item_states[index] = ["ACCEPTED"]
    ids = [sim.order_ids[i] * 10 for i in single]  # an order's first item id
    update = "/refurbed/refb.merchant.v1.OrderItemService/UpdateOrderItemState"
    slugs = {c["slug"] for c in post(app, "/refurbed/refb.merchant.v1.ShippingProfileService/ListAvailableCarriers").json()["carriers"]}
    assert "dhl" in slugs

    bare = post(app, update, {"id": str(ids[0]), "state": "SHIPPED"})
    assert bare.status_code == 400 and bare.json()["code"] == 3 and "tracking URL is required" in bare.json()["message"]
    unknown = post(app, update, {"id": str(ids[0]), "state": "SHIPPED",
                                 "parcel_carrier_tracking_number": {"carrier": "pigeon", "tracking_number": "1"}})
    assert unknown.status_code == 400 and "unknown carrier" in unknown.json()["message"]
    assert sim.item_states[single[0]] == ["ACCEPTED"]  # a refused update changes nothing

    pair = post(app, update, {"id": str(ids[1]), "state": "SHIPPED",
                              "parcel_carrier_tracking_number": {"carrier": "dhl", "tracking_number": "0034"}}).json()["order_item"]
    assert pair["state"] == "SHIPPED" and pair["parcel_tracking_url"].startswith("https://") and "0034" in pair["parcel_tracking_url"]
    assert "parcel_carrier_tracking_number" not in pair and "carrier" not in pair and "tracking_number" not in pair

    both = post(app, update, {"id": str(ids[2]), "state": "SHIPPED", "parcel_tracking_url": "https://track.example/x/1",
                              "parcel_carrier_tracking_number": {"carrier": "ups", "tracking_number": "1Z"}}).json()["order_item"]
    assert both["parcel_tracking_url"] == "https://track.example/x/1"
