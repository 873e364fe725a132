"""One way to fulfil an order on Refurbed, BrickLink and Brick Owl: each write against its simulator, refused
transitions in the marketplace's words, validation before sending, and transient failures retried once."""

from __future__ import annotations

import httpx
import pytest

from connections.models import AuditEntry
from marketsync.sync.runner import run_entity_sync
from marketsync.sync.writes import WriteRefused
from orders import fulfilment
from orders.models import Order, OrderItem, PendingOrderWrite
from tests.marketplaces.bricklink.helpers import CountingTransport, bricklink_connection, brickowl_connection, entity_sync
from tests.marketplaces.bricklink.helpers import simulator as brick_simulator
from tests.marketplaces.refurbed.sim import make_sim, refurbed_connection

pytestmark = pytest.mark.django_db


class LostAnswerTransport(CountingTransport):
    """The marketplace applies the next matching write, then the answer is lost (a read timeout)."""

    def __init__(self, app, lose: str) -> None:
        super().__init__(app)
        self.lose = lose

    def handle_request(self, request):
        response = super().handle_request(request)
        if self.lose and self.lose in request.url.path and request.method != "GET":
            self.lose = ""
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


class WritesDownTransport(CountingTransport):
    """Reads pass; every write is answered 503 before the marketplace sees it."""

    def handle_request(self, request):
        if request.method != "GET":
            self.requests.append(request)
            return httpx.Response(503, json={"meta": {"code": 503, "message": "SERVICE_UNAVAILABLE", "description": ""}})
        return super().handle_request(request)


def sync_orders(connection, transport):
    outcome = run_entity_sync(entity_sync(connection, "orders").pk, transport=transport, force=True)
    assert outcome.status == "ok", outcome.error
    transport.requests.clear()


def audits(action):
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


# --- Refurbed ------------------------------------------------------------------------------------------------------


@pytest.fixture
def refurbed():
    sim = make_sim(orders=60)
    transport = CountingTransport(sim)
    connection = refurbed_connection()
    sync_orders(connection, transport)
    return sim["refurbed"], transport, connection


def refurbed_order(connection, *, states: set[str], count: int | None = None, sim=None, transport=None) -> Order:
    """An order of ``count`` items (1 by default), every item set to the one state in ``states`` at Refurbed, re-read."""
    from marketsync.sync.refresh import record_refresh

    (state,) = states
    count = count or 1
    used = sim.__dict__.setdefault("_orders_used_by_tests", set())  # each call gets an order of its own
    index = next(i for i, s in enumerate(sim.item_states) if len(s) == count and sim.order_ids[i] not in used)
    used.add(sim.order_ids[index])
    sim.item_states[index] = [state] * count
    record_refresh(connection=connection, entity="orders", external_id=str(sim.order_ids[index]), transport=transport)
    transport.requests.clear()
    return Order.objects.get(connection=connection, external_id=str(sim.order_ids[index]))


def test_refurbed_accept_then_ship_with_a_carrier_pair_is_applied_audited_and_reread(refurbed):
    sim, transport, connection = refurbed
    order = refurbed_order(connection, states={"NEW"}, count=2, sim=sim, transport=transport)
    for item in order.items.all():
        fulfilment.order_accept_item(item=item, transport=transport, actor="test")
    order = Order.objects.get(pk=order.pk)
    assert {i.marketplace_status for i in order.items.all()} == {"ACCEPTED"}
    assert fulfilment.order_actions(order=order).ship
    shipped = fulfilment.order_ship(order=order, carrier="dhl", tracking_number="00340434161094042557",
                                    transport=transport, actor="test")
    assert {i.marketplace_status for i in shipped.items.all()} == {"SHIPPED"}
    assert "00340434161094042557" in shipped.tracking_url  # Refurbed's answer, re-read
    assert audits("order_ship")[-1].outcome == "success"
    paths = transport.paths()
    many = order.items.count() > 1
    assert any(p.endswith("/BatchUpdateOrderItemsState" if many else "/UpdateOrderItemState") for p in paths)
    assert paths[-1].endswith(("/GetOrder", "/ListOrderItemsByOrder"))  # the order was re-read after the write


