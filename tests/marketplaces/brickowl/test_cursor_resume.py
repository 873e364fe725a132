"""A Brick Owl orders run that fails part-way must not move the cursor past orders it has not stored."""

import httpx
import pytest

from marketsync.sync.runner import run_entity_sync
from orders.models import Order
from tests.marketplaces.bricklink.helpers import CountingTransport, brickowl_connection, entity_sync, simulator


class FailingViews(CountingTransport):
    """Answers the first ``allowed`` order views, then refuses every later one (as a revoked key would)."""

    def __init__(self, app, allowed: int) -> None:
        super().__init__(app)
        self.allowed = allowed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/order/view"):
            if self.allowed <= 0:
                return httpx.Response(401, json={"error": "Invalid key"}, request=request)
            self.allowed -= 1
        return super().handle_request(request)


@pytest.mark.django_db
def test_a_run_failing_after_its_first_page_loses_no_order_on_the_next_run():
    sim = simulator(orders=60)
    connection = brickowl_connection()
    sync = entity_sync(connection, "orders")
    failed = run_entity_sync(sync.pk, transport=FailingViews(sim, allowed=25))
    assert failed.status == "failed" and failed.pages == 1
    assert Order.objects.filter(connection=connection).count() == 25
    outcome = run_entity_sync(sync.pk, transport=CountingTransport(sim), force=True)
    assert outcome.status == "ok", outcome.error
    assert Order.objects.filter(connection=connection).count() == len(sim["brickowl"].orders)
