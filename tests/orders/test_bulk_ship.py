"""Shipping a day's parcels at once: the CSV checked line by line, a batch pushed to three marketplaces' simulators,
and a re-submitted file that ships nothing twice."""

from __future__ import annotations

import pytest

from marketsync.sync.refresh import record_refresh
from marketsync.sync.runner import run_entity_sync
from orders import bulk_ship
from orders.models import Order, ShipBatch, ShipBatchOrder
from orders.tasks import ship_batch
from tests.factories import make_organization
from tests.marketplaces.bricklink.helpers import SEED, CountingTransport, bricklink_connection, brickowl_connection, entity_sync
from tests.marketplaces.bricklink.helpers import simulator as brick_simulator
from tests.marketplaces.refurbed.sim import refurbed_connection, token

pytestmark = pytest.mark.django_db


class Shop:
    """One organization with Refurbed, BrickLink and Brick Owl connections on one simulator."""

    def __init__(self) -> None:
        self.app = brick_simulator(orders=30, marketplaces=("refurbed", "bricklink", "brickowl"))
        self.transport = CountingTransport(self.app)
        self.organization = make_organization("parcels")
        self.refurbed = refurbed_connection(self.organization, api_key=token(seed=SEED))
        self.bricklink = bricklink_connection(self.organization)
        self.brickowl = brickowl_connection(self.organization)
        for connection in (self.refurbed, self.bricklink, self.brickowl):
            outcome = run_entity_sync(entity_sync(connection, "orders").pk, transport=self.transport, force=True)
            assert outcome.status == "ok", outcome.error
        self._used: set[int] = set()

    def reread(self, connection, external_id) -> Order:
        record_refresh(connection=connection, entity="orders", external_id=str(external_id), transport=self.transport)
        return Order.objects.get(connection=connection, external_id=str(external_id))

    def refurbed_ready(self) -> Order:
        sim = self.app["refurbed"]
        index = next(i for i, s in enumerate(sim.item_states) if len(s) == 1 and i not in self._used)
        self._used.add(index)
        sim.item_states[index] = ["ACCEPTED"]
        return self.reread(self.refurbed, sim.order_ids[index])

    def bricklink_paid(self) -> Order:
        sim = self.app["bricklink"]
        order_id = sim.control("new_order", {})["order_id"]
        sim.control("set_status", {"order_id": order_id, "status": "PAID"})
        return self.reread(self.bricklink, order_id)

    def bricklink_unpaid(self) -> Order:
        sim = self.app["bricklink"]
        order_id = sim.control("new_order", {})["order_id"]
        sim.control("set_status", {"order_id": order_id, "status": "READY"})
        sim.orders[order_id]["payment_status"] = "None"
        return self.reread(self.bricklink, order_id)

    def brickowl_paid(self) -> Order:
        sim = self.app["brickowl"]
        order = sim.orders[sim.control("new_order", {})["order_id"]]
        sim.control("set_status", {"order_id": order["order_id"], "status_id": 2})
        return self.reread(self.brickowl, order["order_id"])

    def ship_writes(self) -> list[str]:
        """The requests that change something (Refurbed reads are POSTs too: List…, Get…)."""
        return [f"{r.method} {r.url.path}" for r in self.transport.requests
                if r.method != "GET" and not r.url.path.rsplit("/", 1)[-1].startswith(("List", "Get"))]


@pytest.fixture
def shop():
    return Shop()


def csv_of(*lines: str) -> bytes:
    return ("marketplace,order_id,carrier,tracking_number,tracking_url\n" + "\n".join(lines) + "\n").encode()


def plan_of(shop, content: bytes):
    plan = bulk_ship.ship_plan_from_csv(organization=shop.organization, content=content)
    return plan.errors, plan