def test_refurbed_refuses_shipping_a_new_item_in_its_own_words_and_nothing_changes(refurbed):
    sim, transport, connection = refurbed
    order = refurbed_order(connection, states={"NEW"}, count=1, sim=sim, transport=transport)
    item = order.items.get()
    # The page would not offer it; the API call is made directly to see Refurbed's refusal.
    with pytest.raises(Exception) as refused:
        from marketsync.sync.clients import marketplace_client
        from marketsync.sync.http import build_http_client

        with build_http_client(transport=transport) as http:
            marketplace_client(connection, http).update_order_item_state(
                item.external_id, "SHIPPED", parcel_tracking_url="https://track.example/1")
    assert "illegal state transition from NEW to SHIPPED" in str(refused.value)
    # Through the service: refused here before sending, audited, nothing stored changes.
    transport.requests.clear()
    with pytest.raises(WriteRefused, match="accept"):
        fulfilment.order_ship(order=order, tracking_url="https://track.example/1", transport=transport)
    assert transport.requests == []
    assert audits("order_ship")[-1].outcome == "failure"
    assert OrderItem.objects.get(pk=item.pk).marketplace_status == "NEW"


def test_refurbed_refusal_from_the_api_is_shown_in_refurbeds_words_with_a_failure_audit(refurbed):
    sim, transport, connection = refurbed
    order = refurbed_order(connection, states={"NEW"}, count=1, sim=sim, transport=transport)
    item = order.items.get()
    sim.control("set_item_state", {"id": item.external_id, "state": "CANCELLED"})  # the customer cancelled meanwhile
    with pytest.raises(WriteRefused) as refused:
        fulfilment.order_accept_item(item=item, transport=transport)
    assert "illegal state transition from CANCELLED to ACCEPTED" in refused.value.message
    assert not refused.value.refused_locally
    assert audits("order_item_accept")[-1].outcome == "failure"
    assert OrderItem.objects.get(pk=item.pk).marketplace_status == "NEW"  # nothing changed locally


def test_refurbed_unknown_carrier_is_refused_against_refurbeds_carrier_list_before_the_ship_is_sent(refurbed):
    sim, transport, connection = refurbed
    order = refurbed_order(connection, states={"ACCEPTED"}, count=1, sim=sim, transport=transport)
    with pytest.raises(WriteRefused, match="unknown carrier") as refused:
        fulfilment.order_ship(order=order, carrier="pigeon", tracking_number="123", transport=transport)
    assert "dhl" in refused.value.message  # the slugs Refurbed offers
    assert [p.rsplit("/", 1)[-1] for p in transport.paths()] == ["ListAvailableCarriers"]  # no UpdateOrderItemState
    assert OrderItem.objects.get(order=order).marketplace_status == "ACCEPTED"
    assert audits("order_ship")[-1].outcome == "failure"


def test_refurbed_pair_sends_the_carrier_slug_from_listavailablecarriers_asked_once_and_reads_back_the_url(refurbed):
    """The spec: the pair's carrier is a slug from ListAvailableCarriers (cache it); the item carries only
    parcel_tracking_url. A carrier typed as its name ("DHL", any case) is sent as Refurbed's slug."""
    import json

    sim, transport, connection = refurbed
    first = refurbed_order(connection, states={"ACCEPTED"}, count=1, sim=sim, transport=transport)
    second = refurbed_order(connection, states={"ACCEPTED"}, count=1, sim=sim, transport=transport)
    shipped = fulfilment.order_ship(order=first, carrier="DHL", tracking_number="00340434", transport=transport)
    fulfilment.order_ship(order=second, carrier="Österreichische Post", tracking_number="RR1AT", transport=transport)
    updates = [json.loads(r.content) for r in transport.requests if r.url.path.endswith("/UpdateOrderItemState")]
    assert [u["parcel_carrier_tracking_number"] for u in updates] == [
        {"carrier": "dhl", "tracking_number": "00340434"}, {"carrier": "post_at", "tracking_number": "RR1AT"}]
    assert all("parcel_tracking_url" not in u for u in updates)
    assert [p for p in transport.paths() if p.endswith("/ListAvailableCarriers")] == [
        "/refurbed/refb.merchant.v1.ShippingProfileService/ListAvailableCarriers"]  # asked once, then cached
    assert shipped.tracking_url.startswith("https://") and "00340434" in shipped.tracking_url  # Refurbed's URL, re-read
    assert shipped.tracking_number == ""  # Refurbed returns no tracking number field: nothing is made up locally


