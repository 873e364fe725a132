"""The brick simulators' documented filters and their outbound calls (callbacks, notify)."""

import httpx
import respx

from marketsync.marketplaces.bricklink.client import BrickLinkClient
from marketsync.marketplaces.brickowl.client import BrickOwlClient
from marketsync.simulator.core import simulator_token
from tests.marketplaces.bricklink.helpers import SEED, bricklink_credentials, simulator


def _bricklink(sim):
    return BrickLinkClient(http=httpx.Client(transport=httpx.WSGITransport(app=sim)), credentials=bricklink_credentials(),
                           base_url="http://sim/bricklink/api/store/v1")


def test_bricklink_order_filters_direction_status_and_filed():
    sim = simulator(orders=40)
    client = _bricklink(sim)
    everything = client.orders()
    statuses = {o["status"] for o in everything}
    some = sorted(statuses)[0]
    assert {o["status"] for o in client.orders(status=some.lower())} == {some}
    assert some not in {o["status"] for o in client.orders(status=f"-{some}")}
    assert client.orders(direction="out") == []
    filed_id = everything[0]["order_id"]
    sim["bricklink"].orders[filed_id]["is_filed"] = True
    assert filed_id not in {o["order_id"] for o in client.orders()}
    assert [o["order_id"] for o in client.orders(filed=True)] == [filed_id]
    lot = client.inventories()[0]
    assert isinstance(lot["inventory_id"], int) and len(lot["unit_price"].split(".")[1]) == 4


def test_bricklink_callback_posts_an_empty_body_and_each_change_is_a_notification():
    sim = simulator(orders=3)
    with respx.mock(assert_all_called=True) as mock:
        hook = mock.post("http://shop.test/webhooks/bricklink/tok/").respond(200)
        assert sim["bricklink"].control("callback", {"url": "http://shop.test/webhooks/bricklink/tok/"}) == {"status": 200}
        assert hook.calls.last.request.content == b""
    order_id = sim["bricklink"].control("new_order", {})["order_id"]
    sim["bricklink"].control("cancel", {"order_id": order_id})
    notes = _bricklink(sim).notifications()
    assert [n["resource_id"] for n in notes] == [order_id, order_id] and notes[0]["event_type"] == "Order"
    assert _bricklink(sim).notifications() == []  # fetched once, then read


def test_brickowl_list_parameters_and_notify_call():
    sim = simulator(orders=40)
    client = BrickOwlClient(http=httpx.Client(transport=httpx.WSGITransport(app=sim)), api_key=simulator_token("brickowl", SEED),
                            base_url="http://sim/brickowl/v1")
    everything = client.order_list()
    times = [int(o["order_date"]) for o in everything]
    assert times == sorted(times, reverse=True)
    middle = times[len(times) // 2]
    assert all(int(o["order_date"]) >= middle for o in client.order_list(order_time=middle))
    assert len(client.order_list(limit=5)) == 5
    assert {o["status_id"] for o in client.order_list(status="Shipped")} <= {"5"}
    assert {o["status"] for o in client.order_list(status="6")} <= {"Received"}
    assert client.order_list(list_type="customer") == []
    assert len(client.order_list(sort_by="updated")) == len(everything)
    active = {lot["lot_id"] for lot in client.get("/inventory/list")}
    assert active <= {lot["lot_id"] for lot in client.inventory_list()}
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get("http://shop.test/brick_owl_order_notify").respond(200)
        sim["brickowl"].control("notify", {"url": "http://shop.test/brick_owl_order_notify", "order_id": everything[0]["order_id"]})
        params = route.calls.last.request.url.params
        assert (params["order_id"], params["store_id"]) == (everything[0]["order_id"], "1")
