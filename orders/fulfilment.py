"""Fulfilling an order where it was placed: one service entry point per action, for every marketplace.

    order_accept_item / order_reject_item   accept or refuse one item (Refurbed, Back Market)
    order_ship                              ship with carrier, tracking number and/or tracking URL (all four)
    order_item_identifiers                  IMEI / serial number of an item (Refurbed, Back Market)
    order_mark_paid                         payment taken outside the marketplace (BrickLink, Brick Owl)
    order_mark_packed                       packed / processed (BrickLink, Brick Owl)

Each looks up the order's marketplace in ``FULFILMENT`` and runs that marketplace's write through
``marketplace_write`` (validated here in full first, audited, sent, the order re-read). ``order_actions`` says which
actions the marketplace allows in the order's current state: the order page offers only those, and every write
checks the same rules before sending.

A transient failure (timeout, 5xx, 429) leaves a ``PendingOrderWrite`` and raises ``WritePending``; the task
``orders.retry_order_write`` retries it with backoff through ``pending_write_retry``, which first re-reads the order
and stops when the earlier attempt turns out to have been applied: a write is never applied twice. A bulk ship job
calls ``order_ship`` order by order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
from django.db import transaction

from marketsync.marketplaces.brickowl.mapping import STATUS_NAMES as BRICKOWL_STATUS_NAMES
from marketsync.sync.errors import TransientError
from marketsync.sync.records import UnifiedStatus
from marketsync.sync.refresh import record_refresh
from marketsync.sync.writes import WriteRefused, marketplace_write, refuse_control_characters
from orders import writes as backmarket
from orders.models import Order, OrderItem, PendingOrderWrite
from orders.status import BRICKLINK_PRE_PAYMENT, bricklink_money_arrived
from orders.writes import SERIAL_MAX, TRACKING_MAX, TRACKING_URL_MAX, _is_web_address, imei_error

MAX_ATTEMPTS = 6  # the first try and five retries, about 30 minutes with the backoff below
REFURBED_BATCH_MAX = 50

# Refurbed's item state machine (refurbed-openapi.json, OrderItemState).
REFURBED_OPEN = {"NEW", "ACCEPTED"}
# BrickLink (bricklink.md §2.1, §9): PROCESSING and READY come before payment; PAID and PACKED may ship.
BRICKLINK_UNPAID = set(BRICKLINK_PRE_PAYMENT)
BRICKLINK_SHIPPABLE = {"PAID", "PACKED"}
BRICKLINK_SHIPPED_OR_LATER = {"SHIPPED", "RECEIVED", "COMPLETED"}
# Brick Owl (brickowl.md §2.1): 1 Payment Submitted, 2 Payment Received, 3 Processing, 4 Processed, 5 Shipped.
BRICKOWL_PROCESSED, BRICKOWL_SHIPPED, BRICKOWL_PAID = 4, 5, 2
_BRICKOWL_IDS = {name: int(key) for key, name in BRICKOWL_STATUS_NAMES.items()}


class WritePending(WriteRefused):
    """The marketplace did not answer: the write is kept and retried by a task (``pending`` is its row)."""

    def __init__(self, message: str, *, pending: PendingOrderWrite) -> None:
        super().__init__(message, refused_locally=False)
        self.pending = pending


@dataclass
class OrderActions:
    """What the order page offers for one order in its current state (and what the writes accept)."""

    accept_items: list[OrderItem] = field(default_factory=list)  # items that can be accepted or refused now
    identifier_items: list[OrderItem] = field(default_factory=list)  # items that take an IMEI / serial now
    ship: bool = False
    ship_why_not: str = ""
    carrier_field: bool = True  # the marketplace takes a carrier (Refurbed's slug, Back Market's shipper)
    drive_thru: bool = False  # BrickLink: a drive-thru message may go with the shipment
    mark_paid: bool = False
    mark_packed: bool = False
    packed_label: str = "Mark packed"
    invoice: bool = False  # Back Market's invoice upload

    @property
    def any(self) -> bool:
        return bool(self.accept_items or self.identifier_items or self.ship or self.mark_paid or self.mark_packed or self.invoice)


def _brickowl_status_id(order: Order) -> int:
    value = str((order.details or {}).get("status_id") or "")
    return int(value) if value.isdigit() else _BRICKOWL_IDS.get(order.marketplace_status, -1)


def _bricklink_paid(order: Order) -> bool:
    """Money arrived (payment.status Received, Clearing or Completed, in any case): the status module's one rule."""
    return bricklink_money_arrived((order.details or {}).get("payment_status"))


