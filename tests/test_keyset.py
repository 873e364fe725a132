"""Keyset pages (marketsync/keyset.py): every row once, in order, both ways; junk cursors start at the top."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from marketsync.keyset import CursorForm, decode_cursor, encode_cursor, keyset_page, ordering
from orders.models import Order
from orders.services import order_upsert_page
from tests.factories import make_connection, make_organization
from tests.web.builders import order_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders():
    connection = make_connection(make_organization("pages"))
    # Repeated names and missing dates: ties are broken by id, NULLs have a place of their own.
    records = [order_record(n, customer=f"name {n % 4}", placed_at=None if n % 5 == 0 else order_record(n).placed_at,
                            items=[]) for n in range(23)]
    order_upsert_page(connection=connection, records=records)
    return Order.objects.filter(connection=connection)


def walk(qs, key, descending):
    seen, after, pages = [], "", 0
    while True:
        page = keyset_page(qs, key=key, after=after, limit=5, descending=descending)
        seen += [o.pk for o in page.rows]
        pages += 1
        if not page.next_cursor:
            return seen, pages
        after = page.next_cursor


@pytest.mark.parametrize("key", ["customer_name", "placed_at"])
@pytest.mark.parametrize("descending", [True, False])
def test_walking_the_pages_visits_every_row_once_in_the_list_order(orders, key, descending):
    seen, pages = walk(orders, key, descending)
    # NULLs come first going down and last going up.
    expected = sorted(orders, key=lambda o: (getattr(o, key) is None, getattr(o, key) or "", o.pk), reverse=descending)
    assert seen == [o.pk for o in expected]
    assert pages == 5


def test_the_previous_page_of_a_page_is_the_page_before_it(orders):
    first = keyset_page(orders, key="customer_name", limit=5)
    second = keyset_page(orders, key="customer_name", after=first.next_cursor, limit=5)
    back = keyset_page(orders, key="customer_name", before=second.prev_cursor, limit=5)
    assert [o.pk for o in back.rows] == [o.pk for o in first.rows] and back.is_first and not second.is_first


@pytest.mark.parametrize("junk", ["x", "%%%", "e30", encode_cursor("a", 1)[:-3], "A" * 5000, "WyJ0IiwgIm5vdCBhIGRhdGUiLCAxXQ"])
def test_a_cursor_that_is_not_ours_starts_at_the_top(orders, junk):
    assert decode_cursor(junk) is None
    assert keyset_page(orders, key="customer_name", after=junk, limit=5).is_first


@pytest.mark.parametrize("key, value", [
    ("placed_at", "abc"), ("placed_at", 1e308), ("placed_at", 7), ("customer_name", ["x"]),
    ("placed_at", datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))),  # before year 1 once in UTC
    ("placed_at", datetime(2026, 1, 1)),  # no offset
    (("customer_name", "placed_at"), ("a", "not a moment")),
])
@pytest.mark.parametrize("pk", [1, 10**40, -(10**40)])
def test_a_cursor_of_ours_holding_what_its_key_cannot_be_compared_with_starts_at_the_top(orders, key, value, pk):
    # Made up from our own encoding: these reached the query and failed there (a 500 on every paged list).
    junk = encode_cursor(value, pk)
    for cursor in ({"after": junk}, {"before": junk}):
        page = keyset_page(orders, key=key, limit=5, **cursor)
        assert page.is_first and len(page.rows) == 5


def test_a_cursor_at_the_top_of_the_id_range_is_still_a_cursor(orders):
    page = keyset_page(orders, key="customer_name", after=encode_cursor("name 0", 2**63 - 1), limit=50, descending=False)
    expected = _expected([o for o in orders if o.customer_name > "name 0"], [("customer_name", False), ("id", False)])
    assert not page.is_first and [o.pk for o in page.rows] == [o.pk for o in expected] != []


def _expected(rows, terms):
    """``rows`` sorted as the pager reads them: each (field, runs down) in turn, NULLs first going down."""
    from functools import cmp_to_key

    def compare(a, b):
        for name, down in terms:
            x, y = getattr(a, name), getattr(b, name)
            if x == y:
                continue
            if x is None or y is None:
                return (-1 if x is None else 1) * (1 if down else -1)
            return (-1 if x > y else 1) if down else (-1 if x < y else 1)
        return 0

    return sorted(rows, key=cmp_to_key(compare))


@pytest.mark.parametrize("key, descending, terms", [
    (("customer_name", "placed_at"), False, [("customer_name", False), ("placed_at", False), ("id", False)]),
    (("customer_name", "placed_at"), True, [("customer_name", True), ("placed_at", True), ("id", True)]),
    (("-customer_name", "placed_at"), False, [("customer_name", True), ("placed_at", False), ("id", False)]),
    (("customer_name", "-placed_at"), True, [("customer_name", True), ("placed_at", False), ("id", True)]),
])
def test_a_key_of_several_fields_in_mixed_directions_walks_every_row_once_both_ways(orders, key, descending, terms):
    seen, pages, after = [], [], ""
    while True:
        page = keyset_page(orders, key=key, after=after, limit=4, descending=descending)
        pages.append(page)
        seen += [o.pk for o in page.rows]
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert seen == [o.pk for o in _expected(list(orders), terms)]
    assert list(orders.order_by(*ordering(key, descending=descending)).values_list("pk", flat=True)) == seen
    back = keyset_page(orders, key=key, before=pages[3].prev_cursor, limit=4, descending=descending)
    assert [o.pk for o in back.rows] == [o.pk for o in pages[2].rows]


def test_a_cursor_of_another_key_starts_at_the_top(orders):
    single = keyset_page(orders, key="customer_name", limit=5).next_cursor
    double = keyset_page(orders, key=("customer_name", "placed_at"), limit=5).next_cursor
    assert keyset_page(orders, key=("customer_name", "placed_at"), after=single, limit=5).is_first
    assert keyset_page(orders, key="customer_name", after=double, limit=5).is_first
    assert keyset_page(orders, key=("customer_name", "placed_at", "status"), after=double, limit=5).is_first


@pytest.mark.parametrize("query, cursors, base", [
    ({"after": "abc", "q": "x"}, {"after": "abc", "before": ""}, "q=x"),
    ({"before": "A" * 600, "page": "7", "q": "x"}, {"after": "", "before": ""}, "q=x"),
    ({"after": "a\x00b"}, {"after": "", "before": ""}, ""),
    ({"page": "2"}, {"after": "", "before": ""}, ""),
])
def test_the_cursor_form_drops_what_it_cannot_use_and_the_old_page_number(query, cursors, base):
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    data.update(query)
    form = CursorForm(data)
    assert form.cursors() == cursors and form.base_query() == base


@pytest.mark.parametrize("key, descending, bound", [
    ("customer_name", False, '"customer_name" >='), ("customer_name", True, '"customer_name" <='),
    (("customer_name", "placed_at"), False, '"customer_name" >='), ("placed_at", True, '"placed_at" <='),
])
def test_a_page_after_a_cursor_is_one_range_of_the_index(orders, key, descending, bound):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    after = keyset_page(orders, key=key, limit=10, descending=descending).next_cursor  # past the NULLs going down
    with CaptureQueriesContext(db) as queries:
        keyset_page(orders, key=key, after=after, limit=5, descending=descending)
    assert bound in queries.captured_queries[0]["sql"]


def test_going_up_a_field_that_can_be_null_is_not_bounded_as_nulls_come_last(orders):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    after = keyset_page(orders, key="placed_at", limit=5, descending=False).next_cursor
    with CaptureQueriesContext(db) as queries:
        page = keyset_page(orders, key="placed_at", after=after, limit=50, descending=False)
    assert '"placed_at" >=' not in queries.captured_queries[0]["sql"] and page.rows[-1].placed_at is None
