"""How to build, for each object-bearing URL pattern, an object that belongs to ANOTHER organization.

``tests/web/test_tenant_isolation.py`` walks every URL pattern of the project. A pattern with URL
arguments must be listed here, keyed by its URL name (``namespace:name``):

- ``FACTORIES[name](victim) -> kwargs``: builds (or reuses) one of the victim organization's objects and
  returns the URL kwargs naming it. The attacker (an owner of another organization) must get a 404 for it,
  on GET and on POST (a 405 for a method the view refuses is fine: it says nothing about the object).
- ``PARAMETER_PAGES[name] -> kwargs``: arguments that name no object (a marketplace, a kind); the page is
  treated as a list page and must show none of the victim's rows.
- ``SKIP[name] -> reason``: not a merchant session page (admin, webhooks authenticated by token).

A new pattern in none of these makes the test fail, naming it: add its factory here.
Every victim row carries the marker ``VICTIM`` so list pages and exports can be searched for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connections.models import Connection, Organization
from orders.models import Order, OrderItem
from tests.factories import make_connection
from tests.web.builders import make_orders

MARKER = "VICTIM"


@dataclass
class Victim:
    organization: Organization
    connections: dict[str, Connection] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    def connection(self, marketplace: str = "refurbed") -> Connection:
        if marketplace not in self.connections:
            self.connections[marketplace] = make_connection(self.organization, marketplace)
        return self.connections[marketplace]

    def order(self, marketplace: str = "refurbed") -> Order:
        key = f"order:{marketplace}"
        if key not in self.cache:
            prefix = f"{MARKER}-{marketplace[:2].upper()}-"
            make_orders(self.connection(marketplace), 2, prefix=prefix, customer=f"{MARKER} Customer")
            self.cache[key] = Order.objects.filter(connection=self.connection(marketplace)).order_by("id").first()
        return self.cache[key]

    def item(self, marketplace: str = "refurbed") -> OrderItem:
        return self.order(marketplace).items.order_by("id").first()

    def once(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]


def populate(victim: Victim) -> None:
    """Rows every list page could leak: orders on each marketplace, plus whatever the factories build."""
    from connections.models import AuditEntry

    for marketplace in ("refurbed", "backmarket", "bricklink", "brickowl"):
        order = victim.order(marketplace)
        AuditEntry.objects.create(
            organization=victim.organization, connection=victim.connection(marketplace), order=order, actor="test",
            action=f"{MARKER}_action", target_type="order", target_id=order.external_id, outcome="success",
            request_summary={"note": MARKER},
        )


FACTORIES: dict[str, Callable[[Victim], dict]] = {}
PARAMETER_PAGES: dict[str, dict] = {}
SKIP: dict[str, str] = {
    "webhook_bricklink": "a marketplace push, authenticated by the connection's secret token, not by a session",
    "webhook_brickowl": "a marketplace push, authenticated by the connection's secret token, not by a session",
    "webhook_refurbed": "a marketplace push, authenticated by the connection's secret token, not by a session",
    "inventory_moved_from_listings": "a permanent redirect of the old /listings/inventory/ addresses that reads no row; "
                                     "the inventory: pages it leads to are walked themselves",
}
SKIP_NAMESPACES: dict[str, str] = {
    "admin": "staff only (admin_view sends merchants to the admin login; tested on its own)",
}


def factory(*names: str):
    def register(build: Callable[[Victim], dict]) -> Callable[[Victim], dict]:
        for name in names:
            FACTORIES[name] = build
        return build

    return register


# --- orders and connections (workspace) --------------------------------------------------------------------


@factory("orders:order_detail", "orders:order_refresh")
def _order(victim: Victim) -> dict:
    return {"pk": victim.order().pk}


@factory("orders:ship_batch")
def _ship_batch(victim: Victim) -> dict:
    from orders.models import ShipBatch, ShipBatchOrder

    order = victim.order()
    batch = ShipBatch.objects.create(organization=order.organization, source="csv", filename="victim.csv")
    ShipBatchOrder.objects.create(organization=order.organization, batch=batch, order=order, tracking_number="T1")
    return {"pk": batch.pk}


@factory(
    "connections:connection_rotate", "connections:connection_sync_now", "connections:connection_disconnect",
    "connections:connection_reconnect", "connections:connection_delete", "connections:connection_test",
)
def _connection(victim: Victim) -> dict:
    return {"pk": victim.connection().pk}


@factory("connections:entity_sync_toggle")
def _entity_sync(victim: Victim) -> dict:
    return {"pk": victim.connection().pk, "entity": "orders"}


@factory("connections:entity_sync_skipped_dismiss")
def _entity_sync_skipped(victim: Victim) -> dict:
    connection = victim.connection()
    connection.entity_syncs.filter(entity="orders").update(
        skipped_records=[{"id": f"{MARKER}-SKIPPED", "error": "too long", "at": "2026-01-01T00:00:00+00:00"}])
    return {"pk": connection.pk, "entity": "orders"}


PARAMETER_PAGES["connections:connection_create_form"] = {"marketplace": "refurbed"}


# --- Back Market order actions (orders app; the old /listings/backmarket/orders/ URLs redirect there) -----------


@factory("orders:orderline_identifiers", "orders:orderline_accept", "orders:orderline_cancel")
def _bm_orderline(victim: Victim) -> dict:
    return {"pk": victim.order("backmarket").pk, "item_id": victim.item("backmarket").pk}


@factory("orders:order_ship", "orders:order_invoice", "orders:order_mark_paid", "orders:order_mark_packed")
def _bm_order(victim: Victim) -> dict:
    return {"pk": victim.order("backmarket").pk}


for _old, _new in [
    ("bm_orderline_identifiers", "orderline_identifiers"), ("bm_orderline_accept", "orderline_accept"),
    ("bm_orderline_cancel", "orderline_cancel"), ("bm_order_ship", "order_ship"), ("bm_order_invoice", "order_invoice"),
]:
    SKIP[f"listings:{_old}"] = f"a 308 to orders:{_new} that reads nothing; orders:{_new} is checked"


# --- Back Market listings and bulk tasks ------------------------------------------------------------------------


@factory("listings:listing_detail")
def _listing(victim: Victim) -> dict:
    from listings.models import Listing

    conn = victim.connection("backmarket")
    listing = victim.once("listing", lambda: Listing.objects.create(
        organization=victim.organization, connection=conn, external_id=f"{MARKER}-LISTING-1", sku=f"{MARKER}-LSKU",
        title=f"{MARKER} listing",
    ))
    return {"pk": listing.pk}


@factory("listings:bulk_task_detail")
def _bulk_task(victim: Victim) -> dict:
    from listings.models import BulkListingTask

    conn = victim.connection("backmarket")
    task = victim.once("bulk", lambda: BulkListingTask.objects.create(
        organization=victim.organization, connection=conn, file_name=f"{MARKER}.csv", marketplace_task_id=f"{MARKER}-T1",
    ))
    return {"pk": task.pk}


# --- Back Market deliveries, returns and labels ----------------------------------------------------------------


def _delivery(victim: Victim):
    from backship.models import Delivery

    conn = victim.connection("backmarket")
    return victim.once("delivery", lambda: Delivery.objects.create(
        organization=victim.organization, connection=conn, external_id=f"{MARKER}-DEL-1",
        order=victim.order("backmarket"), tracking_number=f"{MARKER}-TRACK-D",
    ))


def _return(victim: Victim):
    from backship.models import Return

    conn = victim.connection("backmarket")
    return victim.once("return", lambda: Return.objects.create(
        organization=victim.organization, connection=conn, external_id=f"{MARKER}-RET-1",
        order=victim.order("backmarket"), tracking_number=f"{MARKER}-TRACK-R",
    ))


@factory("backship:shipment_detail", "backship:label")
def _shipment(victim: Victim) -> dict:
    # The delivery; the return is checked through EXTRA_TARGETS below.
    return {"kind": "delivery", "pk": _delivery(victim).pk}


# Further objects for a pattern already listed: (name, factory) pairs, each checked like the main one.
EXTRA_TARGETS: list[tuple[str, Callable[[Victim], dict]]] = [
    ("backship:shipment_detail", lambda v: {"kind": "return", "pk": _return(v).pk}),
    ("backship:label", lambda v: {"kind": "return", "pk": _return(v).pk}),
]


# --- Refurbed offers and reference data ---------------------------------------------------------------------


@factory("offers:offer_detail")
def _offer(victim: Victim) -> dict:
    from offers.models import MarketOffer, Offer

    conn = victim.connection("refurbed")

    def build():
        offer = Offer.objects.create(
            organization=victim.organization, connection=conn, external_id="990001", sku=f"{MARKER}-OSKU",
            instance_name=f"{MARKER} phone",
        )
        MarketOffer.objects.create(
            organization=victim.organization, connection=conn, external_id="990001:de", offer_external_id="990001",
            market_code="de", sku=f"{MARKER}-OSKU", instance_name=f"{MARKER} phone",
        )
        return offer

    return {"pk": victim.once("offer", build).pk}


@factory("offers:reference")
def _reference(victim: Victim) -> dict:
    return {"connection_id": victim.connection("refurbed").pk}


# --- brick inventory and its ledger -------------------------------------------------------------------------------


@factory("inventory:inventory_item", "inventory:inventory_item_adjust")
def _inventory_item(victim: Victim) -> dict:
    from inventory.models import InventoryItem, InventoryLot, StockMovement

    conn = victim.connection("bricklink")

    def build():
        item = InventoryItem.objects.create(
            organization=victim.organization, part_number=f"{MARKER}-3001", color_id="5", condition="new",
            name=f"{MARKER} brick", location=f"{MARKER}-BIN", quantity_on_hand=10, version=1,
        )
        InventoryLot.objects.create(
            organization=victim.organization, connection=conn, item=item, external_id="880001",
            marketplace_quantity=10, remarks=f"{MARKER} lot",
        )
        StockMovement.objects.create(
            organization=victim.organization, item=item, sequence=1, kind="adjust", on_hand_before=0, on_hand_after=10,
            reserved_before=0, reserved_after=0, source="test", reason=f"{MARKER} count",
        )
        return item

    return {"pk": victim.once("inventory_item", build).pk}
