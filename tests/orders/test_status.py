"""Every marketplace's order statuses, value by value, against the documented meanings (orders/status.py): an order
is ready to ship only once it is paid. Each case reads a payload through the marketplace's own mapping, so a table
and the mapping that uses it cannot drift apart."""

from __future__ import annotations

import pytest

from marketsync.marketplaces.backmarket.mapping import order_record as backmarket_order
from marketsync.marketplaces.backmarket.mapping import orderline_record as backmarket_line
from marketsync.marketplaces.bricklink.mapping import order_record as bricklink_order
from marketsync.marketplaces.brickowl.mapping import order_record as brickowl_order
from marketsync.marketplaces.refurbed.mapping import item_record as refurbed_item
from marketsync.marketplaces.refurbed.mapping import order_record as refurbed_order
from orders.status import (
    BACKMARKET_LINE_STATUS,
    BACKMARKET_ORDER_STATUS,
    BRICKLINK_PAYMENT_STATUSES,
    BRICKLINK_STATUS,
    BRICKOWL_STATUS,
    READY_TO_SHIP_STATUSES,
    REFURBED_ITEM_STATUS,
    REFURBED_ORDER_STATUS,
    UnifiedStatus,
)

U = UnifiedStatus
# bricklink.md §2.1 OrderStatus, every value; corrections: PROCESSING and READY come before payment.
BRICKLINK = [
    ("PENDING", U.AWAITING_PAYMENT), ("UPDATED", U.AWAITING_PAYMENT), ("PROCESSING", U.AWAITING_PAYMENT),
    ("READY", U.AWAITING_PAYMENT), ("PAID", U.NEW), ("PACKED", U.ACCEPTED), ("SHIPPED", U.SHIPPED),
    ("RECEIVED", U.DELIVERED), ("COMPLETED", U.DELIVERED), ("OCR", U.ON_HOLD), ("NPB", U.ON_HOLD), ("NPX", U.ON_HOLD),
    ("NRS", U.ON_HOLD), ("NSS", U.ON_HOLD), ("CANCELLED", U.CANCELLED),
]
# bricklink.md corrections: Received, Clearing, Completed = money arrived; None, Sent = not yet; Returned, Bounced = failed.
MONEY_ARRIVED = {"Received", "Clearing", "Completed"}
# brickowl.md §2.1, status_id 0-8 with its text.
BRICKOWL = [
    ("0", "Pending", U.AWAITING_PAYMENT), ("1", "Payment Submitted", U.AWAITING_PAYMENT),
    ("2", "Payment Received", U.NEW), ("3", "Processing", U.ACCEPTED), ("4", "Processed", U.ACCEPTED),
    ("5", "Shipped", U.SHIPPED), ("6", "Received", U.DELIVERED), ("7", "On Hold", U.ON_HOLD), ("8", "Cancelled", U.CANCELLED),
]
# backmarket.md §3 OrderState.
BACKMARKET = [(0, U.AWAITING_PAYMENT), (10, U.AWAITING_PAYMENT), (1, U.NEW), (3, U.ACCEPTED), (8, U.CANCELLED), (9, U.SHIPPED)]
# backmarket.md §3 OrderLineState, every value: a line's own state decides its stock (reserve, release, consume).
BACKMARKET_LINES = [
    (0, U.AWAITING_PAYMENT), (9, U.ON_HOLD), (8, U.AWAITING_PAYMENT), (1, U.NEW), (2, U.ACCEPTED), (3, U.SHIPPED),
    (4, U.CANCELLED), (5, U.REFUNDED), (6, U.RETURNED), (7, U.CANCELLED),
]
# refurbed.md §4 OrderItemState, every value (the merchant drives items; NEW is released, paid, awaiting the merchant).
REFURBED_ITEMS = [
    ("NEW", U.NEW), ("ACCEPTED", U.ACCEPTED), ("SHIPPED", U.SHIPPED), ("REJECTED", U.CANCELLED),
    ("CANCELLED", U.CANCELLED), ("RETURNED", U.RETURNED),
]
# refurbed.md §4 OrderState (computed from the items); only released, paid orders are listed (§2.1).
REFURBED = [
    ("NEW", U.NEW), ("ACCEPTED", U.ACCEPTED), ("SHIPPED", U.SHIPPED), ("FULFILLED", U.SHIPPED),
    ("PARTIALLY_FULFILLED", U.SHIPPED), ("REJECTED", U.CANCELLED), ("CANCELLED", U.CANCELLED),
    ("UNFULFILLED", U.CANCELLED), ("RETURNED", U.RETURNED),
]


def bl(status: str, payment: str | None = None, **extra) -> dict:
    data = {"order_id": 8001, "status": status, **extra}
    if payment is not None:
        data["payment"] = {"status": payment}
    return data


@pytest.mark.parametrize("raw,unified", BRICKLINK)
def test_every_bricklink_status_reads_as_documented(raw, unified):
    assert bricklink_order(bl(raw), None, []).status == unified
    assert bricklink_order(bl(raw.lower()), None, []).status == unified  # the case BrickLink sends is not trusted


def test_the_bricklink_table_covers_every_documented_status_but_purged():
    assert set(BRICKLINK_STATUS) == {raw for raw, _ in BRICKLINK}


@pytest.mark.parametrize("raw", ["PENDING", "UPDATED", "PROCESSING", "READY"])
@pytest.mark.parametrize("payment", BRICKLINK_PAYMENT_STATUSES)
def test_a_bricklink_order_before_payment_is_ready_to_ship_only_once_the_money_arrived(raw, payment):
    status = bricklink_order(bl(raw, payment), None, []).status
    if payment in MONEY_ARRIVED:
        assert status == U.NEW and status in READY_TO_SHIP_STATUSES
    else:
        assert status == U.AWAITING_PAYMENT and status not in READY_TO_SHIP_STATUSES
    assert bricklink_order(bl(raw, payment.upper()), None, []).status == status  # mixed case, compared as such


