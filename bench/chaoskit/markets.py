"""One driver per marketplace: what the chaos suite needs to know of each simulator and each local table.

A driver says which entities a connection syncs, how to connect to the simulator, which fault knobs the
marketplace has, which changes a schedule can make at the marketplace (through the simulator's control
actions or its merchant API, never through our code), where the records sit in its responses (for the
hostile layer), and two views to compare after a schedule: ``truth`` (what the simulator holds now, in the
form our tables store it) and ``local`` (what the connection's tables hold).

Both views are ``{kind: {external id: Fact}}``; a fact's ``owner`` is the marketplace record a bad record
would be named by (an item's order, a lot itself) and ``value`` what must match (a status, a quantity).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from bench.chaoskit.hostile import HostileKind, RawNumber, both, drop_field, set_field
from marketsync.simulator.core import simulator_token

Truth = dict[str, dict[str, "Fact"]]

HUGE_AMOUNTS = ("99999999999.00", RawNumber("1e400"), "1e20")
LONG_COLOUR = "9" * 40


@dataclass(frozen=True)
class Fact:
    owner: str
    value: Any = None
    placed_at: datetime | None = None
    optional: bool = False  # the marketplace does not list it: it need not be stored, but if stored must match


# The truth kinds each entity fills; a hostile record of the entity exempts its facts in these kinds.
ENTITY_KINDS = {
    "orders": ("orders", "items"),
    "inventory": ("lots",),
    "listings": ("listings",),
    "offers": ("offers",),
    "market_offers": ("market_offers",),
    "deliveries": ("deliveries",),
    "returns": ("returns",),
}


def _local_orders(connection, *, item_value) -> Truth:
    from orders.models import Order, OrderItem

    orders = {
        ext: Fact(ext, status, placed)
        for ext, status, placed in Order.objects.filter(connection=connection).values_list("external_id", "marketplace_status", "placed_at")
    }
    items = {}
    rows = OrderItem.objects.filter(connection=connection).values(
        "external_id", "marketplace_status", "quantity", "details", "order__external_id"
    )
    for row in rows:
        items[row["external_id"]] = Fact(row["order__external_id"], item_value(row))
    return {"orders": orders, "items": items}


def _local_lots(connection) -> Truth:
    from inventory.models import InventoryLot

    rows = InventoryLot.objects.filter(connection=connection, removed_at__isnull=True).values_list("external_id", "marketplace_quantity")
    return {"lots": {ext: Fact(ext, quantity) for ext, quantity in rows}}


class Driver:
    name = ""
    prefix = ""
    path = ""  # the API root under the simulator's prefix
    entities: tuple[str, ...] = ()  # in tick order
    auth_faults: tuple[str, ...] = ()  # besides the simulator's rate-based FAULT_KINDS
    hostile: tuple[HostileKind, ...] = ()
    platform = ""
    options: dict = {}

    def sync_requests(self, entity: str, orders: int) -> int:
        """About how many requests a first sync of ``entity`` makes (where a crash-kill can land)."""
        return 2

    def base_url(self, host: str) -> str:
        return f"{host}/{self.prefix}{self.path}"

    def credentials(self, seed: int) -> dict[str, str]:
        return {"api_key": simulator_token(self.name, seed)}

    def truth(self, sim) -> Truth:
        raise NotImplementedError

    def local(self, connection) -> Truth:
        raise NotImplementedError

    def change(self, sim, rng: random.Random) -> str:
        """One change at the marketplace, as its own actors would make it; returns what was done."""
        raise NotImplementedError

    def new_order(self, sim) -> str:
        raise NotImplementedError

    def locate(self, method: str, path: str, request: dict, data: Any) -> Iterator[tuple[str, str, dict]]:
        return iter(())

    def auth_fault(self, sim, kind: str, count: int) -> None:
        sim.faults.force(kind, count)

    def auth_faults_off(self, sim) -> None:
        sim.faults.forced.clear()

    def after_sync(self, entity: str, *, connection, transport) -> None:
        """What the beat runs besides the entity syncs, in a tick's order (Brick Owl's catalog run)."""


# --- Refurbed -----------------------------------------------------------------------------------------------


class Refurbed(Driver):
    name = prefix = "refurbed"
    entities = ("orders", "offers", "market_offers")
    auth_faults = ("unauthorized", "forbidden")
    hostile = (
        HostileKind("orders", "order", "total_charged 99999999999.00", set_field("total_charged", "99999999999.00")),
        HostileKind("orders", "order", "total_charged 1e400", set_field("total_charged", RawNumber("1e400"))),
        HostileKind("orders", "order", "unknown state TELEPORTED", set_field("state", "TELEPORTED")),
        HostileKind("orders", "order", "NUL byte in the e-mail", set_field("customer_email", "anna\x00@example.com")),
        HostileKind("orders", "order", "released_at missing", drop_field("released_at")),
        HostileKind("orders", "item", "item total_charged 1e20", set_field("total_charged", "1e20")),
        HostileKind("offers", "offer", "stock 10**12", set_field("stock", 10**12)),
        HostileKind("offers", "offer", "reference_price 1e20", set_field("reference_price", "1e20")),
        HostileKind("offers", "offer", "stock -4", set_field("stock", -4)),
    )

    def sync_requests(self, entity: str, orders: int) -> int:
        return {"orders": orders // 100 + 1, "offers": 2, "market_offers": 3}.get(entity, 2)

    def truth(self, sim) -> Truth:
        from marketsync.simulator.refurbed import from_ms, order_state

        orders, items = {}, {}
        for index, oid in enumerate(sim.order_ids):
            states = sim.item_states[index]
            orders[str(oid)] = Fact(str(oid), order_state(states), from_ms(sim.released[index]))
            for k, state in enumerate(states):
                items[str(oid * 10 + k)] = Fact(str(oid), state)
        offers = {str(oid): Fact(str(oid), offer["stock"]) for oid, offer in sim.offers.items()}
        market_offers = {f"{oid}:{code}": Fact(str(oid)) for oid, offer in sim.offers.items() for code in offer["_markets"]}
        return {"orders": orders, "items": items, "offers": offers, "market_offers": market_offers}

    def local(self, connection) -> Truth:
        from offers.models import MarketOffer, Offer

        view = _local_orders(connection, item_value=lambda row: row["marketplace_status"])
        view["offers"] = {
            ext: Fact(ext, stock)
            for ext, stock in Offer.objects.filter(connection=connection, removed_at__isnull=True).values_list("external_id", "stock")
        }
        view["market_offers"] = {
            ext: Fact(offer)
            for ext, offer in MarketOffer.objects.filter(connection=connection, removed_at__isnull=True)
            .values_list("external_id", "offer_external_id")
        }
        return view

    def new_order(self, sim) -> str:
        return sim.control("add_orders", {"count": 1})["ids"][0]

    def change(self, sim, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.25:
            return f"new order {self.new_order(sim)}"
        # An item moves on: accepted, shipped, cancelled, or a shipped item returned (fulfilled orders too).
        index = len(sim.order_ids) - 1 - rng.randrange(min(len(sim.order_ids), 120))
        states = sim.item_states[index]
        k = rng.randrange(len(states))
        following = {"NEW": ["ACCEPTED", "CANCELLED", "REJECTED"], "ACCEPTED": ["SHIPPED", "CANCELLED"], "SHIPPED": ["RETURNED"]}
        options = following.get(states[k])
        if not options:
            return "nothing (final item)"
        target = rng.choice(options)
        item_id = sim.order_ids[index] * 10 + k
        sim.control("set_item_state", {"id": item_id, "state": target})
        return f"item {item_id} {states[k] if states[k] != target else ''}→{target}"

    def locate(self, method, path, request, data):
        if not isinstance(data, dict):
            return
        method_name = path.rsplit("/", 1)[-1]
        if method_name in ("ListOrders", "GetOrder"):
            orders = data.get("orders") if method_name == "ListOrders" else [data.get("order")]
            for order in orders or []:
                if isinstance(order, dict):
                    yield "order", str(order.get("id")), order
                    for item in order.get("items") or []:
                        yield "item", str(order.get("id")), item
        elif method_name in ("ListOrderItemsByOrder", "GetOrderItem"):
            items = data.get("order_items") if method_name == "ListOrderItemsByOrder" else [data.get("order_item")]
            for item in items or []:
                if isinstance(item, dict):
                    yield "item", str(item.get("order_id")), item
        elif method_name in ("ListOffers", "GetOffer"):
            offers = data.get("offers") if method_name == "ListOffers" else [data.get("offer")]
            for offer in offers or []:
                if isinstance(offer, dict):
                    yield "offer", str(offer.get("id")), offer


# --- Back Market --------------------------------------------------------------------------------------------


class BackMarket(Driver):
    name = prefix = "backmarket"
    entities = ("orders", "listings", "deliveries", "returns")
    auth_faults = ("unauthorized", "waf")
    platform = "eu"
    options = {"locale": "fr-fr"}
    hostile = (
        HostileKind("orders", "order", "price 1e20", set_field("price", "1e20")),
        HostileKind("orders", "order", "price 1e400", set_field("price", RawNumber("1e400"))),
        HostileKind("orders", "order", "unknown state 77", set_field("state", 77)),
        HostileKind("orders", "order", "NUL byte in the first name", set_field("shipping_address.first_name", "Cam\x00ille")),
        HostileKind("orders", "order", "date_creation missing", drop_field("date_creation")),
        HostileKind("orders", "item", "line quantity -4", set_field("quantity", -4)),
        HostileKind("orders", "item", "line quantity 10**12", set_field("quantity", 10**12)),
        HostileKind("listings", "listing", "quantity 10**12", set_field("quantity", 10**12)),
        HostileKind("listings", "listing", "price 99999999999.00", set_field("price", "99999999999.00")),
        HostileKind("listings", "listing", "quantity -4", set_field("quantity", -4)),
    )
    def sync_requests(self, entity: str, orders: int) -> int:
        return {"orders": orders // 50 + 1, "listings": 2, "deliveries": orders // 3, "returns": 3}.get(entity, 2)

    def truth(self, sim) -> Truth:
        orders, items = {}, {}
        for order_id, order in sim.orders.items():
            if order["state"] == 0:
                continue  # GET /ws/orders never lists a new, unpaid order
            # State 8 (not paid) is listed only when asked for: an order stored before its payment failed must
            # follow, one never stored need not be.
            optional = order["state"] == 8
            orders[str(order_id)] = Fact(str(order_id), str(order["state"]), order["date_creation"], optional)
            for line_id in order["lines"]:
                line = sim.lines[line_id]
                items[str(line_id)] = Fact(str(order_id), (str(line["state"]), line["quantity"]), optional=optional)
        listings = {listing["id"]: Fact(listing["id"], listing["quantity"]) for listing in sim.listings}
        deliveries = {str(k): Fact(str(k)) for k in sim.deliveries}
        returns = {str(k): Fact(str(k)) for k in sim.returns}
        return {"orders": orders, "items": items, "listings": listings, "deliveries": deliveries, "returns": returns}

    def local(self, connection) -> Truth:
        from backship.models import Delivery, Return
        from listings.models import Listing

        view = _local_orders(connection, item_value=lambda row: (row["marketplace_status"], row["quantity"]))
        listed = Listing.objects.filter(connection=connection, removed_at__isnull=True).values_list("external_id", "quantity")
        view["listings"] = {ext: Fact(ext, quantity) for ext, quantity in listed}
        for kind, model in (("deliveries", Delivery), ("returns", Return)):
            view[kind] = {ext: Fact(ext) for ext in model.objects.filter(connection=connection).values_list("external_id", flat=True)}
        return view

    def _merchant_call(self, sim, method: str, path: str, body: dict) -> int:
        """A call of Back Market's merchant API straight into the simulator (no faults, no hostile layer)."""
        builder = EnvironBuilder(
            path=f"/{self.prefix}{path}", method=method, json=body, base_url="http://sim/",
            headers={"Authorization": f"Basic {sim.token}", "User-Agent": "BM-chaos;chaos@example.invalid"},
        )
        with sim.lock:
            return sim.handle(Request(builder.get_environ()), path).status_code

    def new_order(self, sim) -> str:
        return str(sim.control("new_order", {"backship": True})["order_id"])

    def change(self, sim, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.2:
            return f"new order {self.new_order(sim)}"
        pending = [o for o in sim.orders.values() if o["state"] == 10]
        if roll < 0.25 and pending:
            order = rng.choice(sorted(pending, key=lambda o: o["order_id"]))
            sim.control("payment_failed", {"order_id": order["order_id"]})
            return f"order {order['order_id']} payment failed"
        if roll < 0.35:
            listing = sim.listings[rng.randrange(len(sim.listings))]
            listing["quantity"] = max(0, listing["quantity"] + rng.randint(-3, 5))  # edited in the back office
            return f"listing {listing['sku']} quantity {listing['quantity']}"
        recent = sorted(sim.orders)[-60:]
        order = sim.orders[rng.choice(recent)]
        lines = [sim.lines[i] for i in order["lines"]]
        open_lines = [line for line in lines if line["state"] == 1]
        if open_lines and order["state"] == 1:
            line = rng.choice(open_lines)
            state = 2 if rng.random() < 0.8 else 4
            status = self._merchant_call(sim, "POST", f"/ws/orders/{order['order_id']}", {"order_id": order["order_id"],
                                                                                           "new_state": state, "sku": line["listing"]})
            return f"order {order['order_id']} line {line['id']} → {state} ({status})"
        if order["state"] == 3:
            status = self._merchant_call(sim, "POST", f"/ws/orders/{order['order_id']}", {
                "order_id": order["order_id"], "new_state": 3, "tracking_number": f"1Z{order['order_id']}",
                "tracking_url": "https://www.ups.com/track?tracknum=1", "shipper": "UPS"})
            return f"order {order['order_id']} shipped ({status})"
        shipped = [line for line in lines if line["state"] == 3]
        if shipped:
            line = shipped[0]
            status = self._merchant_call(sim, "POST", f"/ws/orders/{order['order_id']}", {
                "order_id": order["order_id"], "new_state": 6, "sku": line["listing"], "return_reason": 21})
            return f"order {order['order_id']} line {line['id']} returned ({status})"
        return "nothing"

    def auth_fault(self, sim, kind: str, count: int) -> None:
        if kind == "waf":
            sim.control("waf", {"count": count, "form": "html" if count % 2 else "challenge"})
        else:
            sim.control("unauthorized", {"count": count})

    def auth_faults_off(self, sim) -> None:
        sim.forced_waf.clear()
        sim.forced_unauthorized = 0
        sim.faults.forced.clear()

    def locate(self, method, path, request, data):
        tail = path[len(f"/{self.prefix}"):]
        if method != "GET" or not isinstance(data, dict):
            return
        if tail == "/ws/orders" or re.fullmatch(r"/ws/orders/\d+", tail):
            for order in (data.get("results") or []) if tail == "/ws/orders" else [data]:
                if isinstance(order, dict):
                    yield "order", str(order.get("order_id")), order
                    for line in order.get("orderlines") or []:
                        yield "item", str(order.get("order_id")), line
        elif tail == "/ws/listings" or re.fullmatch(r"/ws/listings/[^/]+", tail):
            for listing in (data.get("results") or []) if tail == "/ws/listings" else [data]:
                if isinstance(listing, dict):
                    yield "listing", str(listing.get("id")), listing


# --- BrickLink ----------------------------------------------------------------------------------------------


# BrickLink's order flow; a schedule moves orders forward along it (or cancels them before shipping).
BL_FLOW = ["PENDING", "PAID", "PACKED", "SHIPPED", "RECEIVED", "COMPLETED"]


class BrickLink(Driver):
    name = prefix = "bricklink"
    path = "/api/store/v1"
    entities = ("inventory", "orders")
    auth_faults = ("unauthorized", "forbidden", "ip_mismatch")
    hostile = (
        HostileKind("orders", "order", "grand_total 1e20", set_field("cost.grand_total", "1e20")),
        HostileKind("orders", "order", "unknown status TELEPORTED", set_field("status", "TELEPORTED")),
        HostileKind("orders", "order", "NUL byte in the buyer name", set_field("buyer_name", "brick\x00fan")),
        HostileKind("orders", "item", "item quantity -4", set_field("quantity", -4)),
        HostileKind("orders", "item", "40-character color_id", set_field("color_id", LONG_COLOUR)),
        HostileKind("orders", "item", "item quantity 10**12", set_field("quantity", 10**12)),
        HostileKind("inventory", "lot", "lot quantity 10**12", set_field("quantity", 10**12)),
        HostileKind("inventory", "lot", "40-character color_id", set_field("color_id", LONG_COLOUR)),
        HostileKind("inventory", "lot", "lot quantity -4", set_field("quantity", -4)),
    )

    def sync_requests(self, entity: str, orders: int) -> int:
        return 1 + 2 * orders if entity == "orders" else 1

    def credentials(self, seed: int) -> dict[str, str]:
        return {p: simulator_token("bricklink", seed, p) for p in ("consumer_key", "consumer_secret", "token_value", "token_secret")}

    def truth(self, sim) -> Truth:
        orders, items = {}, {}
        for order_id, order in sim.orders.items():  # filed ones too: they leave the default list, not the store
            orders[str(order_id)] = Fact(str(order_id), order["status"], order["date_ordered"])
            seen: dict[str, int] = {}
            for batch in order["batches"]:
                for line in batch:
                    key = f"{order_id}:{line['inventory_id']}"  # the item id our mapping gives a line (BrickLink has none)
                    seen[key] = seen.get(key, 0) + 1
                    items[key if seen[key] == 1 else f"{key}:{seen[key]}"] = Fact(str(order_id), line["quantity"])
        lots = {str(lot_id): Fact(str(lot_id), lot["quantity"]) for lot_id, lot in sim.lots.items()}
        return {"orders": orders, "items": items, "lots": lots}

    def local(self, connection) -> Truth:
        return {**_local_orders(connection, item_value=lambda row: row["quantity"]), **_local_lots(connection)}

    def new_order(self, sim) -> str:
        return str(sim.control("new_order", {"hold": False})["order_id"])

    def change(self, sim, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.2:
            return f"new order {self.new_order(sim)}"
        order = sim.orders[rng.choice(sorted(sim.orders)[-60:])]
        order_id, status = order["order_id"], order["status"]
        if roll < 0.35 and status in ("PENDING", "PAID", "PACKED"):
            line = order["batches"][0][0]
            quantity = max(1, line["quantity"] + rng.choice((-1, 1, 2)))
            sim.control("set_quantity", {"order_id": order_id, "batch": 0, "line": 0, "quantity": quantity})
            return f"order {order_id} first line quantity {quantity}"
        if roll < 0.45 and status in ("PENDING", "PAID"):
            sim.control("amend", {"order_id": order_id, "quantity": rng.randint(1, 3)})
            return f"order {order_id} amended"
        if roll < 0.55 and status in ("PENDING", "PAID", "PACKED"):
            sim.control("cancel", {"order_id": order_id})
            return f"order {order_id} cancelled"
        if roll < 0.6:
            sim.control("file", {"order_id": order_id, "filed": not order["is_filed"]})
            return f"order {order_id} {'filed' if not order['is_filed'] else 'unfiled'}"
        later = BL_FLOW[BL_FLOW.index(status) + 1:] if status in BL_FLOW else []
        if not later:
            return f"nothing (order {order_id} is {status})"
        target = later[0] if rng.random() < 0.7 else rng.choice(later)
        sim.control("set_status", {"order_id": order_id, "status": target})
        return f"order {order_id} {status} → {target}"

    def auth_fault(self, sim, kind: str, count: int) -> None:
        if kind == "ip_mismatch":
            sim.control("ip_mismatch", {"on": True})
        else:
            sim.faults.force(kind, count)

    def auth_faults_off(self, sim) -> None:
        sim.control("ip_mismatch", {"on": False})
        sim.faults.forced.clear()

    def locate(self, method, path, request, data):
        tail = path[len(f"/{self.prefix}{self.path}"):]
        payload = data.get("data") if isinstance(data, dict) else None
        if tail == "/orders" and isinstance(payload, list):
            for order in payload:
                if isinstance(order, dict):
                    yield "order", str(order.get("order_id")), order
        elif (match := re.fullmatch(r"/orders/(\d+)", tail)) and isinstance(payload, dict):
            yield "order", match.group(1), payload
        elif (match := re.fullmatch(r"/orders/(\d+)/items", tail)) and isinstance(payload, list):
            for batch in payload:
                for item in batch if isinstance(batch, list) else []:
                    if isinstance(item, dict):
                        yield "item", match.group(1), item
        elif tail == "/inventories" and isinstance(payload, list):
            for lot in payload:
                if isinstance(lot, dict):
                    yield "lot", str(lot.get("inventory_id")), lot


# --- Brick Owl ----------------------------------------------------------------------------------------------


class BrickOwl(Driver):
    name = prefix = "brickowl"
    path = "/v1"
    entities = ("inventory", "orders")
    auth_faults = ("unauthorized", "forbidden")
    hostile = (
        HostileKind("orders", "order", "base_order_total 1e20", set_field("base_order_total", "1e20")),
        HostileKind("orders", "order", "unknown status 99", both(set_field("status_id", "99"), set_field("status", "Teleported"))),
        HostileKind("orders", "order", "NUL byte in the buyer name", set_field("buyer_name", "studs\x00up")),
        HostileKind("orders", "item", "ordered_quantity 10**12", set_field("ordered_quantity", str(10**12))),
        HostileKind("orders", "item", "40-character color_id", set_field("color_id", LONG_COLOUR)),
        HostileKind("orders", "item", "ordered_quantity -4", set_field("ordered_quantity", "-4")),
        HostileKind("inventory", "lot", "qty -4", set_field("qty", "-4")),
        HostileKind("inventory", "lot", "qty 10**12", set_field("qty", str(10**12))),
        HostileKind("inventory", "lot", "60-character boid", set_field("boid", "400000-" + "9" * 53)),
    )

    def sync_requests(self, entity: str, orders: int) -> int:
        return 1 + 2 * orders if entity == "orders" else 1

    def truth(self, sim) -> Truth:
        from marketsync.simulator.brickowl import STATUSES

        orders, items = {}, {}
        for order_id, order in sim.orders.items():
            orders[order_id] = Fact(order_id, STATUSES[order["status_id"]], order["placed"])
            for line in order["items"]:
                items[line["order_item_id"]] = Fact(order_id, (line["quantity"], line.get("refunded", 0)))
        lots = {lot_id: Fact(lot_id, int(lot["qty"])) for lot_id, lot in sim.lots.items()}
        return {"orders": orders, "items": items, "lots": lots}

    def local(self, connection) -> Truth:
        from inventory.models import UnmappedLot

        def item_value(row) -> tuple[int, int]:
            return row["quantity"], int((row["details"] or {}).get("refunded_quantity") or 0)

        view = _local_orders(connection, item_value=item_value)
        view.update(_local_lots(connection))
        # A lot Brick Owl's catalog cannot translate yet waits in the unmapped queue, named, not lost.
        waiting = UnmappedLot.objects.filter(connection=connection).values_list("external_id", "quantity")
        view["lots"].update({ext: Fact(ext, quantity) for ext, quantity in waiting})
        return view

    def after_sync(self, entity: str, *, connection, transport) -> None:
        if entity == "inventory":  # the beat's catalog run: lots in BrickLink's terms before orders reserve
            from inventory.catalog_sync import catalog_refresh

            catalog_refresh(connection=connection, transport=transport)

    def new_order(self, sim) -> str:
        return str(sim.control("new_order", {"hold": False})["order_id"])

    def change(self, sim, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.2:
            return f"new order {self.new_order(sim)}"
        order = sim.orders[rng.choice(sorted(sim.orders, key=int)[-60:])]
        order_id, status = order["order_id"], order["status_id"]
        if roll < 0.4 and status < 5:
            line = order["items"][0]
            quantity = max(1, line.get("refunded", 0), line["quantity"] + rng.choice((-1, 1, 2)))
            sim.control("set_quantity", {"order_id": order_id, "line": 0, "quantity": quantity})
            return f"order {order_id} first line quantity {quantity}"
        if roll < 0.5 and (status < 5 or status == 7):
            sim.control("cancel", {"order_id": order_id})
            return f"order {order_id} cancelled"
        if roll < 0.6 and 2 <= status <= 6:
            line = order["items"][0]
            refunded = rng.randint(1, line["quantity"])
            sim.control("refund_line", {"order_id": order_id, "line": 0, "quantity": refunded})
            return f"order {order_id} first line {refunded} refunded"
        # Forward only: paid, processing, processed, shipped, received; on hold and back while not shipped.
        later = [s for s in (2, 3, 4, 5, 6) if s > status] if status != 7 else [3, 4]
        if 2 <= status <= 4:
            later.append(7)
        if status == 8 or not later:
            return f"nothing (order {order_id} is {status})"
        target = later[0] if rng.random() < 0.6 else rng.choice(later)
        sim.control("set_status", {"order_id": order_id, "status_id": target})
        return f"order {order_id} {status} → {target}"

    def locate(self, method, path, request, data):
        tail = path[len(f"/{self.prefix}{self.path}"):]
        if tail == "/order/list" and isinstance(data, list):
            for order in data:
                if isinstance(order, dict):
                    yield "order", str(order.get("order_id")), order
        elif tail == "/order/view" and isinstance(data, dict):
            yield "order", str(data.get("order_id")), data
        elif tail == "/order/items" and isinstance(data, list):
            for item in data:
                if isinstance(item, dict):
                    yield "item", str(request["query"].get("order_id")), item
        elif tail == "/inventory/list" and isinstance(data, list):
            for lot in data:
                if isinstance(lot, dict):
                    yield "lot", str(lot.get("lot_id")), lot


DRIVERS: dict[str, Driver] = {d.name: d for d in (Refurbed(), BackMarket(), BrickLink(), BrickOwl())}
