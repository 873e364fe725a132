"""Migration 0007: a Back Market order stored before it gets its ship-by date from the stored payload details."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from orders.models import Order
from tests.factories import make_connection, make_organization

BEFORE = [("orders", "0006_ship_batches")]


def _migrate(targets) -> None:
    MigrationExecutor(connection).migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_stored_back_market_orders_get_their_ship_by_date_from_their_details():
    _migrate(BEFORE)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE[0]).apps.get_model("orders", "Order")
        org = make_organization("shop")
        bm, bl = make_connection(org, "backmarket"), make_connection(org, "bricklink")
        common = {"organization_id": org.pk, "status": "new"}
        old.objects.create(connection_id=bm.pk, marketplace="backmarket", external_id="1", **common,
                           details={"expected_dispatch_date": "2026-12-02T07:00:07+02:00"})
        old.objects.create(connection_id=bm.pk, marketplace="backmarket", external_id="2", **common,
                           details={"expected_dispatch_date": "2026-13-45T00:00:00+00:00"})  # junk: left empty
        old.objects.create(connection_id=bm.pk, marketplace="backmarket", external_id="3", **common, details={})
        old.objects.create(connection_id=bl.pk, marketplace="bricklink", external_id="4", **common,
                           details={"expected_dispatch_date": "2026-12-02T07:00:07+02:00"})  # not Back Market's
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    ship_by = dict(Order.objects.values_list("external_id", "ship_by"))
    assert ship_by == {"1": datetime(2026, 12, 2, 5, 0, 7, tzinfo=UTC), "2": None, "3": None, "4": None}
