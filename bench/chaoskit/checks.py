"""What is checked after a schedule: convergence, losses, duplicates, the stock ledger, hostile records.

- converged: every record the simulator holds (orders and their items, lots, listings, offers, market offers,
  deliveries, returns) is stored with the simulator's status or quantity — except the records made hostile,
  which are judged on their own, and records outside a freshness window the design states (Refurbed shipped
  orders older than ``REFURBED_SHIPPED_WINDOW_DAYS``), which are counted apart;
- losses: a record stored at some point that is gone while the simulator still has it;
- duplicates: more than one row per marketplace id and connection in any synced table;
- ledger: ``inventory_check`` (reserved = open reservations = ledger), nothing negative (stock figures,
  reservations, and the quantities stored on order items, lots, listings and offers), each open reservation
  holding exactly what its order item needs, none left open on a shipped or cancelled order;
- hostile records: each must be named as a bad record (in a sync's outcome or the entity's error) or stored;
  one neither named nor stored was dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from bench.chaoskit.hostile import HostileRule
from bench.chaoskit.markets import ENTITY_KINDS, Driver, Truth

SHOW = 5  # ids shown per finding


@dataclass
class Verdict:
    missing: dict[str, list[str]] = field(default_factory=dict)
    stale: dict[str, list[str]] = field(default_factory=dict)
    outside_window: dict[str, list[str]] = field(default_factory=dict)
    phantoms: dict[str, list[str]] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return not (self.missing or self.stale or self.phantoms)

    def describe(self) -> list[str]:
        lines = []
        for title, found in (("missing", self.missing), ("stale", self.stale), ("stored but gone at the marketplace", self.phantoms)):
            for kind, entries in sorted(found.items()):
                lines.append(f"{len(entries)} {kind} {title}: {', '.join(entries[:SHOW])}{' …' if len(entries) > SHOW else ''}")
        return lines


def freshness_window(driver: Driver) -> timedelta | None:
    """How far back the design keeps re-reading a marketplace's orders (None: all of them)."""
    if driver.name == "refurbed":
        return timedelta(days=settings.REFURBED_SHIPPED_WINDOW_DAYS)
    return None


def exempt_owners(rules: list[HostileRule]) -> dict[str, set[str]]:
    exempt: dict[str, set[str]] = {}
    for rule in rules:
        for kind in ENTITY_KINDS.get(rule.entity, ()):
            exempt.setdefault(kind, set()).add(rule.owner_id)
    return exempt


def compare(driver: Driver, truth: Truth, local: Truth, rules: list[HostileRule]) -> Verdict:
    verdict = Verdict()
    exempt = exempt_owners(rules)
    hostile_entities = {rule.entity for rule in rules}
    window = freshness_window(driver)
    cutoff = timezone.now() - window if window else None
    placed = {ext: fact.placed_at for ext, fact in truth.get("orders", {}).items()}
    for kind, facts in truth.items():
        stored = local.get(kind, {})
        skip = exempt.get(kind, set())
        for ext, fact in facts.items():
            if fact.owner in skip:
                continue
            if ext not in stored:
                if not fact.optional:
                    verdict.missing.setdefault(kind, []).append(ext)
            elif stored[ext].value != fact.value:
                when = placed.get(fact.owner)
                bucket = verdict.outside_window if cutoff and when and when < cutoff else verdict.stale
                bucket.setdefault(kind, []).append(f"{ext} ({stored[ext].value} here, {fact.value} there)")
        # A sweep with a bad record removes nothing on its account: rows gone at the marketplace then stay.
        if not any(kind in ENTITY_KINDS[e] for e in hostile_entities):
            for ext, fact in stored.items():
                if ext not in facts and fact.owner not in skip:
                    verdict.phantoms.setdefault(kind, []).append(ext)
    return verdict


def vanished(seen: dict[str, set[str]], truth: Truth, local: Truth, rules: list[HostileRule]) -> dict[str, list[str]]:
    """Records stored earlier, still at the marketplace, no longer stored: losses."""
    exempt = exempt_owners(rules)
    lost: dict[str, list[str]] = {}
    for kind, ids in seen.items():
        facts, stored = truth.get(kind, {}), local.get(kind, {})
        for ext in sorted(ids):
            if ext in facts and ext not in stored and facts[ext].owner not in exempt.get(kind, set()):
                lost.setdefault(kind, []).append(ext)
    return lost


