"""BrickLink calls are counted in memory during a run or a write and written once per page and at the end."""

import httpx
import pytest
from django.db import connection as db
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from connections.budget import api_calls_batched, api_calls_by_purpose_last_24h, bricklink_calls_last_24h
from connections.models import ApiCallCount
from marketsync.sync.clients import marketplace_client
from marketsync.sync.runner import run_entity_sync
from orders.models import Order
from tests.marketplaces.bricklink.helpers import CountingTransport, bricklink_connection, entity_sync, simulator

pytestmark = pytest.mark.django_db


def _stored_calls(connection) -> dict:
    return ApiCallCount.objects.filter(connection=connection).aggregate(calls=Sum("calls"), orders=Sum("orders_calls"))


def _count_writes(queries) -> int:
    return sum(1 for q in queries if "connections_apicallcount" in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT"))


def test_a_first_sync_writes_its_call_counts_once_per_page_not_once_per_call():
    transport = CountingTransport(simulator(orders=60))
    connection = bricklink_connection()
    with CaptureQueriesContext(db) as queries:
        outcome = run_entity_sync(entity_sync(connection, "orders").pk, transport=transport, force=True)
    assert outcome.status == "ok", outcome.error
    assert outcome.pages >= 2 and len(transport.requests) > 4 * outcome.pages
    assert _count_writes(queries.captured_queries) <= outcome.pages + 1
    calls = len(transport.requests)
    assert _stored_calls(connection) == {"calls": calls, "orders": calls}
    assert bricklink_calls_last_24h(connection=connection) == calls  # nothing counted twice (memory and table)


class FailingAfter(CountingTransport):
    """The simulator until ``good`` requests were answered, then a refused login on every request."""

    def __init__(self, app, good: int) -> None:
        super().__init__(app)
        self.good = good

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if len(self.requests) >= self.good:
            self.requests.append(request)
            return httpx.Response(401, json={"meta": {"code": 401, "message": "BAD_OAUTH_REQUEST"}})
        return super().handle_request(request)


def test_a_run_that_fails_part_way_still_writes_every_call_it_made():
    transport = FailingAfter(simulator(orders=60), good=60)
    connection = bricklink_connection()
    outcome = run_entity_sync(entity_sync(connection, "orders").pk, transport=transport, force=True)
    assert outcome.status == "failed"
    assert Order.objects.filter(connection=connection).exists()  # the first page was stored before the failure
    assert _stored_calls(connection)["calls"] == len(transport.requests) > 60


def test_budget_reads_include_calls_not_written_yet():
    transport = CountingTransport(simulator(orders=5))
    connection = bricklink_connection()
    with api_calls_batched(connection_id=connection.pk):
        client = marketplace_client(connection, httpx.Client(transport=transport), purpose="orders")
        client.orders(direction="in")
        client.orders(direction="in")
        assert not ApiCallCount.objects.filter(connection=connection).exists()  # in memory only
        assert bricklink_calls_last_24h(connection=connection) == 2
        assert api_calls_by_purpose_last_24h(connection_ids=[connection.pk])[connection.pk]["orders"] == 2
    assert _stored_calls(connection) == {"calls": 2, "orders": 2}
    assert bricklink_calls_last_24h(connection=connection) == 2


def test_a_client_outside_a_run_or_a_write_still_counts_each_call_at_once():
    transport = CountingTransport(simulator(orders=5))
    connection = bricklink_connection()
    marketplace_client(connection, httpx.Client(transport=transport)).orders(direction="in")
    assert _stored_calls(connection) == {"calls": 1, "orders": 0}
