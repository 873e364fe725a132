"""Every marketplace's order statuses mapped onto the unified status: the one place the mapping lives.

The adapters' ``mapping.py`` call these functions and hold no table of their
own; ``orders/status.py`` documents the tables for the app and re-exports them.
It lives in the engine because adapters may not import apps, and the status is
part of the record an adapter returns (one-way: payload -> record -> stored).

Each meaning names its source in the marketplace notes (``bricklink.md``,
``brickowl.md``, ``backmarket.md``, ``refurbed.md``). A status no table knows
maps to UNKNOWN and is stored and shown as such, never an error.

The rule across marketplaces: an order is ready to ship (NEW or ACCEPTED) only
once it is paid. Before that it is AWAITING_PAYMENT, whatever the seller has
done with it already (BrickLink's PROCESSING and READY come before payment).
"""

from __future__ import annotations

from marketsync.sync.records import UnifiedStatus

# --- BrickLink (bricklink.md §2.1 OrderStatus, and the corrections at its end) ------------------------
# Before payment: PENDING (submitted), UPDATED (seller changed it), PROCESSING (seller works out shipping), READY
# (invoice sent). Corrections: "PROCESSING and READY come before payment ... payable, not shippable".
BRICKLINK_PRE_PAYMENT = ("PENDING", "UPDATED", "PROCESSING", "READY")
# Corrections: payment.status Received, Clearing, Completed = money arrived; None, Sent = not yet; Returned,
# Bounced = failed. Compared case-insensitively (the docs say mixed case, "Received").
BRICKLINK_MONEY_ARRIVED = ("RECEIVED", "CLEARING", "COMPLETED")
BRICKLINK_PAYMENT_STATUSES = ("None", "Sent", "Received", "Clearing", "Returned", "Bounced", "Completed")
BRICKLINK_STATUS: dict[str, str] = {
    **{status: UnifiedStatus.AWAITING_PAYMENT for status in BRICKLINK_PRE_PAYMENT},
    "PAID": UnifiedStatus.NEW,  # §2.1 "paid / fulfilment": paid, not packed yet
    "PACKED": UnifiedStatus.ACCEPTED,  # §2.1 "paid / fulfilment": being prepared
    "SHIPPED": UnifiedStatus.SHIPPED,  # §2.1 "paid / fulfilment"
    "RECEIVED": UnifiedStatus.DELIVERED,  # §2.1 "closed"
    "COMPLETED": UnifiedStatus.DELIVERED,  # §2.1 "closed"
    "CANCELLED": UnifiedStatus.CANCELLED,  # §2.1 "terminal"
    # §2.1 "problem / alert (hold)": cancel request, non-paying buyer (+ variant), non-responding / non-shipping
    # seller; exact meanings unconfirmed, "treat as on hold".
    **{status: UnifiedStatus.ON_HOLD for status in ("OCR", "NPB", "NPX", "NRS", "NSS")},
}
# PURGED (corrections: "not a cancellation"): BrickLink deleted a closed order's items. It keeps its last known
# outcome, so it is in no table: the storing service keeps the stored status (orders.services). An order first
# seen purged has no known outcome; ``bricklink_purged_outcome`` reads what the payload still shows.
BRICKLINK_PURGED = "PURGED"


def bricklink_money_arrived(payment_status: object) -> bool:
    return str(payment_status or "").strip().upper() in BRICKLINK_MONEY_ARRIVED


def bricklink_status(status: object, payment_status: object = "") -> str:
    """A BrickLink order's unified status from its ``status`` and ``payment.status``: a pre-payment status whose
    money has arrived (the seller took payment outside BrickLink and marked it ``Received``) is ready to ship."""
    status = str(status or "").strip().upper()
    if status == BRICKLINK_PURGED:
        return bricklink_purged_outcome(shipped=False)
    if status in BRICKLINK_PRE_PAYMENT and bricklink_money_arrived(payment_status):
        return UnifiedStatus.NEW
    return BRICKLINK_STATUS.get(status, UnifiedStatus.UNKNOWN)


def bricklink_purged_outcome(*, shipped: bool) -> str:
    """The outcome of a purged order never seen before (our reading; BrickLink says only that it was closed):
    delivered when it shows a shipping date, else cancelled. A stored order keeps its own status instead."""
    return UnifiedStatus.DELIVERED if shipped else UnifiedStatus.CANCELLED


