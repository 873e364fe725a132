"""Property tests of the reservation ledger against an independent model of what stock should be, and of the
stock push on all four marketplaces (``StockPushProperties``, against the simulator).

Random sequences of order events (new, quantity changed, items added in a
batch, cancelled, shipped, re-synced, a duplicate notification, a crash in
the middle and a retry) are applied through the same upsert the sync and the
webhooks use; after every step the ledger invariants hold and on-hand and
reserved equal the model's. Brick orders (one status for the order) and Back
Market orders on SKU items (a state per line; some placed before the import).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from connections.models import EntitySync
from inventory.models import InventoryItem, InventoryLot, Reservation, StockMovement, StockPush
from inventory.push import stock_push_drain
from inventory.selectors import inventory_check
from inventory.services import inventory_adjust, inventory_upsert_lots
from listings.services import listing_upsert_page
from marketsync.marketplaces.backmarket.mapping import ListingRecord
from marketsync.sync.records import LotRecord, OrderItemRecord, OrderRecord
from orders.services import brick_order_upsert_page, order_upsert_page
from tests.factories import make_connection, make_organization
from tests.inventory.test_stock_push import Transport

LOTS = {"L1": 50, "L2": 30, "L3": 20}
OPEN_STATUS, CANCELLED, SHIPPED = ("PAID", "new"), ("CANCELLED", "cancelled"), ("SHIPPED", "shipped")


@dataclass
class ModelLine:
    lot: str
    quantity: int
    state: str = "none"  # none | open | released | consumed
    held: int = 0


@dataclass
class ModelOrder:
    external_id: str
    status: tuple[str, str] = OPEN_STATUS
    lines: dict[str, ModelLine] = field(default_factory=dict)


class Crash(Exception):
    pass


def record_of(order: ModelOrder) -> OrderRecord:
    marketplace_status, status = order.status
    return OrderRecord(
        external_id=order.external_id, status=status, marketplace_status=marketplace_status, currency="EUR",
        items=[
            OrderItemRecord(external_id=key, status=status, marketplace_status=marketplace_status, quantity=line.quantity,
                            unit_price=Decimal("0.1000"), listing_ref=line.lot, part_number="3001", color_id="5",
                            condition="new", location=f"bin-{line.lot}")
            for key, line in order.lines.items()
        ],
    )


def model_apply(order: ModelOrder) -> None:
    """The independent rule: what one stored sync of this order does to each line."""
    _, status = order.status
    for line in order.lines.values():
        if line.state == "none":
            if status != "new":
                continue  # first seen closed: moves no stock
            line.state = "open"
        if line.state != "open":
            continue
        if status == "cancelled":
            line.state = "released"
        elif status == "shipped":
            line.state = "consumed"
        else:
            line.held = line.quantity


event = st.one_of(
    st.tuples(st.just("new"), st.sampled_from(sorted(LOTS)), st.integers(1, 6)),
    st.tuples(st.just("quantity"), st.integers(0, 20), st.integers(0, 9)),
    st.tuples(st.just("add_batch"), st.integers(0, 20), st.sampled_from(sorted(LOTS)), st.integers(1, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("ship"), st.integers(0, 20)),
    st.tuples(st.just("resync"), st.integers(0, 20)),
    st.tuples(st.just("duplicate"), st.integers(0, 20)),
    st.tuples(st.just("crash_then_retry"), st.integers(0, 20), st.sampled_from(["cancel", "ship", "quantity"])),
)


class ReservationLedgerProperties(TestCase):
    def setUp(self):
        self.connection = make_connection(make_organization("props"), "bricklink")
        inventory_upsert_lots(connection=self.connection, records=[
            LotRecord(external_id=lot, part_number="3001", item_type="PART", color_id="5", condition="new", quantity=qty,
                      location=f"bin-{lot}") for lot, qty in LOTS.items()
        ])
        self.item_of = dict(InventoryLot.objects.filter(connection=self.connection).values_list("external_id", "item_id"))

    def store(self, order: ModelOrder, *, crash: bool = False) -> None:
        with transaction.atomic():
            brick_order_upsert_page(connection=self.connection, records=[record_of(order)])
            if crash:
                raise Crash("worker died after storing, before committing")

    def check(self, orders: list[ModelOrder]) -> None:
        assert inventory_check(organization=self.connection.organization) == []
        for lot, initial in LOTS.items():
            lines = [line for o in orders for line in o.lines.values() if line.lot == lot]
            expected_reserved = sum(line.held for line in lines if line.state == "open")
            expected_on_hand = initial - sum(line.held for line in lines if line.state == "consumed")
            item = InventoryItem.objects.get(pk=self.item_of[lot])
            assert (item.quantity_on_hand, item.quantity_reserved) == (expected_on_hand, expected_reserved), lot
        assert Reservation.objects.count() == sum(1 for o in orders for line in o.lines.values() if line.state != "none")
        assert StockMovement.objects.filter(kind__in=["release", "consume"]).count() == sum(
            1 for o in orders for line in o.lines.values() if line.state in ("released", "consumed")
        )

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(event, min_size=1, max_size=12))
    def test_ledger_matches_the_model_after_every_step(self, events):
        orders: list[ModelOrder] = []
        for ev in events:
            kind = ev[0]
            if kind == "new":
                order = ModelOrder(external_id=f"O{len(orders) + 1}")
                order.lines[f"{order.external_id}:{ev[1]}"] = ModelLine(lot=ev[1], quantity=ev[2])
                orders.append(order)
                targets = [order]
            elif not orders:
                continue
            else:
                order = orders[ev[1] % len(orders)]
                targets = [order]
                if kind == "quantity":
                    line = list(order.lines.values())[ev[2] % len(order.lines)]
                    line.quantity = ev[2]
                elif kind == "add_batch":
                    key = f"{order.external_id}:{ev[2]}:{len(order.lines)}"
                    order.lines[key] = ModelLine(lot=ev[2], quantity=ev[3])
                elif kind == "cancel":
                    order.status = CANCELLED
                elif kind == "ship":
                    order.status = SHIPPED
                elif kind == "duplicate":
                    targets = [order, order]
                elif kind == "crash_then_retry":
                    if ev[2] == "cancel":
                        order.status = CANCELLED
                    elif ev[2] == "ship":
                        order.status = SHIPPED
                    else:
                        first = next(iter(order.lines.values()))
                        first.quantity += 1
                    try:
                        self.store(order, crash=True)
                    except Crash:
                        pass
                    self.check(orders)  # the crash left nothing behind
            for target in targets:
                self.store(target)
                model_apply(target)
                self.check(orders)


# --- refurbished goods: Back Market lines, each with its own state, on SKU stock items -------------------------

SKUS = {"S1": 8, "S2": 5}
LINE_NEW, LINE_CANCELLED, LINE_SHIPPED = ("1", "new"), ("4", "cancelled"), ("3", "shipped")
BEFORE_IMPORT = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class SkuLine:
    sku: str
    quantity: int
    status: tuple[str, str] = LINE_NEW
    state: str = "none"  # none | open | released | consumed
    held: int = 0
    added: int = 0  # units the marketplace had already taken out of the imported quantity


@dataclass
class SkuOrder:
    external_id: str
    placed_before_import: bool
    lines: dict[str, SkuLine] = field(default_factory=dict)


def sku_record_of(order: SkuOrder, legacy: dict[str, str]) -> OrderRecord:
    placed = BEFORE_IMPORT if order.placed_before_import else datetime.now(UTC) + timedelta(days=1)
    return OrderRecord(
        external_id=order.external_id, status="accepted", marketplace_status="3", placed_at=placed, items=[
            OrderItemRecord(external_id=key, status=line.status[1], marketplace_status=line.status[0], sku=line.sku,
                            quantity=line.quantity, listing_ref=legacy[line.sku])
            for key, line in order.lines.items()
        ],
    )


def sku_model_apply(order: SkuOrder) -> None:
    for line in order.lines.values():
        status = line.status[1]
        if line.state == "none":
            if status != "new":
                continue
            line.state = "open"
            if order.placed_before_import and line.quantity > 0:
                line.added = line.quantity
        if line.state != "open":
            continue
        if status == "cancelled":
            line.state = "released"
        elif status == "shipped":
            line.state = "consumed"
        else:
            line.held = line.quantity


sku_event = st.one_of(
    st.tuples(st.just("new"), st.sampled_from(sorted(SKUS)), st.integers(1, 4), st.booleans()),
    st.tuples(st.just("quantity"), st.integers(0, 20), st.integers(0, 9)),
    st.tuples(st.just("add_line"), st.integers(0, 20), st.sampled_from(sorted(SKUS)), st.integers(1, 3)),
    st.tuples(st.just("cancel_line"), st.integers(0, 20), st.integers(0, 9)),
    st.tuples(st.just("ship_line"), st.integers(0, 20), st.integers(0, 9)),
    st.tuples(st.just("duplicate"), st.integers(0, 20)),
    st.tuples(st.just("crash_then_retry"), st.integers(0, 20), st.integers(0, 9)),
)


class SkuReservationLedgerProperties(TestCase):
    """Back Market orders on SKU stock items: each line follows its own state; orders placed before the listings
    were imported add to on hand as they reserve (the marketplace had already taken them out)."""

    def setUp(self):
        self.connection = make_connection(make_organization("sku-props"), "backmarket")
        listing_upsert_page(connection=self.connection, records=[
            ListingRecord(external_id=f"uuid-{sku}", legacy_id=f"10{n}", sku=sku, quantity=qty)
            for n, (sku, qty) in enumerate(SKUS.items())
        ])
        self.legacy = {sku: f"10{n}" for n, sku in enumerate(SKUS)}

    def store(self, order: SkuOrder, *, crash: bool = False) -> None:
        with transaction.atomic():
            order_upsert_page(connection=self.connection, records=[sku_record_of(order, self.legacy)])
            if crash:
                raise Crash("worker died after storing, before committing")

    def check(self, orders: list[SkuOrder]) -> None:
        assert inventory_check(organization=self.connection.organization) == []
        for sku, initial in SKUS.items():
            lines = [line for o in orders for line in o.lines.values() if line.sku == sku]
            item = InventoryItem.objects.get(organization=self.connection.organization, sku=sku)
            expected_on_hand = initial + sum(line.added for line in lines) - sum(
                line.held for line in lines if line.state == "consumed")
            expected_reserved = sum(line.held for line in lines if line.state == "open")
            assert (item.quantity_on_hand, item.quantity_reserved) == (expected_on_hand, expected_reserved), sku

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(sku_event, min_size=1, max_size=12))
    def test_ledger_matches_the_model_after_every_step(self, events):
        orders: list[SkuOrder] = []
        for ev in events:
            kind = ev[0]
            if kind == "new":
                order = SkuOrder(external_id=f"B{len(orders) + 1}", placed_before_import=ev[3])
                order.lines[f"{order.external_id}1"] = SkuLine(sku=ev[1], quantity=ev[2])
                orders.append(order)
                targets = [order]
            elif not orders:
                continue
            else:
                order = orders[ev[1] % len(orders)]
                targets = [order]
                line = list(order.lines.values())[(ev[2] if len(ev) > 2 and isinstance(ev[2], int) else 0) % len(order.lines)]
                if kind == "quantity":
                    line.quantity = ev[2]
                elif kind == "add_line":
                    order.lines[f"{order.external_id}{len(order.lines) + 1}"] = SkuLine(sku=ev[2], quantity=ev[3])
                elif kind == "cancel_line":
                    line.status = LINE_CANCELLED
                elif kind == "ship_line":
                    line.status = LINE_SHIPPED
                elif kind == "duplicate":
                    targets = [order, order]
                elif kind == "crash_then_retry":
                    line.quantity += 1
                    try:
                        self.store(order, crash=True)
                    except Crash:
                        pass
                    self.check(orders)
            for target in targets:
                self.store(target)
                sku_model_apply(target)
                self.check(orders)


# --- pushes, all four marketplaces: orders, adjustments and faulty drains against the simulator -----------------

PUSH_MARKETPLACES = ("bricklink", "brickowl", "backmarket", "refurbed")
FUTURE = datetime.now(UTC) + timedelta(days=1)  # placed after the imports read the quantities


class FaultyTransport(Transport):
    """Also answers 401 (without forwarding) to the chosen "METHOD path-part" requests, while they are listed."""

    def __init__(self, app) -> None:
        super().__init__(app)
        self.unauthorized: set[str] = set()

    def handle_request(self, request):
        for key in self.unauthorized:
            method, part = key.split(" ", 1)
            if request.method == method and part in request.url.path:
                self.requests.append(f"{request.method} {request.url.path}")
                return httpx.Response(401, json={"code": 16, "message": "unauthenticated"})
        return super().handle_request(request)


# The request each marketplace's push makes (a substring of its path), for faults aimed at pushes only.
PUSH_CALL = {"bricklink": "PUT /inventories/", "brickowl": "POST /brickowl/v1/", "backmarket": "POST /ws/listings/",
             "refurbed": "POST UpdateOffer"}

push_event = st.one_of(
    st.tuples(st.just("order"), st.sampled_from(PUSH_MARKETPLACES), st.integers(1, 4)),
    st.tuples(st.just("amend"), st.integers(0, 20), st.integers(0, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("ship"), st.integers(0, 20)),
    st.tuples(st.just("duplicate"), st.integers(0, 20)),
    st.tuples(st.just("adjust"), st.sampled_from(["brick", "sku"]), st.integers(-3, 3)),
    st.tuples(st.just("drain"), st.sampled_from(["ok", "crash_after_send", "transient", "auth"]),
              st.sampled_from(PUSH_MARKETPLACES)),
)


@dataclass
class PushOrder:
    marketplace: str
    external_id: str
    quantity: int
    status: str = "new"  # new | cancelled | shipped
    state: str = "none"  # none | open | released | consumed
    held: int = 0


class StockPushProperties(TestCase):
    """One brick item (a BrickLink lot and a Brick Owl lot) and one SKU item (a Back Market listing and a Refurbed
    offer), stock push on everywhere; random orders (each also lowering the quantity at its own marketplace, as
    marketplaces do), amendments, cancellations, shipments, duplicates, adjustments, and drains that crash after
    sending, meet transient errors or lose the credentials. After every step the ledger holds and matches the
    model; after the faults clear and the outbox drains, every linked quantity in the simulator equals local
    available (no BrickLink delta applied against a stale figure) and nothing was deleted."""

    def setUp(self):
        from tests.inventory.test_stock_push import _brick_item, _push_on, _shop, _sku_item

        self.app, self.org, _, self.conns = _shop()
        self.transport = FaultyTransport(self.app)
        _push_on(*self.conns.values())
        self.brick, self.bl_lot, self.bo_lot = _brick_item(self.org, self.conns)
        self.sku, self.listing, self.offer = _sku_item(self.org, self.conns)
        # Every other row off these items' connections is left alone: only these four are linked to them.
        stock_push_drain(transport=self.transport)  # the links' own pushes
        self.brick.refresh_from_db()
        self.sku.refresh_from_db()
        self.start = {"brick": self.brick.quantity_on_hand, "sku": self.sku.quantity_on_hand}
        self.sim_start = {m: self.sim_quantity(m) for m in PUSH_MARKETPLACES}

    def fresh_example(self) -> None:
        """Each example's database changes are rolled back, the simulator's are not: put its four rows back."""
        for marketplace, quantity in self.sim_start.items():
            self.set_sim_quantity(marketplace, quantity)
        self.app["bricklink"].quantity_updates.clear()
        self.adjusted = {"brick": 0, "sku": 0}

    # the marketplaces' side ----------------------------------------------------------------------------
    def sim_quantity(self, marketplace: str) -> int:
        if marketplace == "bricklink":
            return self.app["bricklink"].lots[int(self.bl_lot.external_id)]["quantity"]
        if marketplace == "brickowl":
            return int(self.app["brickowl"].lots[self.bo_lot.external_id]["qty"])
        if marketplace == "backmarket":
            return int(self.app["backmarket"]._listing(self.listing.external_id)["quantity"])
        return self.app["refurbed"].offers[int(self.offer.external_id)]["stock"]

    def sold_there(self, marketplace: str, quantity: int) -> None:
        """The marketplace lowers its own quantity on a sale (what a push must never undo twice)."""
        self.set_sim_quantity(marketplace, max(0, self.sim_quantity(marketplace) - quantity))

    def set_sim_quantity(self, marketplace: str, left: int) -> None:
        if marketplace == "bricklink":
            self.app["bricklink"].lots[int(self.bl_lot.external_id)]["quantity"] = left
        elif marketplace == "brickowl":
            self.app["brickowl"].lots[self.bo_lot.external_id]["qty"] = str(left)
        elif marketplace == "backmarket":
            self.app["backmarket"]._listing(self.listing.external_id)["quantity"] = left
        else:
            self.app["refurbed"].offers[int(self.offer.external_id)]["stock"] = left

    # our side ---------------------------------------------------------------------------------------------
    def store(self, order: PushOrder) -> None:
        connection = self.conns[order.marketplace]
        marketplace_status = {"new": "PAID", "cancelled": "CANCELLED", "shipped": "SHIPPED"}[order.status]
        if order.marketplace in ("bricklink", "brickowl"):
            lot = self.bl_lot if order.marketplace == "bricklink" else self.bo_lot
            record = OrderRecord(
                external_id=order.external_id, status=order.status, marketplace_status=marketplace_status, currency="EUR",
                placed_at=FUTURE, items=[OrderItemRecord(
                    external_id=f"{order.external_id}:1", status=order.status, marketplace_status=marketplace_status,
                    quantity=order.quantity, unit_price=Decimal("0.1000"), listing_ref=lot.external_id,
                    part_number=self.brick.part_number, color_id=self.brick.color_id, condition=self.brick.condition,
                    location=self.brick.location)],
            )
            brick_order_upsert_page(connection=connection, records=[record])
        else:
            row = self.listing if order.marketplace == "backmarket" else self.offer
            record = OrderRecord(
                external_id=order.external_id, status="accepted", marketplace_status="3", placed_at=FUTURE, items=[
                    OrderItemRecord(external_id=f"{order.external_id}1", status=order.status, marketplace_status="1",
                                    sku=self.sku.sku, quantity=order.quantity, listing_ref=row.external_id)],
            )
            order_upsert_page(connection=connection, records=[record])
        if order.state == "none" and order.status == "new":
            order.state = "open"
        if order.state == "open":
            if order.status == "cancelled":
                order.state = "released"
            elif order.status == "shipped":
                order.state = "consumed"
            else:
                order.held = order.quantity

    def drain(self, fault: str, marketplace: str) -> None:
        call = PUSH_CALL[marketplace]
        if fault == "crash_after_send":
            self.transport.crash_after.add(call)
        elif fault == "transient":
            self.transport.fail_before[call] = 1
        elif fault == "auth":
            self.transport.unauthorized.add(call)
        stock_push_drain(transport=self.transport)
        self.transport.crash_after.clear()
        self.transport.fail_before.clear()
        self.transport.unauthorized.clear()

    def check(self, orders: list[PushOrder]) -> None:
        assert inventory_check(organization=self.org) == []
        for key, item, marketplaces in (("brick", self.brick, ("bricklink", "brickowl")),
                                        ("sku", self.sku, ("backmarket", "refurbed"))):
            mine = [o for o in orders if o.marketplace in marketplaces]
            item.refresh_from_db()
            expected_reserved = sum(o.held for o in mine if o.state == "open")
            expected_on_hand = self.start[key] + self.adjusted[key] - sum(o.held for o in mine if o.state == "consumed")
            assert (item.quantity_on_hand, item.quantity_reserved) == (expected_on_hand, expected_reserved), key

    def converge(self) -> None:
        """Faults over: the owner replaces the credentials that were refused; the outbox drains to empty."""
        from connections.services import connection_rotate_credentials

        for connection in self.conns.values():
            connection.refresh_from_db()
            if EntitySync.objects.filter(connection=connection, error_kind="auth").exists():
                connection_rotate_credentials(connection=connection, credentials=dict(connection.credentials))
        for _ in range(5):
            StockPush.objects.filter(state="pending").update(next_attempt_at=timezone.now())
            stock_push_drain(transport=self.transport)
            if not StockPush.objects.filter(state="pending").exists():
                break
        assert not StockPush.objects.filter(state__in=["pending", "failed"]).exists(), list(
            StockPush.objects.exclude(state="sent").values_list("target_kind", "state", "last_error"))

    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(push_event, min_size=1, max_size=8))
    def test_every_linked_quantity_ends_at_local_available(self, events):
        self.fresh_example()
        orders: list[PushOrder] = []
        for ev in events:
            kind = ev[0]
            if kind == "order":
                order = PushOrder(marketplace=ev[1], external_id=f"P{len(orders) + 1}", quantity=ev[2])
                orders.append(order)
                self.sold_there(order.marketplace, order.quantity)
                self.store(order)
            elif kind == "adjust":
                item = self.brick if ev[1] == "brick" else self.sku
                item.refresh_from_db()
                if ev[2] and item.quantity_on_hand + ev[2] >= item.quantity_reserved:
                    inventory_adjust(organization=self.org, item_id=item.pk, delta=ev[2], reason="recount")
                    self.adjusted[ev[1]] += ev[2]
            elif kind == "drain":
                self.drain(ev[1], ev[2])
            elif orders:
                order = orders[ev[1] % len(orders)]
                if kind == "amend":
                    order.quantity = ev[2]
                elif kind == "cancel":
                    order.status = "cancelled"
                elif kind == "ship":
                    order.status = "shipped"
                self.store(order)
                if kind == "duplicate":
                    self.store(order)
            self.check(orders)
        self.converge()
        self.check(orders)
        for marketplace in PUSH_MARKETPLACES:
            item = self.brick if marketplace in ("bricklink", "brickowl") else self.sku
            item.refresh_from_db()
            assert self.sim_quantity(marketplace) == max(0, item.quantity_available), marketplace
        # No lot, listing or offer deleted; every BrickLink delta was computed from a fresh read of the lot.
        assert self.app["bricklink"].deleted_lots == []
        assert self.bo_lot.external_id in self.app["brickowl"].lots
        assert int(self.offer.external_id) in self.app["refurbed"].offers
        assert self.app["backmarket"]._listing(self.listing.external_id) is not None
