"""Brick order details are fetched a few at a time, in order, with errors per record as one by one."""

import threading
import time

import pytest

from marketsync.sync.errors import AuthError, NotFound
from marketsync.sync.pages import CallPacer, fetched_pages
from marketsync.sync.runner import run_entity_sync
from orders.models import Order
from tests.marketplaces.bricklink.helpers import (
    CountingTransport,
    bricklink_connection,
    brickowl_connection,
    entity_sync,
    simulator,
)


def _pages(work, fetch, concurrency):
    return list(fetched_pages(work, fetch, record_id=str, page_size=4, cursor={"c": "end"}, holding_cursor={"c": "hold"},
                              concurrency=concurrency))


@pytest.mark.parametrize("concurrency", [1, 3])
def test_records_keep_their_order_and_bad_ones_are_named(concurrency):
    def fetch(n):
        time.sleep(0.01 * (n % 3))  # later records finish first
        if n == 5:
            raise NotFound("order 5 is gone")
        if n == 6:
            raise KeyError("buyer_name")
        return n * 10

    pages = _pages(list(range(10)), fetch, concurrency)
    assert [p.records for p in pages] == [[0, 10, 20, 30], [40, 70], [80, 90]]
    assert [[b.record_id for b in p.bad_records] for p in pages] == [[], ["5", "6"], []]
    assert [p.cursor["c"] for p in pages] == ["hold", "hold", "end"]


def test_an_error_stops_the_run_and_no_record_is_started_after_it():
    started, caller = [], threading.get_ident()
    threads = set()

    def fetch(n):
        started.append(n)
        threads.add(threading.get_ident())
        time.sleep(0.02)
        if n == 2:
            raise AuthError("refused")
        return n

    with pytest.raises(AuthError):
        _pages(list(range(12)), fetch, 3)
    assert max(started) <= 2 + 2  # at most the other threads' records under way when it failed
    assert caller in threads and len(threads) > 1  # the caller's thread fetches too (its requests beat the lease)


def test_the_pacer_lets_a_minute_allowance_through_then_never_more_in_any_minute():
    now, waits = [0.0], []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    pace = CallPacer(6, cost=2, clock=lambda: now[0], sleep=sleep)
    for second in (0, 10, 20):
        now[0] = second
        pace()
    assert waits == []  # six calls: the minute's allowance, at once
    now[0] = 30
    pace()
    assert waits == [pytest.approx(30.0)]  # until the first start is a minute old
    pace()
    assert waits[-1] == pytest.approx(10.0) and now[0] == pytest.approx(70.0)


class SlowCounting(CountingTransport):
    """The simulator with a real delay per request, noting how many are under way at once."""

    def __init__(self, app, seconds: float) -> None:
        super().__init__(app)
        self.seconds, self.lock, self.now, self.most = seconds, threading.Lock(), 0, 0

    def handle_request(self, request):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(self.seconds)
            with self.lock:
                return super().handle_request(request)
        finally:
            with self.lock:
                self.now -= 1


@pytest.mark.django_db
@pytest.mark.parametrize("build", [bricklink_connection, brickowl_connection])
def test_a_first_sync_fetches_details_concurrently_within_the_setting(settings, build):
    settings.BRICK_DETAIL_FETCH_CONCURRENCY = 3
    transport = SlowCounting(simulator(orders=30), seconds=0.01)
    connection = build()
    outcome = run_entity_sync(entity_sync(connection, "orders").pk, transport=transport, force=True)
    assert outcome.status == "ok", outcome.error
    assert outcome.seen == Order.objects.filter(connection=connection).count() > 10
    assert transport.most == 3


@pytest.mark.django_db
def test_one_at_a_time_when_the_setting_says_so(settings):
    settings.BRICK_DETAIL_FETCH_CONCURRENCY = 1
    transport = SlowCounting(simulator(orders=10), seconds=0.005)
    connection = bricklink_connection()
    assert run_entity_sync(entity_sync(connection, "orders").pk, transport=transport, force=True).status == "ok"
    assert transport.most == 1
