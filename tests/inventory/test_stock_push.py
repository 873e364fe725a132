"""The stock push: a change of available anywhere reaches every linked lot, listing and offer whose connection has
stock push on — through the outbox, exactly once, never deleting, never above available (simulator quantities)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.utils import timezone

from connections.models import EntitySync
from inventory.models import InventoryItem, InventoryLot, StockPush
from inventory.push import stock_push_drain
from inventory.services import inventory_adjust, stock_link_set
from listings.models import Listing
from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
from marketsync.sync.runner import run_entity_sync
from offers.models import Offer
from tests.factories import make_connection, make_organization

pytestmark = pytest.mark.django_db

SEED = 7


class Transport(httpx.BaseTransport):
    """The simulator in process; counts requests and can break chosen ones."""

    def __init__(self, app) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.requests: list[str] = []
        self.crash_after: set[str] = set()  # "METHOD path-part": forwarded, then the answer is lost (once)
        self.fail_before: dict[str, int] = {}  # "METHOD path-part": answered 503 this many times, not forwarded

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        for key in list(self.fail_before):
            method, part = key.split(" ", 1)
            if request.method == method and part in request.url.path and self.fail_before[key] > 0:
                self.fail_before[key] -= 1
                return httpx.Response(503, text="<html>busy</html>")
        response = self.inner.handle_request(request)
        for key in list(self.crash_after):
            method, part = key.split(" ", 1)
            if request.method == method and part in request.url.path:
                self.crash_after.discard(key)
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    def count(self, method: str, part: str) -> int:
        return sum(1 for r in self.requests if r.startswith(method + " ") and part in r)


def _shop():
    app = build_simulator(SimulatorConfig(seed=SEED, orders=0, speed=0, new_order_every_seconds=0,
                                          start=datetime.now(UTC) - timedelta(hours=1)))
    org = make_organization("push")
    bricklink = make_connection(org, "bricklink", base_url="http://sim/bricklink/api/store/v1", credentials={
        p: simulator_token("bricklink", SEED, p) for p in ("consumer_key", "consumer_secret", "token_value", "token_secret")})
    brickowl = make_connection(org, "brickowl", credentials={"api_key": simulator_token("brickowl", SEED)},
                               base_url="http://sim/brickowl/v1", options={"store_id": "1"})
    backmarket = make_connection(org, "backmarket", credentials={"api_key": simulator_token("backmarket", SEED)},
                                 base_url="http://sim/backmarket", platform="eu", options={"locale": "fr-fr"})
    refurbed = make_connection(org, "refurbed", credentials={"api_key": simulator_token("refurbed", SEED)},
                               base_url="http://sim/refurbed")
    transport = Transport(app)
    for connection, entity in [(bricklink, "inventory"), (brickowl, "inventory"), (backmarket, "listings"), (refurbed, "offers")]:
        run_entity_sync(EntitySync.objects.get(connection=connection, entity=entity).pk, transport=transport, force=True)
    return app, org, transport, {"bricklink": bricklink, "brickowl": brickowl, "backmarket": backmarket, "refurbed": refurbed}


def _push_on(*connections):
    for connection in connections:
        connection.stock_push = True
        connection.save(update_fields=["stock_push"])


def _brick_item(org, conns):
    """A BrickLink lot's item, with a Brick Owl lot linked to it too (by an owner)."""
    bl_lot = InventoryLot.objects.filter(connection=conns["bricklink"], item__isnull=False).order_by("external_id").first()
    bo_lot = InventoryLot.objects.filter(connection=conns["brickowl"]).exclude(item=bl_lot.item).order_by("external_id").first()
    stock_link_set(organization=org, connection_id=conns["brickowl"].pk, external_id=bo_lot.external_id, item_id=bl_lot.item_id)
    return InventoryItem.objects.get(pk=bl_lot.item_id), bl_lot, bo_lot


def _sku_item(org, conns):
    """A Back Market listing's item, with a Refurbed offer linked to it too."""
    listing = Listing.objects.filter(connection=conns["backmarket"], stock_item__isnull=False, quantity__gte=3).order_by("pk").first()
    offer = Offer.objects.filter(connection=conns["refurbed"]).order_by("pk").first()
    stock_link_set(organization=org, connection_id=conns["refurbed"].pk, external_id=offer.external_id,
                   item_id=listing.stock_item_id)
    return InventoryItem.objects.get(pk=listing.stock_item_id), listing, offer


