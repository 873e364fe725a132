"""Keyset pages (marketsync/keyset.py): every row once, in order, both ways; junk cursors start at the top."""

from __future__ import annotations

import pytest

from marketsync.keyset import decode_cursor, encode_cursor, keyset_page
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