def _items(order: Order) -> list[OrderItem]:
    return list(order.items.all())


def order_actions(*, order: Order) -> OrderActions:
    """The actions ``order``'s marketplace allows in its current (stored) state."""
    items = _items(order)
    actions = OrderActions()
    market, status = order.marketplace, order.marketplace_status
    if market == "refurbed":
        actions.accept_items = [i for i in items if i.marketplace_status == "NEW"]
        actions.identifier_items = [i for i in items if i.marketplace_status in ("NEW", "ACCEPTED", "SHIPPED")
                                    and not (i.imei or i.serial_number)]
        accepted = [i for i in items if i.marketplace_status == "ACCEPTED"]
        actions.ship = bool(accepted) and not any(i.marketplace_status == "NEW" for i in items)
        if not actions.ship:
            actions.ship_why_not = "Refurbed ships accepted items: accept (or refuse) every new item first."
    elif market == "backmarket":
        actions.accept_items = [i for i in items if i.marketplace_status == "1"]
        actions.identifier_items = [i for i in items if not (i.imei and i.serial_number)]
        actions.ship = status == "3"
        actions.ship_why_not = "" if actions.ship else (
            "Not paid yet: Back Market ships once the order is paid and every orderline accepted." if status in ("0", "10")
            else "Back Market ships once every orderline is accepted.")
        actions.invoice = True
    elif market == "bricklink":
        unpaid = status in BRICKLINK_UNPAID
        actions.mark_paid = unpaid and not _bricklink_paid(order)
        actions.mark_packed = status == "PAID"
        actions.ship = status in BRICKLINK_SHIPPABLE or (unpaid and _bricklink_paid(order))
        actions.ship_why_not = "" if actions.ship else f"BrickLink ships paid orders (PAID or PACKED); this one is {status}."
        actions.carrier_field = False
        actions.drive_thru = actions.ship
    elif market == "brickowl":
        status_id = _brickowl_status_id(order)
        actions.mark_paid = status_id in (0, 1)
        actions.mark_packed = status_id in (BRICKOWL_PAID, 3)
        actions.packed_label = "Mark processed"
        actions.ship = status_id in (BRICKOWL_PAID, 3, BRICKOWL_PROCESSED)
        actions.ship_why_not = "" if actions.ship else f"Brick Owl ships paid orders (Payment Received to Processed); this one is {status}."
        actions.carrier_field = False
    if not actions.ship and order.status in _NOTHING_TO_SHIP:
        # The marketplace's rule for shipping is beside the point once an order is closed: say what happened.
        actions.ship_why_not = _NOTHING_TO_SHIP[order.status]
    return actions


_NOTHING_TO_SHIP = {
    UnifiedStatus.SHIPPED: "Already shipped.",
    UnifiedStatus.DELIVERED: "Already shipped and delivered.",
    UnifiedStatus.CANCELLED: "Cancelled: nothing to ship.",
    UnifiedStatus.RETURNED: "Returned: nothing to ship.",
    UnifiedStatus.REFUNDED: "Refunded: nothing to ship.",
}


# --- shared checks --------------------------------------------------------------------------------------------


@dataclass
class Tracking:
    carrier: str
    tracking_number: str
    tracking_url: str


def _tracking(carrier: str, tracking_number: str, tracking_url: str) -> Tracking:
    return Tracking((carrier or "").strip(), (tracking_number or "").strip(), (tracking_url or "").strip())


def _check_tracking(t: Tracking, *, need_number: bool, marketplace: str = "") -> None:
    for label, value in (("Carrier", t.carrier), ("Tracking number", t.tracking_number), ("Tracking URL", t.tracking_url)):
        refuse_control_characters(label, value)
    if need_number and not t.tracking_number:
        raise WriteRefused("A tracking number is required to ship.")
    if not t.tracking_number and not t.tracking_url:
        raise WriteRefused("Give a tracking number or a tracking URL to ship.")
    if len(t.tracking_number) > TRACKING_MAX or len(t.carrier) > TRACKING_MAX:
        raise WriteRefused(f"Carrier and tracking number must be at most {TRACKING_MAX} characters.")
    if t.tracking_url and (len(t.tracking_url) > TRACKING_URL_MAX or not _is_web_address(t.tracking_url)):
        raise WriteRefused(f"Tracking URL must be an http(s) URL of at most {TRACKING_URL_MAX} characters.")
    if marketplace == "refurbed" and not t.tracking_url and not (t.carrier and t.tracking_number):
        raise WriteRefused("Refurbed needs a parcel tracking URL, or a carrier and a tracking number.")


