"""An order flows through: sold at one marketplace, synced or notified, the stock item's other listings come down
by exactly what was sold — once, however often the order is re-read — and a cancellation puts it back
(quantities read in the simulator after draining the outbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from django.core.cache import cache

from connections.models import EntitySync
from inventory.models import InventoryItem, Reservation, StockPush
from inventory.push import stock_push_drain
from inventory.selectors import inventory_check
from inventory.services import stock_link_set
from listings.models import Listing
from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
from marketsync.sync.runner import run_entity_sync
from offers.models import Offer
from orders.models import Order
from tests.factories import make_connection, make_organization
from tests.inventory.test_stock_push import SEED, Transport, _brick_item, _push_on, _sim_quantities

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _shop():
    """The four stores imported; the simulator's (still) clock stands a few minutes after the imports, so orders placed
    on it are new to them (an order placed before an import is already out of the quantity read: item 3)."""
    app = build_simulator(SimulatorConfig(seed=SEED, orders=0, speed=0, new_order_every_seconds=0,
                                          start=datetime.now(UTC) + timedelta(minutes=5)))
    org = make_organization("orders-push")
    bricklink = make_connection(org, "bricklink", base_url="http://sim/bricklink/api/store/v1", credentials={
        p: simulator_token("bricklink", SEED, p) for p in ("consumer_key", "consumer_secret", "token_value", "token_secret")})
    brickowl = make_connection(org, "brickowl", credentials={"api_key": simulator_token("brickowl", SEED)},
                               base_url="http://sim/brickowl/v1", options={"store_id": "1"})
    backmarket = make_connection(org, "backmarket", credentials={"api_key": simulator_token("backmarket", SEED)},
                                 base_url="http://sim/backmarket", platform="eu", options={"locale": "fr-fr"})
    refurbed = make_connection(org, "refurbed", credentials={"api_key": simulator_token("refurbed", SEED)},
                               base_url="http://sim/refurbed")
    transport = Transport(app)
    conns = {"bricklink": bricklink, "brickowl": brickowl, "backmarket": backmarket, "refurbed": refurbed}
    for connection, entity in [(bricklink, "inventory"), (brickowl, "inventory"), (backmarket, "listings"), (refurbed, "offers")]:
        _sync(connection, entity, transport)
    return app, org, transport, conns


@pytest.fixture
def shop():
    """All four connections with stock push on, their stores imported; workers reach the simulator at http://sim."""
    app, org, transport, conns = _shop()
    _push_on(*conns.values())
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="sim").mock(side_effect=lambda request: transport.handle_request(request))
        yield app, org, transport, conns


def _sync(connection, entity, transport):
    run_entity_sync(EntitySync.objects.get(connection=connection, entity=entity).pk, transport=transport, force=True)


def _drained(transport):
    result = stock_push_drain(transport=transport)
    assert result.failed == 0 and result.retrying == 0 and result.waiting == 0, result
    return result


def _available(item) -> int:
    item.refresh_from_db()
    return item.quantity_available