def test_the_checker_names_every_bad_line_and_nothing_is_kept(shop):
    ready, unpaid = shop.refurbed_ready(), shop.bricklink_unpaid()
    other = make_organization("others")
    content = csv_of(
        f"refurbed,{ready.external_id},dhl,00340434,",          # 2 fine
        f"ebay,{ready.external_id},dhl,1,",                      # 3 unknown marketplace
        "bricklink,999999999,,TRK1,",                            # 4 unknown order
        f"bricklink,{unpaid.external_id},,TRK2,",                # 5 not paid: not shippable now
        f"refurbed,{ready.external_id},dhl,00340435,",           # 6 the same order twice
        f"bricklink,{shop.bricklink_paid().external_id},,,",     # 7 no tracking
        f"brickowl,{shop.brickowl_paid().external_id},,TR\x01K,",  # 8 control character
        "refurbed,1,dhl",                                        # 9 too few columns
    )
    errors, _plan = plan_of(shop, content)
    assert [e.split(":")[0] for e in errors] == [f"Line {n}" for n in (3, 4, 5, 6, 7, 8, 9)]
    assert "unknown marketplace “ebay”" in errors[0]
    assert "no BrickLink order 999999999 in this organization" in errors[1]
    assert "cannot be shipped now: BrickLink ships paid orders" in errors[2]
    assert "already on line 2" in errors[3]
    assert "Give a tracking number or a tracking URL to ship" in errors[4]
    assert "control character" in errors[5]
    # Another organization's order is unknown here.
    assert bulk_ship.ship_plan(organization=other, requests=bulk_ship.ship_requests_from_csv(
        csv_of(f"refurbed,{ready.external_id},dhl,1,"))[0]).errors[0].startswith("Line 2: no Refurbed order")
    with pytest.raises(ValueError):
        bulk_ship.ship_batch_create(organization=shop.organization, plan=_plan, source="csv")
    assert not ShipBatch.objects.exists() and shop.ship_writes() == []


def test_a_bad_header_or_binary_file_is_refused_by_name(shop):
    assert bulk_ship.ship_requests_from_csv(b"order,tracking\n1,2\n")[1][0].startswith("Line 1: the header must be")
    assert "not UTF-8" in bulk_ship.ship_requests_from_csv(b"\xff\xfe\x00bad")[1][0]
    assert "empty" in bulk_ship.ship_requests_from_csv(b"")[1][0]


def test_a_batch_ships_three_marketplaces_and_a_resubmitted_file_ships_nothing_twice(shop):
    refurbed, bricklink, brickowl = shop.refurbed_ready(), shop.bricklink_paid(), shop.brickowl_paid()
    content = csv_of(
        f"refurbed,{refurbed.external_id},dhl,00340434,",
        f"BrickLink,{bricklink.external_id},,BL-TRK-1,https://track.example/BL-TRK-1",
        f"Brick Owl,{brickowl.external_id},,OWL-1,",
    )
    errors, plan = plan_of(shop, content)
    assert errors == [] and len(plan.to_send) == 3
    batch = bulk_ship.ship_batch_create(organization=shop.organization, plan=plan, source="csv", filename="day.csv")
    shop.transport.requests.clear()
    batch = bulk_ship.ship_batch_run(batch=batch, transport=shop.transport)
    rows = {r.order.marketplace: r for r in bulk_ship.ship_batch_rows(batch=batch)}
    assert {m: r.state for m, r in rows.items()} == {"refurbed": "shipped", "bricklink": "shipped", "brickowl": "shipped"}
    assert batch.state == "done" and rows["bricklink"].line == 3
    assert shop.app["refurbed"].item_states[shop.app["refurbed"].order_ids.index(int(refurbed.external_id))] == ["SHIPPED"]
    assert shop.app["bricklink"].orders[int(bricklink.external_id)]["status"] == "SHIPPED"
    assert shop.app["brickowl"].orders[brickowl.external_id]["status_id"] == 5
    first_writes = shop.ship_writes()
    status_writes = [w for w in first_writes if w.endswith(("/status", "/set_status", "/UpdateOrderItemState"))]
    assert len(status_writes) == 3, first_writes  # one ship each

    # The same file again: every order is reported as not sent again, and nothing reaches a marketplace.
    shop.transport.requests.clear()
    errors, plan = plan_of(shop, content)
    assert errors == [] and plan.to_send == [] and len(plan.skipped) == 3
    again = bulk_ship.ship_batch_create(organization=shop.organization, plan=plan, source="csv")
    ship_batch(again.pk)  # the task itself, run directly: nothing queued, nothing sent
    assert {r.state for r in again.orders.all()} == {"skipped"}
    assert all("already in ship batch" in r.message for r in again.orders.all())
    assert shop.ship_writes() == []
    assert ShipBatchOrder.objects.filter(state="shipped").count() == 3


def test_an_order_shipped_elsewhere_is_reported_not_sent_and_a_job_run_twice_sends_once(shop):
    order = shop.bricklink_paid()
    shop.app["bricklink"].control("set_status", {"order_id": int(order.external_id), "status": "SHIPPED"})
    order = shop.reread(shop.bricklink, order.external_id)
    errors, plan = plan_of(shop, csv_of(f"bricklink,{order.external_id},,X1,"))
    assert errors == [] and plan.skipped[0].skip_reason.startswith("already shipped")

    fresh = shop.brickowl_paid()
    errors, plan = plan_of(shop, csv_of(f"brickowl,{fresh.external_id},,OWL-9,"))
    batch = bulk_ship.ship_batch_create(organization=shop.organization, plan=plan, source="csv")
    shop.transport.requests.clear()
    bulk_ship.ship_batch_run(batch=batch, transport=shop.transport)
    bulk_ship.ship_batch_run(batch=batch, transport=shop.transport)
    assert [w for w in shop.ship_writes() if "set_status" in w] == ["POST /brickowl/v1/order/set_status"]


