"""An idle tick costs the same whatever the data (issue 13 item 3), and a sweep that reads rows unchanged does not
rewrite them (item 2): counted at the transport and with Django's CaptureQueriesContext, on every marketplace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections.models import EntitySync
from marketsync.marketplaces import SUPPORTED_ENTITIES
from marketsync.simulator.core import SimulatorConfig, build_simulator
from marketsync.sync.runner import run_entity_sync
from offers.models import Offer
from orders.models import Order
from tests.factories import make_organization, make_user
from tests.marketplaces.backmarket.helpers import bm_connection
from tests.marketplaces.bricklink.helpers import SEED as BRICK_SEED
from tests.marketplaces.bricklink.helpers import bricklink_connection, brickowl_connection
from tests.marketplaces.refurbed.sim import SEED as REFURBED_SEED
from tests.marketplaces.refurbed.sim import refurbed_connection

pytestmark = pytest.mark.django_db

MARKETPLACES = ("refurbed", "backmarket", "bricklink", "brickowl")
SEEDS = {"refurbed": REFURBED_SEED, "backmarket": 42, "bricklink": BRICK_SEED, "brickowl": BRICK_SEED}
CONNECTIONS = {"refurbed": lambda org: refurbed_connection(org), "backmarket": bm_connection,
               "bricklink": bricklink_connection, "brickowl": brickowl_connection}
# Orders placed an hour before the tick: past every lookback, so a tick that reads them again does so for its cadence.
PLACED_AGO = timedelta(hours=1)


class Counting(httpx.BaseTransport):
    def __init__(self, app) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return self.inner.handle_request(request)


def _world(marketplace: str, open_orders: int):
    """A connection on its own simulator holding ``open_orders`` open orders (and the seeded catalog), synced once;
    then an hour passes (the orders move back in the simulator's data: its clock would also move their states), so
    the next tick finds them past every lookback window and reads them only on their cadence."""
    start = datetime.now(UTC).replace(microsecond=0)
    app = build_simulator(SimulatorConfig(seed=SEEDS[marketplace], orders=0, speed=0, start=start, new_order_every_seconds=0,
                                          marketplaces=(marketplace,)))
    sim = app[marketplace]
    if marketplace == "refurbed":
        if open_orders:
            sim.control("add_orders", {"count": open_orders})
    else:
        for _ in range(open_orders):
            sim.control("new_order", {})
    connection = CONNECTIONS[marketplace](make_organization(f"idle-{marketplace}-{open_orders}"))
    transport = Counting(app)
    for entity in SUPPORTED_ENTITIES[connection.marketplace]:
        _run(connection, entity, transport)
    _older(sim, marketplace)
    return connection, transport


def _older(sim, marketplace: str) -> None:
    """Move the orders an hour back in the simulator's data, as if an hour had passed since they last changed."""
    if marketplace == "refurbed":
        sim.released[:] = [ms - int(PLACED_AGO.total_seconds() * 1000) for ms in sim.released]
    elif marketplace == "backmarket":
        for order in sim.orders.values():
            for key in ("date_creation", "date_modification", "date_payment"):
                if order.get(key):
                    order[key] -= PLACED_AGO


def _run(connection, entity: str, transport):
    outcome = run_entity_sync(EntitySync.objects.get(connection=connection, entity=entity).pk, transport=transport)
    assert outcome.status == "ok", (entity, outcome.error)
    return outcome


def _idle_cost(connection, transport) -> dict[str, tuple[int, int]]:
    """Per entity: (API calls, queries) of one tick in which nothing changed."""
    cost = {}
    for entity in SUPPORTED_ENTITIES[connection.marketplace]:
        transport.calls = 0
        with CaptureQueriesContext(db) as queries:
            _run(connection, entity, transport)
        cost[str(entity)] = (transport.calls, len(queries.captured_queries))
    return cost


@pytest.mark.parametrize("marketplace", MARKETPLACES)
def test_an_idle_tick_costs_the_same_calls_and_queries_at_10_and_100_open_orders_and_as_many_calls_at_0(marketplace, settings):
    settings.SYNC_CATALOG_SWEEP_SECONDS = 3600  # the production cadence: a sweep was made moments ago
    costs = {}
    for open_orders in (0, 10, 100):
        connection, transport = _world(marketplace, open_orders)
        stored = Order.objects.filter(connection=connection).exclude(marketplace_status__in=("CANCELLED", "Cancelled"))
        assert stored.count() >= open_orders  # (Back Market's simulator adds one order of its own at its start)
        costs[open_orders] = _idle_cost(connection, transport)
    assert costs[10] == costs[100], costs
    # With no order at all, the lookups of listed orders by id are skipped (Django runs no query for an empty IN).
    for entity, (calls, queries) in costs[0].items():
        assert calls == costs[10][entity][0] and costs[10][entity][1] - 2 <= queries <= costs[10][entity][1], costs
    # Catalog sweeps not due read nothing; orders cost a handful of calls and queries.
    assert all(calls <= 2 and queries <= 20 for calls, queries in costs[100].values()), costs[100]


@pytest.mark.parametrize("marketplace", ["refurbed", "brickowl", "bricklink"])
def test_due_re_reads_stay_within_the_per_tick_budget_at_any_number_of_open_orders(marketplace, settings):
    """Once every open order is due (their last read backdated a day), a tick re-reads at most the per-tick share."""
    settings.SYNC_CATALOG_SWEEP_SECONDS = 3600
    settings.REFURBED_REREADS_PER_TICK, settings.BRICKOWL_REREADS_PER_TICK, settings.BRICKLINK_REREADS_PER_TICK = 100, 20, 4
    calls = {}
    for open_orders in (30, 90):
        connection, transport = _world(marketplace, open_orders)
        Order.objects.filter(connection=connection).update(last_synced_at=timezone.now() - timedelta(days=1))
        transport.calls = 0
        _run(connection, "orders", transport)
        calls[open_orders] = transport.calls
    budget = {"refurbed": 1 + 1, "brickowl": 1 + 2 * 20, "bricklink": 1 + 2 * 4}[marketplace]
    assert calls[90] <= budget and calls[30] <= budget, calls


@pytest.mark.parametrize("marketplace", ["refurbed", "backmarket", "bricklink"])
def test_a_sweep_that_reads_every_row_unchanged_rewrites_none_and_counts_them_unchanged(marketplace):
    """Offers, listings and inventory read again with nothing changed: every row counted unchanged, none rewritten
    (on PostgreSQL each row's xmin, the transaction that last wrote it, stays; elsewhere its last_seen_at)."""
    entity = {"refurbed": "offers", "backmarket": "listings", "bricklink": "inventory"}[marketplace]
    connection, transport = _world(marketplace, 0)
    model = {"refurbed": Offer}.get(marketplace)
    if model is None:
        from inventory.models import InventoryLot
        from listings.models import Listing
        model = Listing if marketplace == "backmarket" else InventoryLot
    before = _row_versions(model, connection)
    assert before
    outcome = _run(connection, entity, transport)
    assert (outcome.created, outcome.changed, outcome.unchanged, outcome.removed) == (0, 0, len(before), 0)
    assert _row_versions(model, connection) == before
    stored = EntitySync.objects.get(connection=connection, entity=entity)
    assert (stored.last_run_seen, stored.last_run_changed, stored.last_run_unchanged) == (len(before), 0, len(before))


def _row_versions(model, connection) -> dict[int, str]:
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute(f"SELECT id, xmin::text FROM {model._meta.db_table} WHERE connection_id = %s",  # noqa: S608
                           [connection.pk])
            return dict(cursor.fetchall())
    return {pk: str(seen) for pk, seen in model.objects.filter(connection=connection).values_list("pk", "last_seen_at")}


def test_a_row_that_vanishes_from_an_unchanged_sweep_is_still_marked_removed_and_one_that_changed_counts_changed():
    connection, transport = _world("backmarket", 0)
    app = transport.inner.app
    listings = app["backmarket"].listings
    gone, edited = listings[0], listings[1]
    app["backmarket"].control("remove_listing", {"sku": gone["sku"]})
    edited["quantity"] = int(edited.get("quantity") or 0) + 5
    outcome = _run(connection, "listings", transport)
    assert (outcome.removed, outcome.changed, outcome.created) == (1, 1, 0)
    assert outcome.unchanged == len(app["backmarket"].listings) - 1


def test_the_health_page_shows_new_changed_and_unchanged_and_just_now(client):
    connection, transport = _world("refurbed", 0)
    _run(connection, "offers", transport)
    member = make_user("idle-owner", connection.organization)
    client.force_login(member)
    body = client.get(reverse("connections:connection_list")).content.decode()
    offers = EntitySync.objects.get(connection=connection, entity="offers")
    assert offers.last_run_unchanged > 0
    assert f"{offers.last_run_seen} seen · 0 new · 0 changed · {offers.last_run_unchanged} unchanged" in body
    assert "(just now)" in body and "0 minutes ago" not in body


def test_backship_shipments_are_listed_from_the_last_sweep_each_tick_and_a_month_back_only_on_the_sweep_cadence(settings):
    from urllib.parse import parse_qs, urlparse

    from tests.marketplaces.backmarket.helpers import CountingTransport, build_sim

    settings.SYNC_CATALOG_SWEEP_SECONDS = 3600
    connection = bm_connection(make_organization("backship-cadence"))
    transport = CountingTransport(build_sim(orders=5))

    def listed_from() -> datetime:
        transport.requests.clear()
        _run(connection, "deliveries", transport)
        starts = [parse_qs(urlparse(str(r.url)).query).get("start_date", [""])[0] for r in transport.requests
                  if "/deliveries" in r.url.path]
        return datetime.fromisoformat(starts[0])

    listed_from()  # the first sweep: from the first-sync start
    now = timezone.now()
    assert listed_from() >= now - timedelta(days=1, minutes=5)  # an idle tick: the day's shipments, not the month's
    settings.SYNC_CATALOG_SWEEP_SECONDS = 0  # the sweep's cadence has come round
    assert listed_from() <= now - timedelta(days=29)
