"""A drain that runs out of time (Celery's soft limit, raised in whatever it is doing) stops there: the push in
flight waits for its retry instead of staying claimed until the hard limit kills the worker, and the rest are
sent by the drain enqueued next (the stock oversell bench, on a loaded machine, saw pushes stuck for minutes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import respx
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from inventory.models import StockPush
from inventory.push import stock_push_drain
from inventory.services import inventory_adjust
from inventory.tasks import stock_push_drain_task
from tests.inventory.test_stock_push import _brick_item, _push_on, _shop, _sim_quantities

pytestmark = pytest.mark.django_db


def test_the_soft_time_limit_stops_the_drain_and_the_push_in_flight_retries_soon(eager_celery):
    app, org, transport, conns = _shop()
    _push_on(conns["brickowl"])
    item, _, bo_lot = _brick_item(org, conns)
    stock_push_drain(transport=transport)  # the link's own push
    inventory_adjust(organization=org, item_id=item.pk, delta=-2, reason="damaged")
    pending = list(StockPush.objects.filter(state="pending").order_by("next_attempt_at", "id"))
    assert pending
    calls = {"n": 0}

    def out_of_time_once(request):
        calls["n"] += 1
        if calls["n"] == 1:
            raise SoftTimeLimitExceeded()
        return transport.handle_request(request)

    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="sim").mock(side_effect=out_of_time_once)
        result = stock_push_drain_task(org.pk)  # the task never raises; it enqueued the next drain (eager here)
    assert result == {"stopped": "time limit"}
    # Brick Owl pushes go out as one batch call: every row of the call in flight waits for its first backoff, not
    # for the claim of a drain that died.
    for push in StockPush.objects.filter(pk__in=[p.pk for p in pending]):
        assert push.state == "pending" and push.attempts == 1 and "SoftTimeLimitExceeded" in push.last_error
        assert push.next_attempt_at <= timezone.now() + timedelta(seconds=settings.STOCK_PUSH_RETRY_SECONDS + 5)
    assert settings.STOCK_PUSH_RETRY_SECONDS + 5 < settings.STOCK_PUSH_CLAIM_SECONDS
    StockPush.objects.filter(pk__in=[p.pk for p in pending]).update(next_attempt_at=timezone.now())
    assert stock_push_drain(transport=transport).failed == 0
    item.refresh_from_db()
    assert _sim_quantities(app, bo_lot=bo_lot)["brickowl"] == item.quantity_available
    assert not StockPush.objects.filter(state="pending").exists()