def test_a_refused_order_fails_alone_and_the_others_ship(shop):
    good, bad = shop.brickowl_paid(), shop.bricklink_paid()
    errors, plan = plan_of(shop, csv_of(f"bricklink,{bad.external_id},,BL-2,", f"brickowl,{good.external_id},,OWL-2,"))
    assert errors == []
    batch = bulk_ship.ship_batch_create(organization=shop.organization, plan=plan, source="csv")
    # Meanwhile the buyer cancelled at BrickLink, and the order was re-read.
    shop.app["bricklink"].control("set_status", {"order_id": int(bad.external_id), "status": "CANCELLED"})
    shop.reread(shop.bricklink, bad.external_id)
    bulk_ship.ship_batch_run(batch=batch, transport=shop.transport)
    states = {r.order.marketplace: (r.state, r.message) for r in batch.orders.all()}
    assert states["brickowl"][0] == "shipped"
    assert states["bricklink"][0] == "failed" and "Cancelled: nothing to ship" in states["bricklink"][1]
    # A failed order may be sent again by a later file.
    errors, plan = plan_of(shop, csv_of(f"bricklink,{bad.external_id},,BL-2,"))
    assert plan.skipped == [] and "cannot be shipped now" in errors[0]


def _killed_while_sending(shop, order, tracking, minutes_ago=30):
    """A batch of one order whose worker claimed the row and died (the row stays "sending")."""
    from datetime import timedelta

    from django.utils import timezone

    errors, plan = plan_of(shop, csv_of(f"{order.marketplace},{order.external_id},,{tracking},"))
    assert errors == []
    batch = bulk_ship.ship_batch_create(organization=shop.organization, plan=plan, source="csv")
    ShipBatch.objects.filter(pk=batch.pk).update(state="running")
    row = batch.orders.get()
    ShipBatchOrder.objects.filter(pk=row.pk).update(state="sending", updated_at=timezone.now() - timedelta(minutes=minutes_ago))
    return batch, row


def test_the_sweeper_confirms_a_ship_the_killed_worker_had_sent_and_sends_nothing(shop):
    from orders import fulfilment

    order = shop.brickowl_paid()
    batch, row = _killed_while_sending(shop, order, "OWL-K1")
    # The worker's call reached Brick Owl before it died.
    fulfilment.order_ship(order=order, tracking_number="OWL-K1", transport=shop.transport)
    shop.transport.requests.clear()
    result = bulk_ship.ship_batch_sweep(transport=shop.transport)
    row.refresh_from_db()
    assert result.shipped == [row.pk] and result.batches == set()
    assert row.state == "shipped" and "confirmed by re-reading" in row.message
    assert shop.ship_writes() == []  # re-read only
    assert ShipBatch.objects.get(pk=batch.pk).state == "done"


def test_the_sweeper_requeues_a_row_whose_order_did_not_ship_and_the_batch_ships_it_once(shop):
    order = shop.bricklink_paid()
    batch, row = _killed_while_sending(shop, order, "BL-K2")
    shop.transport.requests.clear()
    result = bulk_ship.ship_batch_sweep(transport=shop.transport)
    row.refresh_from_db()
    assert result.requeued == [row.pk] and result.batches == {batch.pk} and row.state == "queued"
    assert shop.ship_writes() == []  # the sweeper itself never ships
    bulk_ship.ship_batch_run(batch=ShipBatch.objects.get(pk=batch.pk), transport=shop.transport)
    bulk_ship.ship_batch_sweep(transport=shop.transport)  # a later sweep finds nothing to do
    row.refresh_from_db()
    assert row.state == "shipped"
    assert [w for w in shop.ship_writes() if w.endswith("/status")] == [f"PUT /bricklink/api/store/v1/orders/{order.external_id}/status"]
    assert shop.app["bricklink"].orders[int(order.external_id)]["status"] == "SHIPPED"


def test_the_sweeper_leaves_a_row_that_is_still_being_sent(shop):
    order = shop.brickowl_paid()
    _batch, row = _killed_while_sending(shop, order, "OWL-K3", minutes_ago=1)
    shop.transport.requests.clear()
    result = bulk_ship.ship_batch_sweep(transport=shop.transport)
    row.refresh_from_db()
    assert (result.shipped, result.requeued, result.failed) == ([], [], []) and row.state == "sending"
    assert shop.transport.requests == []
