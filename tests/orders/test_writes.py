"""Writes about an order: IMEI/serial, accept, cancel, ship, invoice — validated, audited, refreshed."""

import pytest

from backship.models import Delivery
from connections.models import AuditEntry, EntitySync
from marketsync.simulator.backmarket import minimal_pdf
from marketsync.sync.runner import run_entity_sync
from marketsync.sync.writes import WriteRefused
from orders import writes as services
from orders.models import Order, OrderItem
from tests.marketplaces.backmarket.fixtures import *  # noqa: F403  (the Back Market fixtures)

pytestmark = pytest.mark.django_db
VALID_IMEI = "490154203237518"


@pytest.fixture
def synced(connection, transport):
    run_entity_sync(EntitySync.objects.get(connection=connection, entity="orders").pk, transport=transport)
    transport.requests.clear()
    return connection


def paid_item(bm, *, backship=None, single=True) -> OrderItem:
    for order in bm.orders.values():
        if order["state"] == 1 and (backship is None or order["is_backship"] == backship) and (len(order["lines"]) == 1) == single:
            return OrderItem.objects.get(external_id=str(order["lines"][0]))
    raise AssertionError("no such order in the seed")


def audits(action):
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


@pytest.mark.parametrize(
    ("imei", "serial", "message"),
    [
        ("49015420323751", "", "15 digits"),
        ("490154203237519", "", "check digit"),
        ("49015420323751a", "", "15 digits"),
        ("", "S" * 51, "at most 50"),
        ("", "", "IMEI or a serial"),
        ("", "SN\x00123", "Serial number contains a control character"),  # sent to Back Market, which cannot correct it
        ("", "SN\udcff", "Serial number contains a control character"),  # a byte that is not UTF-8 on a command line
        ("٤٩٠١٥٤٢٠٣٢٣٧٥١٨", "", "15 digits"),  # digits, but not ASCII ones
    ],
)
def test_invalid_identifiers_never_reach_back_market_and_are_audited(synced, transport, bm, imei, serial, message):
    item = paid_item(bm)
    with pytest.raises(WriteRefused, match=message):
        services.orderline_identifiers_set(item=item, imei=imei, serial_number=serial, transport=transport)
    assert transport.requests == []
    entry = audits("orderline_identifiers")[-1]
    assert entry.outcome == "failure" and entry.request_summary["refused_locally"] and entry.order_id == item.order_id


def test_imei_is_set_audited_refreshed_and_then_refused_locally(synced, transport, bm, owner):
    item = paid_item(bm)
    updated = services.orderline_identifiers_set(item=item, imei=VALID_IMEI, user=owner, transport=transport)
    assert updated.imei == VALID_IMEI and bm.lines[int(item.external_id)]["imei"] == VALID_IMEI
    entry = audits("orderline_identifiers")[-1]
    assert (entry.outcome, entry.user, entry.target_id, entry.order_id) == ("success", owner, item.external_id, item.order_id)
    assert any(r.method == "GET" for r in transport.requests)  # the order was re-read
    sent = len(transport.requests)
    with pytest.raises(WriteRefused, match="cannot correct"):
        services.orderline_identifiers_set(item=updated, imei="356938035643809", transport=transport)
    assert len(transport.requests) == sent
    serial = services.orderline_identifiers_set(item=updated, serial_number="C39XK1", transport=transport)
    assert serial.serial_number == "C39XK1" and serial.imei == VALID_IMEI


def test_accepting_every_line_moves_the_order_to_ship(synced, transport, bm, media):
    item = paid_item(bm, backship=True)
    order = services.orderline_accept(item=item, transport=transport, actor="test")
    assert order.marketplace_status == "3" and order.status == "accepted"
    item.refresh_from_db()
    assert item.marketplace_status == "2"
    assert audits("orderline_accept")[-1].outcome == "success"


def test_accepting_a_backship_line_brings_its_label(synced, transport, bm, media):
    order = services.orderline_accept(item=paid_item(bm, backship=True), transport=transport, actor="test")
    delivery = Delivery.objects.get(order=order)
    assert delivery.label_file.read().startswith(b"%PDF-")


def test_shipping_before_accepting_is_refused_locally_with_the_reason(synced, transport, bm):
    order = paid_item(bm).order
    with pytest.raises(WriteRefused, match="must be accepted first"):
        services.order_ship(order=order, tracking_number="1Z999", transport=transport)
    assert transport.requests == []
    assert audits("order_ship")[-1].outcome == "failure"


def test_an_illegal_transition_refused_by_back_market_is_audited(synced, transport, bm):
    item = paid_item(bm)
    order = item.order
    # Stale local copy: the line was cancelled elsewhere, the local row still says paid.
    bm.lines[int(item.external_id)]["state"] = 4
    with pytest.raises(WriteRefused, match="cannot go from state 4 to state 2"):
        services.orderline_accept(item=item, transport=transport)
    entry = audits("orderline_accept")[-1]
    assert entry.outcome == "failure" and "state 4" in entry.error and entry.order_id == order.pk