# --- Brick Owl (brickowl.md §2.1 Order status: status_id and its text) ---------------------------------
BRICKOWL_STATUS_NAMES = {
    "0": "Pending", "1": "Payment Submitted", "2": "Payment Received", "3": "Processing", "4": "Processed",
    "5": "Shipped", "6": "Received", "7": "On Hold", "8": "Cancelled",
}
BRICKOWL_STATUS: dict[str, str] = {
    "0": UnifiedStatus.AWAITING_PAYMENT,  # Pending: placed, nothing paid
    "1": UnifiedStatus.AWAITING_PAYMENT,  # Payment Submitted: the buyer says they paid; the money has not arrived
    "2": UnifiedStatus.NEW,  # Payment Received: paid, ready to ship
    "3": UnifiedStatus.ACCEPTED,  # Processing
    "4": UnifiedStatus.ACCEPTED,  # Processed: packed, not shipped
    "5": UnifiedStatus.SHIPPED,  # Shipped
    "6": UnifiedStatus.DELIVERED,  # Received
    "7": UnifiedStatus.ON_HOLD,  # On Hold
    "8": UnifiedStatus.CANCELLED,  # Cancelled
}


def brickowl_status(status_id: object) -> str:
    return BRICKOWL_STATUS.get(str(status_id or "").strip(), UnifiedStatus.UNKNOWN)


# --- Back Market (backmarket.md §3 OrderState / OrderLineState) ----------------------------------------
BACKMARKET_ORDER_STATUS: dict[str, str] = {
    "0": UnifiedStatus.AWAITING_PAYMENT,  # new: payment/identity check pending; do not ship
    "10": UnifiedStatus.AWAITING_PAYMENT,  # pending payment
    "1": UnifiedStatus.NEW,  # paid: merchant must accept or cancel each line
    "3": UnifiedStatus.ACCEPTED,  # to ship: every line accepted
    "8": UnifiedStatus.CANCELLED,  # not paid: ignore
    "9": UnifiedStatus.SHIPPED,  # shipped / processed
}
BACKMARKET_LINE_STATUS: dict[str, str] = {
    "0": UnifiedStatus.AWAITING_PAYMENT,  # new
    "8": UnifiedStatus.AWAITING_PAYMENT,  # pending payment
    "9": UnifiedStatus.ON_HOLD,  # on hold (partner validation)
    "1": UnifiedStatus.NEW,  # paid: to accept
    "2": UnifiedStatus.ACCEPTED,  # accepted
    "3": UnifiedStatus.SHIPPED,  # shipped
    "4": UnifiedStatus.CANCELLED,  # cancelled
    "5": UnifiedStatus.REFUNDED,  # refunded before shipping
    "6": UnifiedStatus.RETURNED,  # refunded after shipping
    "7": UnifiedStatus.CANCELLED,  # payment refused
}

# --- Refurbed (refurbed.md §4 OrderItemState; OrderState computed from the items) ----------------------
# refurbed.md §2.1 OrderService: "only orders released to the merchant (ready to fulfil) are listed": NEW is paid,
# awaiting the merchant; Refurbed shows no unpaid order.
REFURBED_ORDER_STATUS: dict[str, str] = {
    "NEW": UnifiedStatus.NEW,
    "ACCEPTED": UnifiedStatus.ACCEPTED,
    "SHIPPED": UnifiedStatus.SHIPPED,
    "FULFILLED": UnifiedStatus.SHIPPED,  # shipped, some items since returned
    "PARTIALLY_FULFILLED": UnifiedStatus.SHIPPED,  # some shipped, the rest rejected or cancelled
    "REJECTED": UnifiedStatus.CANCELLED,
    "CANCELLED": UnifiedStatus.CANCELLED,
    "UNFULFILLED": UnifiedStatus.CANCELLED,
    "RETURNED": UnifiedStatus.RETURNED,
}
REFURBED_ITEM_STATUS: dict[str, str] = {
    "NEW": UnifiedStatus.NEW,
    "ACCEPTED": UnifiedStatus.ACCEPTED,
    "SHIPPED": UnifiedStatus.SHIPPED,
    "REJECTED": UnifiedStatus.CANCELLED,
    "CANCELLED": UnifiedStatus.CANCELLED,
    "RETURNED": UnifiedStatus.RETURNED,
}


def unified_status(mapping: dict[str, str], marketplace_status: object) -> str:
    """Look a marketplace status up in one of the tables above; unknown statuses stay visible as UNKNOWN."""
    return mapping.get(str(marketplace_status), UnifiedStatus.UNKNOWN)