def tracking_problem(*, marketplace: str, carrier: str, tracking_number: str, tracking_url: str) -> str:
    """What is wrong with this tracking for the marketplace, or "": the same check every ship runs before sending
    (a bulk file is checked line by line with it before anything is sent)."""
    try:
        _check_tracking(_tracking(carrier, tracking_number, tracking_url), need_number=False, marketplace=marketplace)
    except WriteRefused as exc:
        return exc.message
    return ""


def _write(*, order: Order, action: str, target_type: str = "order", target_id: str = "", summary: dict[str, Any],
           checks: Callable[[], None], send: Callable[[Any], Any], user, actor: str,
           transport: httpx.BaseTransport | None) -> Order:
    marketplace_write(
        connection=order.connection, action=action, target_type=target_type, target_id=target_id or order.external_id,
        summary={"order_id": order.external_id, **summary}, validate=checks, send=send,
        refresh=("orders", order.external_id), order=order, user=user, actor=actor, transport=transport,
    )
    return Order.objects.get(pk=order.pk)


def _refuse_unless(allowed: bool, message: str) -> None:
    if not allowed:
        raise WriteRefused(message)


# --- Refurbed ---------------------------------------------------------------------------------------------------


def _refurbed_item_state(*, item: OrderItem, state: str, verb: str, user, actor, transport) -> Order:
    def checks() -> None:
        _refuse_unless(item.marketplace_status == "NEW",
                       f"Item {item.external_id} is {item.marketplace_status or 'in an unknown state'}: Refurbed lets a "
                       f"merchant {verb} only a NEW item.")

    return _write(order=item.order, action=f"order_item_{verb}", target_type="order_item", target_id=item.external_id,
                  summary={"order_item": item.external_id, "state": state}, checks=checks, user=user, actor=actor,
                  transport=transport, send=lambda client: client.update_order_item_state(item.external_id, state))


# ListAvailableCarriers per connection, for an hour: Refurbed asks callers to cache it (rate limits).
REFURBED_CARRIERS_TTL = 3600
_refurbed_carriers: dict[tuple, tuple[float, list[dict]]] = {}


def refurbed_carrier_slug(client, *, connection, carrier: str) -> str:
    """The slug Refurbed knows for ``carrier`` (its slug or its display name, in any case), from Refurbed's own
    ListAvailableCarriers — the pair's carrier must be one of those slugs. An unknown carrier is refused before
    anything is sent, naming the slugs Refurbed offers."""
    import time

    from marketsync.sync.errors import InvalidRequest

    key = (connection.pk, connection.created_at.isoformat(), connection.base_url)
    cached = _refurbed_carriers.get(key)
    if cached is None or time.monotonic() - cached[0] > REFURBED_CARRIERS_TTL:
        cached = (time.monotonic(), client.list_available_carriers())
        _refurbed_carriers[key] = cached
    wanted = carrier.strip().casefold()
    for entry in cached[1]:
        slug, name = str(entry.get("slug") or ""), str(entry.get("name") or "")
        if slug and wanted in (slug.casefold(), name.casefold()):
            return slug
    offered = ", ".join(sorted(str(e.get("slug")) for e in cached[1] if e.get("slug")))
    raise InvalidRequest(f"Refurbed has no carrier “{carrier[:40]}” (unknown carrier; its carriers: {offered or 'none'}).")


def _refurbed_ship_fields(t: Tracking, carrier_slug: str = "") -> dict[str, Any]:
    """``parcel_tracking_url`` and/or ``parcel_carrier_tracking_number`` {carrier slug, tracking number}: Refurbed
    keeps only the URL on the item (derived from the pair when no URL is given), so the order re-read shows that."""
    fields: dict[str, Any] = {}
    if t.tracking_url:
        fields["parcel_tracking_url"] = t.tracking_url
    if t.carrier and t.tracking_number:
        fields["parcel_carrier_tracking_number"] = {"carrier": carrier_slug or t.carrier, "tracking_number": t.tracking_number}
    return fields


