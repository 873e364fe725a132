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


# --- Words: each marketplace's codes as a merchant reads them ------------------------------------------
# The pages show these words and keep the marketplace's own code in a tooltip (orders/presentation.py). One
# table per marketplace and kind of code, each from the marketplace notes; a code no table knows is shown as
# it is, never an error.

# backmarket.md §3 OrderState, OrderLineState; §2.2 orderline ``condition``; §2.3 listing ``grade``,
# ``publication_state`` (the spec gives no meanings: practice says 2 live, 3 offline), ``state`` (deprecated grade).
BACKMARKET_ORDER_WORDS = {
    "0": "New: payment check pending", "10": "Pending payment", "1": "Paid: accept or cancel each line",
    "3": "To ship: every line accepted", "8": "Not paid", "9": "Shipped",
}
BACKMARKET_LINE_WORDS = {
    "0": "New", "9": "On hold (partner validation)", "8": "Pending payment", "1": "Paid: to accept", "2": "Accepted",
    "3": "Shipped", "4": "Cancelled", "5": "Refunded before shipping", "6": "Refunded after shipping",
    "7": "Payment refused",
}
BACKMARKET_CONDITION_WORDS = {"9": "Premium", "10": "Excellent", "11": "Good", "12": "Fair"}
BACKMARKET_GRADE_WORDS = {
    "PREMIUM": "Premium", "EXCELLENT": "Excellent", "VERY_GOOD": "Very good", "GOOD": "Good", "FAIR": "Fair",
    "STALLONE": "Stallone",
}
BACKMARKET_LISTING_STATE_WORDS = {
    "9": "Premium", "0": "Excellent", "1": "Very good", "2": "Good", "3": "Fair", "4": "Stallone",
}
BACKMARKET_PUBLICATION_WORDS = {"0": "Pending", "1": "In validation", "2": "Online", "3": "Offline", "4": "Archived"}
BACKMARKET_PAYMENT_WORDS = {"CARD": "Card", "PAYPAL": "PayPal", "ONEY3X": "Oney (3 instalments)",
                            "ONEY4X": "Oney (4 instalments)", "KLARNA": "Klarna"}

# refurbed.md §4 OrderState (computed from the items), OrderItemState, OrderLabel, OfferGrading (the notes give
# the grades no names: "Grade A"), OfferState, visibility.
REFURBED_ORDER_WORDS = {
    "NEW": "New: accept or refuse each item", "ACCEPTED": "Accepted: to ship", "SHIPPED": "Shipped",
    "FULFILLED": "Fulfilled (some items since returned)", "PARTIALLY_FULFILLED": "Partly shipped, the rest refused or cancelled",
    "REJECTED": "Refused", "CANCELLED": "Cancelled by the customer", "UNFULFILLED": "Refused or cancelled",
    "RETURNED": "Returned",
}
REFURBED_ITEM_WORDS = {
    "NEW": "New: to accept", "ACCEPTED": "Accepted", "SHIPPED": "Shipped", "REJECTED": "Refused",
    "CANCELLED": "Cancelled by the customer", "RETURNED": "Returned",
}
REFURBED_LABEL_WORDS = {
    "PROCESSING": "In progress", "PARTIALLY_REJECTED": "Some items refused", "PARTIALLY_CANCELLED": "Some items cancelled",
    "PARTIALLY_SHIPPED": "Some items shipped", "PARTIALLY_RETURNED": "Some items returned",
    "MISSING_PARCEL_TRACKING_URLS": "A parcel tracking URL is missing", "MISSING_ITEM_IDENTIFIERS": "An IMEI or serial number is missing",
}
REFURBED_GRADING_WORDS = {"A": "Grade A", "B": "Grade B", "C": "Grade C", "AA": "Grade AA"}
REFURBED_OFFER_STATE_WORDS = {
    "OK": "Live", "UNVERIFIED": "Unverified: verify in Refurbed", "SUBMITTED": "Submitted", "PENDING_REVIEW": "In review",
    "REJECTED": "Rejected",
}
REFURBED_VISIBILITY_WORDS = {"FULL": "Visible", "NONE": "Not shown (no stock)", "LIMITED": "Limited", "HIDDEN": "Hidden"}
REFURBED_SHIPMENT_WORDS = {
    "INFO_RECEIVED": "Label created", "IN_TRANSIT": "In transit", "OUT_FOR_DELIVERY": "Out for delivery",
    "AVAILABLE_FOR_PICKUP": "Ready for pickup", "DELIVERED": "Delivered", "FAILED_ATTEMPT": "Delivery attempt failed",
    "EXCEPTION": "Carrier problem",
}

# bricklink.md §2.1 OrderStatus (the hold codes' meanings are "commonly read as", unconfirmed), §2 completeness.
BRICKLINK_STATUS_WORDS = {
    "PENDING": "Pending: submitted by the buyer", "UPDATED": "Updated", "PROCESSING": "Processing: shipping being worked out",
    "READY": "Ready: invoice sent, awaiting payment", "PAID": "Paid", "PACKED": "Packed", "SHIPPED": "Shipped",
    "RECEIVED": "Received by the buyer", "COMPLETED": "Completed", "OCR": "On hold: cancel requested",
    "NPB": "On hold: buyer has not paid", "NPX": "On hold: buyer has not paid", "NRS": "On hold: seller not responding",
    "NSS": "On hold: seller has not shipped", "CANCELLED": "Cancelled", "PURGED": "Purged by BrickLink (closed)",
}
BRICK_COMPLETENESS_WORDS = {"C": "complete", "B": "incomplete", "S": "sealed"}

# brickowl.md §2.1 order status (its text is what we store), §3 condition codes.
BRICKOWL_CONDITION_WORDS = {
    "new": "New", "news": "New, sealed", "newc": "New, complete", "newi": "New, incomplete", "usedc": "Used, complete",
    "usedi": "Used, incomplete", "usedn": "Used, like new", "usedg": "Used, good", "useda": "Used, acceptable",
    "other": "Other",
}
BRICK_CONDITION_WORDS = {"new": "New", "used": "Used", "n": "New", "u": "Used"}


def words(table: dict[str, str], code: object) -> str:
    """The words for ``code`` in one of the tables above, or the code itself when no table knows it."""
    text = "" if code is None else str(code).strip()
    return table.get(text, table.get(text.upper(), text))