@pytest.mark.parametrize("payment", BRICKLINK_PAYMENT_STATUSES)
def test_a_paid_bricklink_order_is_ready_to_ship_whatever_its_payment_field(payment):
    assert bricklink_order(bl("PAID", payment), None, []).status == U.NEW


def test_a_bricklink_order_in_ready_with_no_payment_field_awaits_payment():
    assert bricklink_order(bl("READY"), None, []).status == U.AWAITING_PAYMENT


@pytest.mark.parametrize("shipping,unified", [({"date_shipped": "2026-01-02T10:00:00.000Z"}, U.DELIVERED), ({}, U.CANCELLED)])
def test_a_purged_bricklink_order_never_seen_reads_from_what_its_payload_still_shows(shipping, unified):
    record = bricklink_order(bl("PURGED", "Completed", shipping=shipping), None, [])
    assert (record.status, record.marketplace_status, record.details["purged"]) == (unified, "PURGED", True)


@pytest.mark.parametrize("raw", ["", "ON_FIRE", "PAID_LATER"])
def test_an_unknown_bricklink_status_is_stored_as_unknown(raw):
    record = bricklink_order(bl(raw, "Received"), None, [])
    assert (record.status, record.marketplace_status) == (U.UNKNOWN, raw)


@pytest.mark.parametrize("status_id,name,unified", BRICKOWL)
def test_every_brick_owl_status_reads_as_documented(status_id, name, unified):
    by_id = brickowl_order({"order_id": "1", "status_id": status_id, "status": name}, None, [])
    by_name = brickowl_order({"order_id": "1", "status": name}, None, [])  # an entry with the text only
    assert (by_id.status, by_id.marketplace_status) == (unified, name)
    assert by_name.status == unified
    assert set(BRICKOWL_STATUS) == {sid for sid, _, _ in BRICKOWL}


def test_brick_owl_payment_submitted_is_not_ready_to_ship_and_payment_received_is():
    submitted = brickowl_order({"order_id": "1", "status_id": "1"}, None, []).status
    received = brickowl_order({"order_id": "1", "status_id": "2"}, None, []).status
    assert submitted not in READY_TO_SHIP_STATUSES and received in READY_TO_SHIP_STATUSES


@pytest.mark.parametrize("status_id", ["9", "", "-1"])
def test_an_unknown_brick_owl_status_is_stored_as_unknown(status_id):
    assert brickowl_order({"order_id": "1", "status_id": status_id}, None, []).status == U.UNKNOWN


@pytest.mark.parametrize("state,unified", BACKMARKET + [(4, U.UNKNOWN)])
def test_every_back_market_order_state_reads_as_documented(state, unified):
    assert backmarket_order({"order_id": 1, "state": state, "orderlines": []}).status == unified
    assert set(BACKMARKET_ORDER_STATUS) == {str(s) for s, _ in BACKMARKET}


@pytest.mark.parametrize("state,unified", REFURBED + [("SOMETHING_NEW", U.UNKNOWN)])
def test_every_refurbed_order_state_reads_as_documented(state, unified):
    assert refurbed_order({"id": "5", "state": state, "items": []}).status == unified
    assert set(REFURBED_ORDER_STATUS) == {s for s, _ in REFURBED}


def test_no_marketplace_puts_an_unpaid_order_among_those_ready_to_ship():
    assert U.AWAITING_PAYMENT not in READY_TO_SHIP_STATUSES
    unpaid = [bricklink_order(bl(s, "None"), None, []).status for s in ("PENDING", "UPDATED", "PROCESSING", "READY")]
    unpaid += [brickowl_order({"order_id": "1", "status_id": s}, None, []).status for s in ("0", "1")]
    unpaid += [backmarket_order({"order_id": 1, "state": s, "orderlines": []}).status for s in (0, 10)]
    assert not set(unpaid) & READY_TO_SHIP_STATUSES


@pytest.mark.parametrize("state,unified", BACKMARKET_LINES + [(11, U.UNKNOWN)])
def test_every_back_market_orderline_state_reads_as_documented(state, unified):
    line = backmarket_line({"id": 77, "state": state, "listing": "SKU-1", "quantity": 1, "price": "10.00"})
    assert (line.status, line.marketplace_status) == (unified, str(state))
    assert set(BACKMARKET_LINE_STATUS) == {str(s) for s, _ in BACKMARKET_LINES}


@pytest.mark.parametrize("line_states,unified", [
    ([4, 7], U.CANCELLED),  # cancelled, payment refused
    ([5, 4], U.REFUNDED),  # refunded before shipping
    ([6, 5], U.RETURNED),  # refunded after shipping
    ([4, 2], U.ACCEPTED),  # one line still open: the order's own state decides
])
def test_a_back_market_order_whose_lines_are_all_closed_reads_from_its_lines(line_states, unified):
    lines = [{"id": n, "state": s, "listing": f"SKU-{n}", "quantity": 1, "price": "1.00"} for n, s in enumerate(line_states, 1)]
    assert backmarket_order({"order_id": 1, "state": 3, "orderlines": lines}).status == unified


@pytest.mark.parametrize("state,unified", REFURBED_ITEMS + [("SOMETHING_NEW", U.UNKNOWN)])
def test_every_refurbed_item_state_reads_as_documented(state, unified):
    item = refurbed_item({"id": "51", "state": state, "sku": "S", "total_charged": "100.00", "currency_code": "EUR"})
    assert (item.status, item.marketplace_status) == (unified, state)
    assert set(REFURBED_ITEM_STATUS) == {s for s, _ in REFURBED_ITEMS}