def _sim_quantities(app, bl_lot=None, bo_lot=None, listing=None, offer=None) -> dict:
    found = {}
    if bl_lot is not None:
        found["bricklink"] = app["bricklink"].lots[int(bl_lot.external_id)]["quantity"]
    if bo_lot is not None:
        found["brickowl"] = int(app["brickowl"].lots[bo_lot.external_id]["qty"])
    if listing is not None:
        sim = app["backmarket"]
        found["backmarket"] = int(sim._listing(listing.external_id)["quantity"])
    if offer is not None:
        found["refurbed"] = app["refurbed"].offers[int(offer.external_id)]["stock"]
    return found


def test_push_off_by_default_sends_nothing():
    app, org, transport, conns = _shop()
    item, bl_lot, bo_lot = _brick_item(org, conns)
    before = _sim_quantities(app, bl_lot, bo_lot)
    inventory_adjust(organization=org, item_id=item.pk, delta=-3, reason="recount")
    assert StockPush.objects.count() == 0
    sent_before = len(transport.requests)
    assert stock_push_drain(transport=transport).sent == 0
    assert len(transport.requests) == sent_before and _sim_quantities(app, bl_lot, bo_lot) == before


def test_an_adjustment_reaches_every_linked_lot_listing_and_offer_exactly_once_and_records_what_was_pushed():
    app, org, transport, conns = _shop()
    _push_on(*conns.values())
    item, bl_lot, bo_lot = _brick_item(org, conns)
    sku_item, listing, offer = _sku_item(org, conns)
    stock_push_drain(transport=transport)  # the links themselves push
    for target, delta in ((item, -4), (sku_item, -1)):
        inventory_adjust(organization=org, item_id=target.pk, delta=delta, reason="damaged")
    result = stock_push_drain(transport=transport)
    assert result.failed == 0 and result.retrying == 0
    item.refresh_from_db()
    sku_item.refresh_from_db()
    quantities = _sim_quantities(app, bl_lot, bo_lot, listing, offer)
    assert quantities == {"bricklink": item.quantity_available, "brickowl": item.quantity_available,
                          "backmarket": sku_item.quantity_available, "refurbed": sku_item.quantity_available}
    bo_lot.refresh_from_db()
    assert (bo_lot.pushed_quantity, bo_lot.marketplace_quantity) == (item.quantity_available, item.quantity_available)
    assert bo_lot.pushed_at is not None
    # Nothing more to send: a second drain calls no marketplace.
    calls = len(transport.requests)
    assert stock_push_drain(transport=transport).sent == 0 and len(transport.requests) == calls
    from connections.models import AuditEntry
    entry = AuditEntry.objects.filter(action="inventory.push", target_id=bo_lot.external_id).order_by("-id").first()
    assert entry.outcome == "success" and entry.request_summary["to"] == item.quantity_available


def test_ten_changes_of_one_item_make_one_call():
    app, org, transport, conns = _shop()
    _push_on(conns["brickowl"])
    item, bl_lot, bo_lot = _brick_item(org, conns)
    stock_push_drain(transport=transport)
    for _ in range(10):
        inventory_adjust(organization=org, item_id=item.pk, delta=-1, reason="sold at a fair")
    linked = InventoryLot.objects.filter(connection=conns["brickowl"], item=item).count()  # by its BrickLink lot id too
    waiting = StockPush.objects.filter(state="pending")
    assert waiting.count() == linked >= 1 and {p.changes for p in waiting} == {10}
    before = len(transport.requests)
    stock_push_drain(transport=transport)
    # One call in all: one /inventory/update for a lone lot, one /bulk/batch for several.
    assert transport.requests[before:] == ["POST /brickowl/v1/bulk/batch" if linked > 1 else "POST /brickowl/v1/inventory/update"]
    item.refresh_from_db()
    assert _sim_quantities(app, bo_lot=bo_lot)["brickowl"] == item.quantity_available