def refurbed_ship(*, order: Order, tracking: Tracking, user, actor, transport) -> Order:
    """Every ACCEPTED item to SHIPPED: one UpdateOrderItemState, or BatchUpdateOrderItemsState for several items.
    A batch answers per item; any refused item makes the write a refusal in Refurbed's words (the rest shipped)."""
    items = [i for i in _items(order) if i.marketplace_status == "ACCEPTED"]
    fields = _refurbed_ship_fields(tracking)

    def checks() -> None:
        _check_tracking(tracking, need_number=False, marketplace="refurbed")
        _refuse_unless(order_actions(order=order).ship, order_actions(order=order).ship_why_not)
        _refuse_unless(len(items) <= REFURBED_BATCH_MAX, f"Refurbed takes at most {REFURBED_BATCH_MAX} items at once.")

    def send(client) -> None:
        sent = fields
        if tracking.carrier and tracking.tracking_number:
            sent = _refurbed_ship_fields(tracking, refurbed_carrier_slug(client, connection=order.connection,
                                                                         carrier=tracking.carrier))
        if len(items) == 1:
            client.update_order_item_state(items[0].external_id, "SHIPPED", **sent)
            return
        results = client.batch_update_order_items_state(
            [{"id": i.external_id, "state": "SHIPPED", **sent} for i in items])
        refused = [f"item {i.external_id}: {r.get('status', {}).get('message') or 'refused'}"
                   for i, r in zip(items, results, strict=True) if (r.get("status") or {}).get("code", 0) != 0]
        if refused:
            from marketsync.sync.errors import InvalidRequest

            raise InvalidRequest(f"Refurbed refused {len(refused)} of {len(items)} items: {'; '.join(refused)}")

    return _write(order=order, action="order_ship", summary={"items": [i.external_id for i in items], **fields},
                  checks=checks, send=send, user=user, actor=actor, transport=transport)


def refurbed_identifiers(*, item: OrderItem, imei: str, serial_number: str, user, actor, transport) -> Order:
    identifiers = [{"identifier_type": kind, "value": value}
                   for kind, value in (("IMEI", imei), ("SERIAL_NUMBER", serial_number)) if value]

    def checks() -> None:
        _refuse_unless(bool(identifiers), "Give an IMEI or a serial number.")
        if imei and imei_error(imei):
            raise WriteRefused(imei_error(imei))
        refuse_control_characters("Serial number", serial_number)
        _refuse_unless(len(serial_number) <= SERIAL_MAX, f"Serial number must be at most {SERIAL_MAX} characters.")
        _refuse_unless(item.marketplace_status in ("NEW", "ACCEPTED", "SHIPPED"),
                       f"Item {item.external_id} is {item.marketplace_status}: it takes no identifiers now.")

    return _write(order=item.order, action="order_item_identifiers", target_type="order_item", target_id=item.external_id,
                  summary={"order_item": item.external_id, "item_identifiers": identifiers}, checks=checks, user=user,
                  actor=actor, transport=transport,
                  send=lambda client: client.update_order_item(item.external_id, item_identifiers=identifiers))


# --- BrickLink ---------------------------------------------------------------------------------------------------