def test_refurbed_url_given_with_a_pair_is_the_items_tracking_url(refurbed):
    sim, transport, connection = refurbed
    order = refurbed_order(connection, states={"ACCEPTED"}, count=1, sim=sim, transport=transport)
    shipped = fulfilment.order_ship(order=order, carrier="ups", tracking_number="1Z999",
                                    tracking_url="https://track.example/own/1Z999", transport=transport)
    assert shipped.tracking_url == "https://track.example/own/1Z999"
    assert {i.marketplace_status for i in shipped.items.all()} == {"SHIPPED"}


@pytest.mark.parametrize(("fields", "message"), [
    ({"tracking_number": "123"}, "carrier and a tracking number"),
    ({"tracking_url": "ftp://x.example/1"}, "http"),
    ({"carrier": "dhl", "tracking_number": "12\x003"}, "control character"),
    ({}, "tracking number or a tracking URL"),
])
def test_refurbed_ship_is_refused_before_sending(refurbed, fields, message):
    sim, transport, connection = refurbed
    order = refurbed_order(connection, states={"ACCEPTED"}, count=1, sim=sim, transport=transport)
    with pytest.raises(WriteRefused, match=message):
        fulfilment.order_ship(order=order, transport=transport, **fields)
    assert transport.requests == []
    assert audits("order_ship")[-1].request_summary["refused_locally"]


def test_refurbed_identifiers_are_set_with_update_order_item(refurbed):
    sim, transport, connection = refurbed
    order = refurbed_order(connection, states={"ACCEPTED"}, count=1, sim=sim, transport=transport)
    item = order.items.get()
    with pytest.raises(WriteRefused, match="check digit"):
        fulfilment.order_item_identifiers(item=item, imei="490154203237519", transport=transport)
    assert transport.requests == []
    fulfilment.order_item_identifiers(item=item, imei="490154203237518", serial_number="C39XK1", transport=transport)
    item.refresh_from_db()
    assert (item.imei, item.serial_number, item.marketplace_status) == ("490154203237518", "C39XK1", "ACCEPTED")
    assert any(p.endswith("/UpdateOrderItem") for p in transport.paths())


def test_refurbed_batch_answers_per_item_in_request_order(refurbed):
    sim, transport, connection = refurbed
    order = refurbed_order(connection, states={"ACCEPTED"}, count=2, sim=sim, transport=transport)
    first, second = order.items.all()
    sim.control("set_item_state", {"id": second.external_id, "state": "CANCELLED"})  # Refurbed-side change
    with pytest.raises(WriteRefused) as refused:
        fulfilment.order_ship(order=order, tracking_url="https://track.example/p/1", transport=transport)
    assert f"item {second.external_id}: illegal state transition from CANCELLED to SHIPPED" in refused.value.message
    states = {i["id"]: i["state"] for i in sim.render_order(sim.index_of[int(order.external_id)])["items"]}
    assert states == {first.external_id: "SHIPPED", second.external_id: "CANCELLED"}


def test_refurbed_batch_of_more_than_50_is_refused_whole():
    sim = make_sim(orders=5)["refurbed"]
    body = {"updates": [{"id": "1", "state": "ACCEPTED"}] * 51}
    with pytest.raises(Exception, match="between 1 and 50"):
        sim.rpc_OrderItemService_BatchUpdateOrderItemsState(body)


# --- BrickLink -----------------------------------------------------------------------------------------------------


@pytest.fixture
def bricklink():
    sim = brick_simulator(orders=30)
    transport = CountingTransport(sim)
    connection = bricklink_connection()
    sync_orders(connection, transport)
    return sim["bricklink"], transport, connection