def test_cancel_then_ship_the_rest(synced, transport, bm):
    order = next(o for o in bm.orders.values() if o["state"] == 1 and len(o["lines"]) == 2
                 and all(bm.lines[i]["state"] == 1 for i in o["lines"]))
    first, second = (OrderItem.objects.get(external_id=str(i)) for i in order["lines"])
    services.orderline_cancel(item=first, transport=transport)
    local = services.orderline_accept(item=second, transport=transport)
    assert local.marketplace_status == "3"
    shipped = services.order_ship(order=local, tracking_number="1Z999", tracking_url="https://ups.example/1Z999",
                                  shipper="UPS", transport=transport)
    assert (shipped.marketplace_status, shipped.status, shipped.tracking_number, shipped.shipper) == ("9", "shipped", "1Z999", "UPS")
    assert bm.orders[order["order_id"]]["tracking_url"] == "https://ups.example/1Z999"
    assert OrderItem.objects.get(pk=first.pk).status == "cancelled"
    assert [e.outcome for e in AuditEntry.objects.filter(order=local).order_by("id")] == ["success"] * 3


def test_invoice_must_be_a_pdf(synced, transport, bm):
    order = Order.objects.filter(marketplace_status="9").first()
    with pytest.raises(WriteRefused, match="not a PDF"):
        services.order_invoice_upload(order=order, filename="invoice.pdf", content=b"<html>no</html>", transport=transport)
    assert transport.requests == []
    refreshed = services.order_invoice_upload(order=order, filename="invoice.pdf", content=minimal_pdf("Facture"),
                                              transport=transport)
    assert bm.invoices[int(order.external_id)] == [("invoice.pdf", len(minimal_pdf("Facture")))]
    assert refreshed.details["date_bill_provided"]
    assert [e.outcome for e in audits("order_invoice")] == ["failure", "success"]
    multipart = [r for r in transport.requests if r.url.path.endswith("/invoice")][0]
    assert multipart.headers["Content-Type"].startswith("multipart/form-data")


def test_control_characters_in_a_tracking_number_are_refused_and_audited_as_they_can_be_stored(synced, transport, bm):
    order = paid_item(bm).order
    with pytest.raises(WriteRefused, match="Tracking number contains a control character"):
        services.order_ship(order=order, tracking_number="1Z\x0099", transport=transport)
    assert transport.requests == []
    assert audits("order_ship")[-1].request_summary["tracking_number"] == "1Z99"


def test_a_serial_with_a_nul_byte_is_refused_before_any_request_and_audited_as_refused(synced, transport, bm):
    # Issue 10: it reached Back Market (write-once there), then the audit row failed on PostgreSQL, a 500.
    item = paid_item(bm)
    with pytest.raises(WriteRefused, match="Serial number contains a control character") as caught:
        services.orderline_identifiers_set(item=item, serial_number="SN\x00123", transport=transport)
    assert caught.value.refused_locally and transport.requests == []
    assert bm.lines[int(item.external_id)]["serial_number"] in ("", None)
    [entry] = audits("orderline_identifiers")
    assert (entry.outcome, entry.request_summary) == (
        "failure", {"orderline": item.external_id, "imei": "", "serial_number": "SN123", "refused_locally": True})
    assert "control character" in entry.error


@pytest.mark.parametrize("field, value", [
    ("tracking_number", "1Z\x0099"), ("tracking_url", "https://track.example/1Z\x00"), ("shipper", "UPS\x00"),
    ("tracking_url", "javascript:alert(1)"), ("tracking_url", "https://exa mple.com/1Z"), ("tracking_url", "https://" + "t" * 300),
    ("tracking_number", "1Z" * 101),
])
def test_junk_in_a_tracking_field_is_refused_before_any_request_and_audited(synced, transport, bm, field, value):
    order = paid_item(bm).order
    fields = {"tracking_number": "1Z99", "tracking_url": "https://track.example/1Z99", "shipper": "UPS", field: value}
    with pytest.raises(WriteRefused, match="control character|must be an http|at most 200") as caught:
        services.order_ship(order=order, transport=transport, **fields)
    assert caught.value.refused_locally and transport.requests == []
    [entry] = audits("order_ship")
    assert entry.outcome == "failure" and entry.request_summary["refused_locally"]
    assert "\x00" not in str(entry.request_summary)


def test_a_refused_write_changes_nothing_locally(synced, transport, bm):
    item = paid_item(bm)
    before = (Order.objects.values().get(pk=item.order_id), OrderItem.objects.values().get(pk=item.pk))
    with pytest.raises(WriteRefused, match="Serial number must be at most 50"):
        services.orderline_identifiers_set(item=item, serial_number="S" * 51, transport=transport)
    assert (Order.objects.values().get(pk=item.order_id), OrderItem.objects.values().get(pk=item.pk)) == before


def test_an_order_of_another_marketplace_is_refused(db, transport):
    from tests.factories import make_connection, make_organization
    from tests.web.builders import make_orders

    make_orders(make_connection(make_organization("shop"), "refurbed"), 1)
    order = Order.objects.get()
    with pytest.raises(WriteRefused, match="is not a Back Market order"):
        services.order_ship(order=order, tracking_number="1Z", transport=transport)
    assert transport.requests == []