def test_a_brick_owl_order_notified_lowers_the_bricklink_lot_once_and_a_cancellation_restores_it(
    client, shop, eager_celery, django_capture_on_commit_callbacks
):
    app, org, transport, conns = shop
    item, bl_lot, bo_lot = _brick_item(org, conns)
    _drained(transport)  # the link itself pushes: both lots show available
    start = _available(item)
    assert start >= 2 and _sim_quantities(app, bl_lot, bo_lot) == {"bricklink": start, "brickowl": start}
    order_id = app["brickowl"].control("sell", {"lots": {bo_lot.external_id: 2}})["order_id"]
    notify = f"/webhooks/brickowl/{conns['brickowl'].webhook_token}/"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(notify, {"order_id": order_id, "store_id": "1"}).status_code == 200
    assert StockPush.objects.filter(connection=conns["bricklink"], state=StockPush.State.PENDING).count() == 1
    _drained(transport)
    assert _available(item) == start - 2
    assert _sim_quantities(app, bl_lot, bo_lot) == {"bricklink": start - 2, "brickowl": start - 2}
    # The same notification again, twice, and the order sync on top: nothing more comes off anywhere.
    puts = transport.count("PUT", "/inventories/")
    for _ in range(2):
        cache.clear()
        with django_capture_on_commit_callbacks(execute=True):
            assert client.get(notify, {"order_id": order_id, "store_id": "1"}).status_code == 200
    _sync(conns["brickowl"], "orders", transport)
    _drained(transport)
    assert _available(item) == start - 2 and transport.count("PUT", "/inventories/") == puts
    assert _sim_quantities(app, bl_lot, bo_lot) == {"bricklink": start - 2, "brickowl": start - 2}
    # The buyer cancels at Brick Owl: the next sync releases the hold, and both lots go back up.
    app["brickowl"].control("cancel", {"order_id": order_id})
    _sync(conns["brickowl"], "orders", transport)
    _drained(transport)
    assert _available(item) == start
    assert _sim_quantities(app, bl_lot, bo_lot) == {"bricklink": start, "brickowl": start}
    assert inventory_check() == []


def test_a_bricklink_order_synced_lowers_the_linked_brick_owl_lot_once(shop):
    app, org, transport, conns = shop
    order = app["bricklink"].control("new_order", {})
    line = app["bricklink"].orders[order["order_id"]]["batches"][0][0]
    bl_lot = conns["bricklink"].inventory_lots.get(external_id=str(line["inventory_id"]))
    bo_lot = conns["brickowl"].inventory_lots.exclude(item=bl_lot.item).order_by("external_id").first()
    stock_link_set(organization=org, connection_id=conns["brickowl"].pk, external_id=bo_lot.external_id, item_id=bl_lot.item_id)
    item = InventoryItem.objects.get(pk=bl_lot.item_id)
    _drained(transport)
    start = _available(item)
    assert _sim_quantities(app, bo_lot=bo_lot) == {"brickowl": start}
    _sync(conns["bricklink"], "orders", transport)
    held = sum(Reservation.objects.filter(item=item, state="open").values_list("quantity", flat=True))
    assert held == sum(x["quantity"] for x in app["bricklink"].orders[order["order_id"]]["batches"][0]
                       if x["inventory_id"] == line["inventory_id"]) > 0
    _drained(transport)
    assert _sim_quantities(app, bl_lot, bo_lot) == {"bricklink": _available(item), "brickowl": _available(item)}
    assert _available(item) == max(0, start - held)
    # Synced again: already held, nothing more comes off.
    _sync(conns["bricklink"], "orders", transport)
    _drained(transport)
    assert _sim_quantities(app, bl_lot, bo_lot) == {"bricklink": max(0, start - held), "brickowl": max(0, start - held)}
    assert inventory_check() == []


def _sku_pair(org, conns, listing):
    """A Refurbed offer linked to the Back Market listing's stock item (an owner's link)."""
    offer = Offer.objects.filter(connection=conns["refurbed"]).exclude(stock_item=listing.stock_item).order_by("pk").first()
    stock_link_set(organization=org, connection_id=conns["refurbed"].pk, external_id=offer.external_id,
                   item_id=listing.stock_item_id)
    return InventoryItem.objects.get(pk=listing.stock_item_id), offer


