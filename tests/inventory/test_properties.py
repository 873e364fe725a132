"""Property test of the reservation ledger against an independent model of what stock should be.

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

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from inventory.models import InventoryItem, InventoryLot, Reservation, StockMovement
from inventory.selectors import inventory_check
from inventory.services import inventory_upsert_lots
from listings.services import listing_upsert_page
from marketsync.marketplaces.backmarket.mapping import ListingRecord
from marketsync.sync.records import LotRecord, OrderItemRecord, OrderRecord
from orders.services import brick_order_upsert_page, order_upsert_page
from tests.factories import make_connection, make_organization

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