def bricklink_order(sim, connection, status: str, transport) -> Order:
    order_id = sim.control("new_order", {})["order_id"]
    if status != "PENDING":
        sim.control("set_status", {"order_id": order_id, "status": status})
    if status in fulfilment.BRICKLINK_UNPAID:  # the buyer has not paid yet (bricklink.md §9)
        sim.orders[order_id]["payment_status"] = "None"
    from marketsync.sync.refresh import record_refresh

    record_refresh(connection=connection, entity="orders", external_id=str(order_id), transport=transport)
    transport.requests.clear()
    return Order.objects.get(connection=connection, external_id=str(order_id))


def test_bricklink_mark_paid_pack_and_ship_with_tracking_and_drive_thru(bricklink):
    sim, transport, connection = bricklink
    order = bricklink_order(sim, connection, "READY", transport)
    actions = fulfilment.order_actions(order=order)
    assert actions.mark_paid and not actions.mark_packed
    order = fulfilment.order_mark_paid(order=order, transport=transport)
    assert order.details["payment_status"] == "Received"
    sim.control("set_status", {"order_id": order.external_id, "status": "PAID"})
    from marketsync.sync.refresh import record_refresh

    record_refresh(connection=connection, entity="orders", external_id=order.external_id, transport=transport)
    order = fulfilment.order_mark_packed(order=Order.objects.get(pk=order.pk), transport=transport)
    assert order.marketplace_status == "PACKED"
    order = fulfilment.order_ship(order=order, tracking_number="1Z999", tracking_url="https://ups.example/1Z999",
                                  drive_thru=True, transport=transport)
    assert (order.marketplace_status, order.tracking_number, order.tracking_url) == ("SHIPPED", "1Z999", "https://ups.example/1Z999")
    stored = sim.orders[int(order.external_id)]
    assert stored["drive_thru_sent"] and stored["date_shipped"]
    methods = [(r.method, r.url.path.rsplit("/", 1)[-1]) for r in transport.requests if r.method != "GET"]
    assert ("PUT", "status") in methods and ("POST", "drive_thru") in methods
    assert all(e.outcome == "success" for e in AuditEntry.objects.filter(order=order))


def test_bricklink_refused_transition_is_shown_in_bricklinks_words(bricklink):
    sim, transport, connection = bricklink
    order = bricklink_order(sim, connection, "PAID", transport)
    sim.control("set_status", {"order_id": order.external_id, "status": "COMPLETED"})  # moved on at BrickLink
    with pytest.raises(WriteRefused) as refused:
        fulfilment.order_mark_packed(order=order, transport=transport)
    assert "RESOURCE_UPDATE_NOT_ALLOWED" in refused.value.message
    assert "cannot be changed from COMPLETED to PACKED" in refused.value.message
    assert audits("order_mark_packed")[-1].outcome == "failure"
    assert Order.objects.get(pk=order.pk).marketplace_status == "PAID"  # nothing changed locally


def test_bricklink_unpaid_order_is_not_offered_shipping_and_is_refused_before_sending(bricklink):
    sim, transport, connection = bricklink
    order = bricklink_order(sim, connection, "READY", transport)
    assert not fulfilment.order_actions(order=order).ship
    with pytest.raises(WriteRefused, match="ships paid orders"):
        fulfilment.order_ship(order=order, tracking_number="1Z1", transport=transport)
    assert transport.requests == []


@pytest.mark.parametrize("payment,ready", [("Received", True), ("RECEIVED", True), ("clearing", True), ("Sent", False)])
def test_bricklink_ship_is_offered_exactly_when_the_status_mapping_reads_ready_to_ship(bricklink, payment, ready):
    """The order page's actions and the unified status use one rule for "money arrived" (any case)."""
    from orders.status import READY_TO_SHIP_STATUSES

    sim, transport, connection = bricklink
    order = bricklink_order(sim, connection, "READY", transport)
    Order.objects.filter(pk=order.pk).update(details={**order.details, "payment_status": payment})
    order = Order.objects.get(pk=order.pk)
    from orders.status import bricklink_status

    assert (bricklink_status("READY", payment) in READY_TO_SHIP_STATUSES) is ready
    actions = fulfilment.order_actions(order=order)
    assert (actions.ship, actions.mark_paid) == (ready, not ready)