def test_a_refurbed_notification_lowers_the_back_market_listing_without_a_sync_tick_and_a_cancellation_restores_it(
    client, shop, eager_celery, django_capture_on_commit_callbacks
):
    app, org, transport, conns = shop
    sim = app["refurbed"]
    order_id = sim.control("add_orders", {"count": 1})["ids"][0]
    rendered = sim.rpc_OrderService_GetOrder({"id": order_id})["order"]["items"]
    offer = Offer.objects.get(connection=conns["refurbed"], external_id=rendered[0]["offer_data"]["offer_id"])
    sold = [i for i in rendered if i["offer_data"]["offer_id"] == offer.external_id]  # one unit per order item
    listing = Listing.objects.filter(connection=conns["backmarket"], stock_item__isnull=False,
                                     quantity__gte=len(sold) + 1).order_by("pk").first()
    stock_link_set(organization=org, connection_id=conns["refurbed"].pk, external_id=offer.external_id,
                   item_id=listing.stock_item_id)
    item = InventoryItem.objects.get(pk=listing.stock_item_id)
    _drained(transport)
    start = _available(item)
    assert _sim_quantities(app, listing=listing, offer=offer) == {"backmarket": start, "refurbed": start}
    order_syncs = EntitySync.objects.get(connection=conns["refurbed"], entity="orders").last_finished_at
    url = f"http://shop.test/webhooks/refurbed/{conns['refurbed'].webhook_token}/"
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="sim").mock(side_effect=lambda request: transport.handle_request(request))
        mock.route(host="shop.test").mock(side_effect=lambda request: httpx.Response(client.post(
            request.url.path, data=request.content, content_type="application/json").status_code))
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert sim.control("notify", {"url": url, "order_id": order_id, "times": 2})["statuses"] == [200, 200]
    # The refresh reserved and queued the pushes, and asked for a drain on commit: no sync ran.
    assert EntitySync.objects.get(connection=conns["refurbed"], entity="orders").last_finished_at == order_syncs
    assert Order.objects.filter(connection=conns["refurbed"]).count() == 1 and len(callbacks) >= 2
    assert StockPush.objects.filter(connection=conns["backmarket"], state=StockPush.State.PENDING).count() == 1
    _drained(transport)
    assert _available(item) == start - len(sold)
    assert _sim_quantities(app, listing=listing, offer=offer) == {"backmarket": start - len(sold), "refurbed": start - len(sold)}
    # Delivered again later (Refurbed retries for two days): nothing more comes off.
    cache.clear()
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="sim").mock(side_effect=lambda request: transport.handle_request(request))
        mock.route(host="shop.test").mock(side_effect=lambda request: httpx.Response(client.post(
            request.url.path, data=request.content, content_type="application/json").status_code))
        with django_capture_on_commit_callbacks(execute=True):
            sim.control("notify", {"url": url, "order_id": order_id})
    _drained(transport)
    assert _available(item) == start - len(sold)
    # The items are cancelled at Refurbed: the order sync releases them and both listings go back up.
    for rendered_item in sold:
        sim.control("set_item_state", {"id": rendered_item["id"], "state": "CANCELLED"})
    _sync(conns["refurbed"], "orders", transport)
    _drained(transport)
    assert _available(item) == start
    assert _sim_quantities(app, listing=listing, offer=offer) == {"backmarket": start, "refurbed": start}
    assert inventory_check() == []


def test_a_back_market_order_synced_lowers_the_linked_refurbed_offer_once(shop):
    app, org, transport, conns = shop
    order_id = app["backmarket"].control("new_order", {})["order_id"]
    lines = [app["backmarket"].lines[lid] for lid in app["backmarket"].orders[int(order_id)]["lines"]]
    listing = Listing.objects.get(connection=conns["backmarket"], sku=lines[0]["listing"])
    item, offer = _sku_pair(org, conns, listing)
    _drained(transport)
    start = _available(item)
    sold = sum(line["quantity"] for line in lines if line["listing"] == listing.sku)
    _sync(conns["backmarket"], "orders", transport)
    _drained(transport)
    assert _available(item) == max(0, start - sold) < start
    assert _sim_quantities(app, listing=listing, offer=offer) == {"backmarket": _available(item), "refurbed": _available(item)}
    _sync(conns["backmarket"], "orders", transport)
    _drained(transport)
    assert _sim_quantities(app, offer=offer) == {"refurbed": max(0, start - sold)}
    assert inventory_check() == []