def test_a_crash_between_send_and_record_never_applies_a_bricklink_delta_twice():
    app, org, transport, conns = _shop()
    _push_on(conns["bricklink"])
    item, bl_lot, _ = _brick_item(org, conns)
    start = app["bricklink"].lots[int(bl_lot.external_id)]["quantity"]
    inventory_adjust(organization=org, item_id=item.pk, delta=-5, reason="recount")
    transport.crash_after.add(f"PUT /inventories/{bl_lot.external_id}")
    first = stock_push_drain(transport=transport)
    assert first.retrying == 1  # BrickLink applied it; we never heard
    assert app["bricklink"].lots[int(bl_lot.external_id)]["quantity"] == start - 5
    StockPush.objects.update(next_attempt_at=timezone.now())
    second = stock_push_drain(transport=transport)
    assert second.unchanged == 1  # re-read: already there, no delta sent
    assert app["bricklink"].lots[int(bl_lot.external_id)]["quantity"] == start - 5
    assert [d for lot, d in app["bricklink"].quantity_updates if lot == int(bl_lot.external_id)] == [-5]


def test_quantity_zero_keeps_the_bricklink_lot_and_never_goes_above_available():
    app, org, transport, conns = _shop()
    _push_on(conns["bricklink"])
    item, bl_lot, _ = _brick_item(org, conns)
    inventory_adjust(organization=org, item_id=item.pk, delta=-item.quantity_on_hand, reason="all gone")
    stock_push_drain(transport=transport)
    lot = app["bricklink"].lots[int(bl_lot.external_id)]
    assert lot["quantity"] == 0 and lot["is_retain"] is True
    assert app["bricklink"].deleted_lots == []
    # Someone at BrickLink raises the lot above what we have: the next push brings it down, never up past available.
    lot["quantity"] = 40
    inventory_adjust(organization=org, item_id=item.pk, delta=3, reason="found some")
    stock_push_drain(transport=transport)
    assert app["bricklink"].lots[int(bl_lot.external_id)]["quantity"] == 3


def test_an_auth_error_stops_the_connections_pushes_until_credentials_are_replaced():
    app, org, transport, conns = _shop()
    _push_on(conns["brickowl"])
    item, _, bo_lot = _brick_item(org, conns)
    other = InventoryLot.objects.filter(connection=conns["brickowl"], item__isnull=False).exclude(pk=bo_lot.pk).first()
    stock_push_drain(transport=transport)
    conns["brickowl"].set_credentials({"api_key": "wrong-key-000"})
    conns["brickowl"].save()
    inventory_adjust(organization=org, item_id=item.pk, delta=-1, reason="r")
    inventory_adjust(organization=org, item_id=other.item_id, delta=-1, reason="r")
    before = transport.count("POST", "/brickowl/v1/")
    result = stock_push_drain(transport=transport)
    assert transport.count("POST", "/brickowl/v1/") == before + 1  # one batch call, refused: nothing more is sent
    assert result.waiting == 2 and result.sent == 0
    assert EntitySync.objects.filter(connection=conns["brickowl"], error_kind="auth").exists()
    StockPush.objects.update(next_attempt_at=timezone.now())
    stock_push_drain(transport=transport)
    assert transport.count("POST", "/brickowl/v1/") == before + 1  # still nothing sent
    assert StockPush.objects.filter(state="pending").count() == 2


def test_a_transient_error_is_retried_with_backoff_then_sent():
    app, org, transport, conns = _shop()
    _push_on(conns["refurbed"])
    sku_item, _, offer = _sku_item(org, conns)
    stock_push_drain(transport=transport)
    inventory_adjust(organization=org, item_id=sku_item.pk, delta=-1, reason="r")
    transport.fail_before["POST UpdateOffer"] = 1
    assert stock_push_drain(transport=transport).retrying == 1
    push = StockPush.objects.get(state="pending")
    assert push.attempts == 1 and push.next_attempt_at > timezone.now()
    assert stock_push_drain(transport=transport).sent == 0  # not due yet
    StockPush.objects.update(next_attempt_at=timezone.now())
    assert stock_push_drain(transport=transport).sent == 1
    sku_item.refresh_from_db()
    assert _sim_quantities(app, offer=offer)["refurbed"] == sku_item.quantity_available