def test_bricklink_transient_failure_is_pending_then_retried_once_without_double_apply(bricklink, django_capture_on_commit_callbacks):
    sim, transport, connection = bricklink
    order = bricklink_order(sim, connection, "PAID", transport)
    lossy = LostAnswerTransport(transport.inner.app, lose="/status")
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(fulfilment.WritePending):
        fulfilment.order_mark_packed(order=order, transport=lossy)
    assert len(callbacks) == 1  # the retry task is enqueued once the request commits
    assert sim.orders[int(order.external_id)]["status"] == "PACKED"  # BrickLink did apply it
    pending = PendingOrderWrite.objects.get(order=order)
    assert pending.state == "pending"
    lossy.requests.clear()
    pending = fulfilment.pending_write_retry(pending=pending, transport=lossy)
    assert pending.state == "done"
    assert all(r.method == "GET" for r in lossy.requests)  # re-read, found applied, nothing sent again
    assert Order.objects.get(pk=order.pk).marketplace_status == "PACKED"


def test_a_5xx_is_retried_until_it_succeeds(bricklink, django_capture_on_commit_callbacks):
    sim, transport, connection = bricklink
    order = bricklink_order(sim, connection, "PAID", transport)
    sim.faults.force("server_error", 1)
    with django_capture_on_commit_callbacks(), pytest.raises(fulfilment.WritePending):
        fulfilment.order_ship(order=order, tracking_number="1Z5", transport=transport)
    pending = PendingOrderWrite.objects.get(order=order)
    assert sim.orders[int(order.external_id)]["status"] == "PAID"  # the 503 came before BrickLink applied anything
    down = WritesDownTransport(transport.inner.app)
    pending = fulfilment.pending_write_retry(pending=pending, transport=down)
    assert (pending.state, pending.attempts) == ("pending", 2)
    pending = fulfilment.pending_write_retry(pending=pending, transport=transport)
    assert pending.state == "done"
    assert Order.objects.get(pk=order.pk).marketplace_status == "SHIPPED"
    status_puts = [r for r in transport.requests if r.method == "PUT" and r.url.path.endswith("/status")]
    assert len(status_puts) == 1


def test_pending_write_gives_up_after_the_last_attempt(bricklink, django_capture_on_commit_callbacks):
    sim, transport, connection = bricklink
    order = bricklink_order(sim, connection, "PAID", transport)
    sim.faults.force("server_error", 1)
    with django_capture_on_commit_callbacks(), pytest.raises(fulfilment.WritePending):
        fulfilment.order_mark_packed(order=order, transport=transport)
    pending = PendingOrderWrite.objects.get(order=order)
    down = WritesDownTransport(transport.inner.app)
    while pending.state == "pending":
        pending = fulfilment.pending_write_retry(pending=pending, transport=down)
    assert pending.state == "failed" and pending.attempts == fulfilment.MAX_ATTEMPTS and "Gave up" in pending.last_error


# --- Brick Owl -----------------------------------------------------------------------------------------------------


@pytest.fixture
def brickowl():
    sim = brick_simulator(orders=30)
    transport = CountingTransport(sim)
    connection = brickowl_connection()
    sync_orders(connection, transport)
    return sim["brickowl"], transport, connection


def brickowl_order(sim, connection, status_id: int, transport) -> Order:
    from marketsync.sync.refresh import record_refresh

    order = sim.orders[sim.control("new_order", {})["order_id"]]
    sim.control("set_status", {"order_id": order["order_id"], "status_id": status_id})
    record_refresh(connection=connection, entity="orders", external_id=str(order["order_id"]), transport=transport)
    transport.requests.clear()
    return Order.objects.get(connection=connection, external_id=str(order["order_id"]))


def test_brickowl_processed_then_shipped_with_tracking(brickowl):
    sim, transport, connection = brickowl
    order = brickowl_order(sim, connection, 2, transport)
    order = fulfilment.order_mark_packed(order=order, transport=transport)
    assert order.marketplace_status == "Processed"
    order = fulfilment.order_ship(order=order, tracking_number="LX123456789DE", transport=transport)
    assert (order.marketplace_status, order.tracking_number) == ("Shipped", "LX123456789DE")
    posts = [r for r in transport.requests if r.method == "POST"]
    assert [p.url.path.rsplit("/", 1)[-1] for p in posts] == ["set_status", "tracking", "set_status"]
    assert b"status_id=5" in posts[-1].content and b"key=" in posts[-1].content  # form-encoded with the key