def duplicates(connection) -> list[str]:
    from backship.models import Delivery, Return
    from inventory.models import InventoryLot, Reservation
    from listings.models import Listing
    from offers.models import MarketOffer, Offer
    from orders.models import Order, OrderItem

    found = []
    for model in (Order, OrderItem, InventoryLot, Listing, Offer, MarketOffer, Delivery, Return):
        rows = (model.objects.filter(connection=connection).values("external_id").annotate(n=Count("id")).filter(n__gt=1)
                .values_list("external_id", "n"))
        found += [f"{model.__name__} {ext} ×{n}" for ext, n in rows]
    rows = (Reservation.objects.filter(order_item__connection=connection).values("order_item_id").annotate(n=Count("id"))
            .filter(n__gt=1).values_list("order_item_id", "n"))
    found += [f"order item {pk} has {n} reservations" for pk, n in rows]
    return found


def ledger_problems(organization) -> list[str]:
    from inventory.models import InventoryItem, Reservation
    from inventory.selectors import inventory_check
    from inventory.services import RESERVE, stock_effect

    problems = [str(p) for p in inventory_check(organization=organization)]
    for pk, reserved, on_hand in InventoryItem.objects.filter(organization=organization).values_list(
        "pk", "quantity_reserved", "quantity_on_hand"
    ):
        if reserved < 0:
            problems.append(f"item {pk}: reserved {reserved} is negative")
        if on_hand < 0:
            problems.append(f"item {pk}: on hand {on_hand} is negative")
    problems += negative_quantities(organization)
    open_rows = Reservation.objects.filter(organization=organization, state=Reservation.State.OPEN).values_list(
        "pk", "quantity", "order_item__quantity", "order_item__details", "order_item__order__status", "order_item__order__external_id"
    )
    for pk, held, quantity, details, status, order_id in open_rows:
        refunded = int((details or {}).get("refunded_quantity") or 0)
        needed = max(0, quantity - refunded)
        if held < 0:
            problems.append(f"reservation {pk}: holds {held}, a negative quantity")
        elif stock_effect(status) != RESERVE:
            problems.append(f"reservation {pk}: still holds {held} though order {order_id} is {status}")
        elif held != needed:
            problems.append(f"reservation {pk}: holds {held} for an order item of order {order_id} that needs {needed}")
    return problems


def negative_quantities(organization) -> list[str]:
    """Quantities stored below zero: an order item, a lot, a listing or an offer (a sign check missed)."""
    from inventory.models import InventoryLot
    from listings.models import Listing
    from offers.models import Offer
    from orders.models import OrderItem

    found = []
    for model, column in ((OrderItem, "quantity"), (InventoryLot, "marketplace_quantity"), (Listing, "quantity"), (Offer, "stock")):
        rows = model.objects.filter(organization=organization, **{f"{column}__lt": 0}).values_list("external_id", column)[:SHOW]
        found += [f"{model.__name__} {ext}: {column} {value} is negative" for ext, value in rows]
    return found


def _names(text: str, record_id: str) -> bool:
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(record_id)}(?![0-9A-Za-z])", text) is not None


def hostile_outcomes(
    rules: list[HostileRule], texts_by_entity: dict[str, list[str]], truth: Truth, local: Truth
) -> list[tuple[HostileRule, str]]:
    """Per hostile record: 'named' (reported as a bad record), 'stored', 'no longer listed' (gone at the
    marketplace, or hidden from its list), or 'dropped silently'."""
    outcomes = []
    for rule in rules:
        texts = texts_by_entity.get(rule.entity, [])
        if any(_names(text, rule.owner_id) for text in texts):
            outcomes.append((rule, "named"))
            continue
        kind = ENTITY_KINDS[rule.entity][0]
        fact = truth.get(kind, {}).get(rule.owner_id)
        if rule.owner_id in local.get(kind, {}):
            outcomes.append((rule, "stored"))
        elif fact is None or fact.optional:
            outcomes.append((rule, "no longer listed"))
        else:
            outcomes.append((rule, "dropped silently"))
    return outcomes
