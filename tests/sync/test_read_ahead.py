"""``read_ahead``: the next page is fetched while the current one is stored, and nothing else changes."""

from __future__ import annotations

import threading

import pytest

from marketsync.sync.pages import read_ahead


def test_read_ahead_hands_over_every_item_in_order():
    assert list(read_ahead(iter(range(5)))) == [0, 1, 2, 3, 4]
    assert list(read_ahead([])) == []


def test_next_item_is_produced_while_the_caller_handles_the_current_one():
    produced_second = threading.Event()

    def pages():
        yield "page 1"
        produced_second.set()
        yield "page 2"

    items = read_ahead(pages())
    assert next(items) == "page 1"
    # The caller has not asked for page 2 yet: it is fetched in the background meanwhile.
    assert produced_second.wait(timeout=5)
    assert next(items) == "page 2"


def test_an_error_fetching_a_page_is_raised_only_after_the_earlier_pages():
    def pages():
        yield "page 1"
        raise ConnectionError("page 2 timed out")

    items = read_ahead(pages())
    assert next(items) == "page 1"
    with pytest.raises(ConnectionError, match="page 2 timed out"):
        next(items)


def test_a_caller_that_stops_early_closes_the_source_after_at_most_one_extra_item():
    produced: list[int] = []
    closed = threading.Event()

    def pages():
        try:
            for number in range(100):
                produced.append(number)
                yield number
        finally:
            closed.set()

    items = read_ahead(pages())
    assert next(items) == 0
    items.close()
    assert closed.is_set()
    assert produced in ([0], [0, 1])