def bricklink_ship(*, order: Order, tracking: Tracking, drive_thru: bool, user, actor, transport) -> Order:
    """Tracking number, link and shipped date (``PUT /orders/{id}``), then status SHIPPED, then the drive-thru."""
    shipping: dict[str, Any] = {"date_shipped": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    if tracking.tracking_number:
        shipping["tracking_no"] = tracking.tracking_number
    if tracking.tracking_url:
        shipping["tracking_link"] = tracking.tracking_url

    def checks() -> None:
        _check_tracking(tracking, need_number=False)
        actions = order_actions(order=order)
        _refuse_unless(actions.ship, actions.ship_why_not)

    def send(client) -> None:
        client.order_update(order.external_id, {"shipping": shipping})
        client.order_status_set(order.external_id, "SHIPPED")
        if drive_thru:
            client.order_drive_thru(order.external_id, mail_me=False)

    return _write(order=order, action="order_ship", summary={"shipping": shipping, "carrier": tracking.carrier,
                                                              "drive_thru": drive_thru},
                  checks=checks, send=send, user=user, actor=actor, transport=transport)


def bricklink_mark_paid(*, order: Order, user, actor, transport) -> Order:
    def checks() -> None:
        _refuse_unless(order_actions(order=order).mark_paid,
                       f"BrickLink order {order.external_id} is {order.marketplace_status} with payment "
                       f"{(order.details or {}).get('payment_status') or 'unknown'}: nothing to mark paid.")

    return _write(order=order, action="order_mark_paid", summary={"payment_status": "Received"}, checks=checks, user=user,
                  actor=actor, transport=transport,
                  send=lambda client: client.order_payment_status_set(order.external_id, "Received"))


def bricklink_mark_packed(*, order: Order, user, actor, transport) -> Order:
    def checks() -> None:
        _refuse_unless(order_actions(order=order).mark_packed,
                       f"BrickLink order {order.external_id} is {order.marketplace_status}: only a PAID order is packed.")

    return _write(order=order, action="order_mark_packed", summary={"status": "PACKED"}, checks=checks, user=user,
                  actor=actor, transport=transport, send=lambda client: client.order_status_set(order.external_id, "PACKED"))


# --- Brick Owl ---------------------------------------------------------------------------------------------------


def brickowl_ship(*, order: Order, tracking: Tracking, user, actor, transport) -> Order:
    """``order/tracking`` (Brick Owl takes a tracking number or a URL), then ``order/set_status`` 5 (Shipped)."""
    tracking_id = tracking.tracking_number or tracking.tracking_url

    def checks() -> None:
        _check_tracking(tracking, need_number=False)
        actions = order_actions(order=order)
        _refuse_unless(actions.ship, actions.ship_why_not)

    def send(client) -> None:
        client.order_tracking(order.external_id, tracking_id)
        client.order_set_status(order.external_id, BRICKOWL_SHIPPED)

    return _write(order=order, action="order_ship", summary={"tracking_id": tracking_id, "status_id": BRICKOWL_SHIPPED,
                                                              "carrier": tracking.carrier},
                  checks=checks, send=send, user=user, actor=actor, transport=transport)


def _brickowl_status(*, order: Order, status_id: int, action: str, allowed: bool, user, actor, transport) -> Order:
    def checks() -> None:
        _refuse_unless(allowed, f"Brick Owl order {order.external_id} is {order.marketplace_status}: it cannot be set to "
                                f"{BRICKOWL_STATUS_NAMES[str(status_id)]} from here.")

    return _write(order=order, action=action, summary={"status_id": status_id}, checks=checks, user=user, actor=actor,
                  transport=transport, send=lambda client: client.order_set_status(order.external_id, status_id))


# --- the per-marketplace table -------------------------------------------------------------------------------------


def _backmarket_ship(*, order, tracking, user, actor, transport, **_):
    return backmarket.order_ship(order=order, tracking_number=tracking.tracking_number, tracking_url=tracking.tracking_url,
                                 shipper=tracking.carrier, user=user, actor=actor, transport=transport)


def _backmarket_identifiers(*, item, imei, serial_number, user, actor, transport):
    backmarket.orderline_identifiers_set(item=item, imei=imei, serial_number=serial_number, user=user, actor=actor,
                                         transport=transport)
    return Order.objects.get(pk=item.order_id)


FULFILMENT: dict[str, dict[str, Callable[..., Order]]] = {
    "refurbed": {
        "accept": partial(_refurbed_item_state, state="ACCEPTED", verb="accept"),
        "reject": partial(_refurbed_item_state, state="REJECTED", verb="reject"),
        "ship": lambda *, drive_thru=False, **kw: refurbed_ship(**kw),
        "identifiers": refurbed_identifiers,
    },
    "backmarket": {
        "accept": lambda *, item, user, actor, transport: backmarket.orderline_accept(item=item, user=user, actor=actor,
                                                                                       transport=transport),
        "reject": lambda *, item, user, actor, transport: backmarket.orderline_cancel(item=item, user=user, actor=actor,
                                                                                       transport=transport),
        "ship": _backmarket_ship,
        "identifiers": _backmarket_identifiers,
    },
    "bricklink": {
        "ship": bricklink_ship,
        "mark_paid": bricklink_mark_paid,
        "mark_packed": bricklink_mark_packed,
    },
    "brickowl": {
        "ship": lambda *, drive_thru=False, **kw: brickowl_ship(**kw),
        "mark_paid": lambda *, order, **kw: _brickowl_status(order=order, status_id=BRICKOWL_PAID, action="order_mark_paid",
                                                             allowed=order_actions(order=order).mark_paid, **kw),
        "mark_packed": lambda *, order, **kw: _brickowl_status(order=order, status_id=BRICKOWL_PROCESSED,
                                                               action="order_mark_packed",
                                                               allowed=order_actions(order=order).mark_packed, **kw),
    },
}


def _write_function(order: Order, action: str) -> Callable[..., Order]:
    function = FULFILMENT.get(order.marketplace, {}).get(action)
    if function is None:
        label = order.connection.marketplace_label
        raise WriteRefused(f"{label} orders have no “{action.replace('_', ' ')}” action in marketsync.")
    return function


def _is_transient(exc: WriteRefused) -> bool:
    return not exc.refused_locally and isinstance(exc.__cause__, TransientError)


def _run(*, order: Order, item: OrderItem | None, action: str, params: dict[str, Any], user, actor: str,
         transport: httpx.BaseTransport | None, retrying: PendingOrderWrite | None = None) -> Order:
    """Run one action; a transient failure becomes a pending write retried by the task (unless this is the retry)."""
    function = _write_function(order, action)
    target = {"item": item} if item is not None else {"order": order}
    arguments = dict(params)
    if action == "ship":
        arguments = {"tracking": _tracking(params.get("carrier", ""), params.get("tracking_number", ""),
                                           params.get("tracking_url", "")), "drive_thru": bool(params.get("drive_thru"))}
    try:
        return function(**target, **arguments, user=user, actor=actor, transport=transport)
    except WriteRefused as exc:
        if retrying is not None or not _is_transient(exc):
            raise
        pending = pending_write_create(order=order, item=item, action=action, params=params, user=user, error=str(exc.__cause__))
        label = order.connection.marketplace_label
        raise WritePending(f"{label} did not answer ({exc.__cause__}). The write is kept as pending and retried "
                           "in the background; the order page shows when it is done.", pending=pending) from exc


def order_accept_item(*, item: OrderItem, user=None, actor: str = "", transport: httpx.BaseTransport | None = None) -> Order:
    return _run(order=item.order, item=item, action="accept", params={}, user=user, actor=actor, transport=transport)


def order_reject_item(*, item: OrderItem, user=None, actor: str = "", transport: httpx.BaseTransport | None = None) -> Order:
    return _run(order=item.order, item=item, action="reject", params={}, user=user, actor=actor, transport=transport)


def order_ship(*, order: Order, carrier: str = "", tracking_number: str = "", tracking_url: str = "",
               drive_thru: bool = False, user=None, actor: str = "", transport: httpx.BaseTransport | None = None) -> Order:
    """Ship ``order`` on its own marketplace with carrier and tracking (the one entry point; a bulk job calls it per
    order)."""
    params = {"carrier": carrier or "", "tracking_number": tracking_number or "", "tracking_url": tracking_url or "",
              "drive_thru": bool(drive_thru)}
    return _run(order=order, item=None, action="ship", params=params, user=user, actor=actor, transport=transport)


def order_item_identifiers(*, item: OrderItem, imei: str = "", serial_number: str = "", user=None, actor: str = "",
                           transport: httpx.BaseTransport | None = None) -> Order:
    params = {"imei": (imei or "").strip(), "serial_number": (serial_number or "").strip()}
    return _run(order=item.order, item=item, action="identifiers", params=params, user=user, actor=actor, transport=transport)


def order_mark_paid(*, order: Order, user=None, actor: str = "", transport: httpx.BaseTransport | None = None) -> Order:
    return _run(order=order, item=None, action="mark_paid", params={}, user=user, actor=actor, transport=transport)


def order_mark_packed(*, order: Order, user=None, actor: str = "", transport: httpx.BaseTransport | None = None) -> Order:
    return _run(order=order, item=None, action="mark_packed", params={}, user=user, actor=actor, transport=transport)


# --- pending writes -------------------------------------------------------------------------------------------------


def pending_write_create(*, order: Order, item: OrderItem | None, action: str, params: dict[str, Any], user,
                         error: str) -> PendingOrderWrite:
    """Keep the write and enqueue its retry once the caller's transaction commits."""
    from orders.tasks import retry_order_write

    pending = PendingOrderWrite.objects.create(
        organization_id=order.organization_id, order=order, item=item, action=action, params=params,
        user=user if getattr(user, "pk", None) else None, last_error=error[:1000],
    )
    transaction.on_commit(partial(retry_order_write.apply_async, (pending.pk,), countdown=retry_delay(1)))
    return pending


def retry_delay(attempts: int) -> int:
    """Seconds before the next try: 30 s, 1, 2, 4, 8 minutes (capped at 15)."""
    return min(900, 30 * 2 ** (attempts - 1))


def write_applied(*, action: str, params: dict[str, Any], order: Order, item: OrderItem | None = None) -> bool:
    """Whether the re-read order shows the write made (an earlier attempt, whose outcome was unknown, reached the
    marketplace after all): a pending write's retry and the bulk ship sweeper ask this before sending again."""
    status = order.marketplace_status
    if item is not None:
        if action == "accept":
            return item.marketplace_status in ("ACCEPTED", "2")
        if action == "reject":
            return item.marketplace_status in ("REJECTED", "4")
        if action == "identifiers":
            imei, serial = params.get("imei"), params.get("serial_number")
            return (not imei or item.imei == imei) and (not serial or item.serial_number == serial)
    if action == "ship":
        if order.marketplace == "refurbed":
            states = {i.marketplace_status for i in _items(order)}
            return "SHIPPED" in states and not states & REFURBED_OPEN
        if order.marketplace == "bricklink":
            return status in BRICKLINK_SHIPPED_OR_LATER
        if order.marketplace == "brickowl":
            return _brickowl_status_id(order) in (5, 6)
        # Back Market (backmarket.md §3): order state 9 shipped; or every line shipped (3) or refunded after (6).
        lines = {i.marketplace_status for i in _items(order)}
        return status == "9" or (bool(lines) and lines <= {"3", "6"})
    if action == "mark_paid":
        return _bricklink_paid(order) if order.marketplace == "bricklink" else _brickowl_status_id(order) >= BRICKOWL_PAID
    if action == "mark_packed":
        if order.marketplace == "bricklink":
            return status in {"PACKED"} | BRICKLINK_SHIPPED_OR_LATER
        return _brickowl_status_id(order) >= BRICKOWL_PROCESSED
    return False


def pending_write_retry(*, pending: PendingOrderWrite, transport: httpx.BaseTransport | None = None) -> PendingOrderWrite:
    """One retry of a pending write: re-read the order first (the earlier attempt's outcome is unknown), stop if it
    was applied, else send again. Leaves the row pending (the task tries later), done or failed for good."""
    if pending.state != PendingOrderWrite.State.PENDING:
        return pending
    order = pending.order
    try:
        record_refresh(connection=order.connection, entity="orders", external_id=order.external_id, transport=transport)
    except TransientError as exc:
        return _pending_failed_attempt(pending, str(exc))
    except Exception as exc:  # noqa: BLE001 - an unreadable order: do not write blind
        return _pending_finish(pending, PendingOrderWrite.State.FAILED, f"The order could not be re-read: {exc}")
    order = Order.objects.get(pk=order.pk)
    item = OrderItem.objects.get(pk=pending.item_id) if pending.item_id else None
    if write_applied(action=pending.action, params=pending.params, order=order, item=item):
        return _pending_finish(pending, PendingOrderWrite.State.DONE, "")
    pending.attempts += 1
    try:
        _run(order=order, item=item, action=pending.action, params=pending.params, user=pending.user, actor="retry",
             transport=transport, retrying=pending)
    except WriteRefused as exc:
        if _is_transient(exc):
            return _pending_failed_attempt(pending, str(exc.__cause__), counted=True)
        return _pending_finish(pending, PendingOrderWrite.State.FAILED, exc.message)
    return _pending_finish(pending, PendingOrderWrite.State.DONE, "")


def _pending_failed_attempt(pending: PendingOrderWrite, error: str, *, counted: bool = False) -> PendingOrderWrite:
    if not counted:
        pending.attempts += 1
    pending.last_error = error[:1000]
    if pending.attempts >= MAX_ATTEMPTS:
        pending.state = PendingOrderWrite.State.FAILED
        pending.last_error = f"Gave up after {pending.attempts} attempts: {error}"[:1000]
    pending.save(update_fields=["attempts", "last_error", "state", "updated_at"])
    return pending


def _pending_finish(pending: PendingOrderWrite, state: str, error: str) -> PendingOrderWrite:
    pending.state, pending.last_error = state, error[:1000]
    pending.save(update_fields=["attempts", "last_error", "state", "updated_at"])
    return pending


def pending_writes_of(*, order: Order):
    """The order's writes not yet confirmed, and those that failed for good (newest first), for its page."""
    return PendingOrderWrite.objects.filter(order=order).exclude(state=PendingOrderWrite.State.DONE)[:20]
