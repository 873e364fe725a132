"""How each marketplace's order statuses read as the unified status (``Order.status``), and where each meaning
comes from. The tables and functions live in ``marketsync/sync/statuses.py`` (the adapters fill a record's status
with them, and adapters may not import apps); this module documents them for the app and re-exports them, so the
app and its tests have one name for each.

Ready to ship (``READY_TO_SHIP_STATUSES``: new, accepted) means paid and not shipped, on every marketplace:

BrickLink (``bricklink.md`` §2.1 OrderStatus and payment status; corrections "PROCESSING and READY come before
payment", "PURGED is not a cancellation"):
    PENDING, UPDATED, PROCESSING, READY -> awaiting_payment, unless payment.status is Received, Clearing or
        Completed (money arrived: the seller took payment outside BrickLink) -> new
    PAID -> new; PACKED -> accepted; SHIPPED -> shipped; RECEIVED, COMPLETED -> delivered; CANCELLED -> cancelled
    OCR, NPB, NPX, NRS, NSS -> on_hold
    PURGED -> the stored status (its last known outcome)
Brick Owl (``brickowl.md`` §2.1 Order status, by status_id):
    0 Pending, 1 Payment Submitted -> awaiting_payment; 2 Payment Received -> new; 3 Processing, 4 Processed ->
    accepted; 5 Shipped -> shipped; 6 Received -> delivered; 7 On Hold -> on_hold; 8 Cancelled -> cancelled
Back Market (``backmarket.md`` §3 OrderState; an order whose lines are all closed reads from its lines):
    0 new (payment check), 10 pending payment -> awaiting_payment; 1 paid -> new; 3 to ship -> accepted;
    8 not paid -> cancelled; 9 shipped -> shipped
  lines (§3 OrderLineState; each line's own state decides its stock): 0 new, 8 pending payment -> awaiting_payment;
    9 on hold -> on_hold; 1 paid -> new; 2 accepted -> accepted; 3 shipped -> shipped; 4 cancelled, 7 payment
    refused -> cancelled; 5 refunded before shipping -> refunded; 6 refunded after shipping -> returned. An order
    whose lines are all closed (4-7) is returned if any line is 6, else refunded if any is 5, else cancelled.
Refurbed (``refurbed.md`` §4 computed OrderState; §2.1: only released, ready-to-fulfil orders are listed, so
none awaits payment):
    NEW -> new; ACCEPTED -> accepted; SHIPPED, FULFILLED, PARTIALLY_FULFILLED -> shipped; REJECTED, CANCELLED,
    UNFULFILLED -> cancelled; RETURNED -> returned
  items (§4 OrderItemState): NEW -> new; ACCEPTED -> accepted; SHIPPED -> shipped; REJECTED, CANCELLED ->
    cancelled; RETURNED -> returned
Any status no table knows -> unknown (stored and shown, never an error).

A ``PURGED`` BrickLink order (BrickLink deletes a closed order's items about six months on) keeps its stored
status, items and stock history and moves no stock (``orders.services.brick_order_upsert_page``); one first
seen purged reads as delivered when it shows a shipping date, else cancelled.
"""

from __future__ import annotations

from marketsync.sync.records import OPEN_STATUSES, READY_TO_SHIP_STATUSES, UnifiedStatus
from marketsync.sync.statuses import (
    BACKMARKET_LINE_STATUS,
    BACKMARKET_ORDER_STATUS,
    BRICKLINK_MONEY_ARRIVED,
    BRICKLINK_PAYMENT_STATUSES,
    BRICKLINK_PRE_PAYMENT,
    BRICKLINK_PURGED,
    BRICKLINK_STATUS,
    BRICKOWL_STATUS,
    BRICKOWL_STATUS_NAMES,
    REFURBED_ITEM_STATUS,
    REFURBED_ORDER_STATUS,
    bricklink_money_arrived,
    bricklink_purged_outcome,
    bricklink_status,
    brickowl_status,
    unified_status,
)

__all__ = [
    "BACKMARKET_LINE_STATUS", "BACKMARKET_ORDER_STATUS", "BRICKLINK_MONEY_ARRIVED", "BRICKLINK_PAYMENT_STATUSES",
    "BRICKLINK_PRE_PAYMENT", "BRICKLINK_PURGED", "BRICKLINK_STATUS", "BRICKOWL_STATUS", "BRICKOWL_STATUS_NAMES",
    "OPEN_STATUSES", "READY_TO_SHIP_STATUSES", "REFURBED_ITEM_STATUS", "REFURBED_ORDER_STATUS", "UnifiedStatus",
    "bricklink_money_arrived", "bricklink_purged_outcome", "bricklink_status", "brickowl_status", "is_purged",
    "unified_status",
]


def is_purged(order) -> bool:
    """A BrickLink order BrickLink has purged (its items deleted there; ours kept)."""
    return order.marketplace == "bricklink" and order.marketplace_status == BRICKLINK_PURGED