def test_brickowl_unpaid_order_cannot_ship_and_a_refusal_is_shown_in_brickowls_words(brickowl):
    sim, transport, connection = brickowl
    order = brickowl_order(sim, connection, 1, transport)
    with pytest.raises(WriteRefused, match="ships paid orders"):
        fulfilment.order_ship(order=order, tracking_number="LX1", transport=transport)
    assert transport.requests == []
    from marketsync.sync.clients import marketplace_client
    from marketsync.sync.http import build_http_client

    with build_http_client(transport=transport) as http, pytest.raises(Exception, match="Invalid order or status"):
        marketplace_client(connection, http).order_set_status(order.external_id, 8)  # Cancelled cannot be set


# --- the order page offers only what the marketplace allows in the order's state ------------------------------------


def page_of(client, order) -> str:
    from django.urls import reverse

    from tests.factories import make_user

    client.force_login(make_user(f"owner{order.pk}", order.organization))
    return client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()


def test_a_bricklink_page_offers_mark_paid_before_payment_and_ship_after(client, bricklink):
    sim, transport, connection = bricklink
    unpaid = page_of(client, bricklink_order(sim, connection, "READY", transport))
    assert 'data-action="mark-paid"' in unpaid and 'data-action="ship"' not in unpaid and "ships paid orders" in unpaid
    paid = page_of(client, bricklink_order(sim, connection, "PAID", transport))
    assert 'data-action="ship"' in paid and "drive-thru" in paid and 'name="carrier"' not in paid
    assert 'data-action="mark-packed"' in paid and 'data-action="mark-paid"' not in paid


def test_a_refurbed_page_offers_accept_for_new_items_and_ship_once_accepted(client, refurbed):
    sim, transport, connection = refurbed
    new = page_of(client, refurbed_order(connection, states={"NEW"}, count=1, sim=sim, transport=transport))
    assert 'data-action="accept"' in new and 'data-action="ship"' not in new
    accepted = page_of(client, refurbed_order(connection, states={"ACCEPTED"}, count=1, sim=sim, transport=transport))
    assert 'data-action="ship"' in accepted and 'name="carrier"' in accepted and 'data-action="accept"' not in accepted
    assert 'name="imei"' in accepted


def test_a_pending_write_shows_on_the_order_page(client, bricklink, django_capture_on_commit_callbacks):
    sim, transport, connection = bricklink
    order = bricklink_order(sim, connection, "PAID", transport)
    sim.faults.force("server_error", 1)
    with django_capture_on_commit_callbacks(), pytest.raises(fulfilment.WritePending):
        fulfilment.order_mark_packed(order=order, transport=transport)
    assert "pending — BrickLink did not answer" in page_of(client, order)


def test_the_actions_partial_shows_no_template_comment(client, bricklink):
    sim, transport, connection = bricklink
    assert "{#" not in page_of(client, bricklink_order(sim, connection, "PAID", transport))


@pytest.mark.parametrize("order_state,line_states,applied", [
    ("9", ["3"], True), ("3", ["3", "3"], True), ("3", ["3", "6"], True), ("3", ["2", "3"], False), ("1", ["1"], False),
    ("3", ["5"], False),  # refunded before shipping: never shipped
])
def test_back_market_ship_counts_as_applied_only_when_the_order_or_every_line_shipped(order_state, line_states, applied):
    """backmarket.md §3: OrderState 9 is shipped; OrderLineState 3 shipped, 6 refunded after shipping. What a pending
    retry and the ship batch sweep ask before sending a ship again."""
    from tests.factories import make_connection, make_organization

    organization = make_organization("bm-applied")
    connection = make_connection(organization, "backmarket")
    order = Order.objects.create(organization=organization, connection=connection, marketplace="backmarket",
                                 external_id="77", status="accepted", marketplace_status=order_state)
    for n, state in enumerate(line_states):
        OrderItem.objects.create(organization=organization, connection=connection, order=order, external_id=f"77-{n}",
                                 marketplace_status=state)
    assert fulfilment.write_applied(action="ship", params={}, order=order) is applied
