import re
from datetime import datetime, timedelta
from datetime import timezone as fixed_zone

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketsync.keyset import encode_cursor
from orders.models import Order
from orders.selectors import OrderFilters, order_book_page
from tests.factories import make_connection, make_organization, make_user
from tests.pages import walk
from tests.web.builders import make_orders, order_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(client):
    org = make_organization("shop")
    user = make_user("owner", org)
    client.force_login(user)
    return org


def _ids(response) -> list[str]:
    return re.findall(r'href="/orders/\d+/">([^<]+)</a>', response.content.decode())


def test_order_book_lists_all_marketplaces_newest_first(client, shop):
    refurbed = make_connection(shop, "refurbed")
    bricklink = make_connection(shop, "bricklink")
    make_orders(refurbed, 3, prefix="R")
    make_orders(bricklink, 2, prefix="B", start=10)
    response = client.get(reverse("orders:order_list"))
    assert response.status_code == 200
    assert _ids(response) == ["B11", "B10", "R2", "R1", "R0"]
    body = response.content.decode()
    assert "BrickLink" in body and "Refurbed" in body
    assert 'title="New: accept or refuse each item (Refurbed order state NEW)"' in body  # the marketplace's state on hover


def test_status_tabs_count_ready_to_ship_and_hold_awaiting_payment_apart(client, shop):
    conn = make_connection(shop)
    make_orders(conn, 2, prefix="N", status="new")
    make_orders(conn, 1, prefix="A", status="accepted")
    make_orders(conn, 3, prefix="P", status="awaiting_payment")
    make_orders(conn, 1, prefix="F", status="refunded")
    body = client.get(reverse("orders:order_list")).content.decode()
    counts = dict(re.findall(r'data-tab="(\w+)">[^<]*<span class="count">(\d+)</span>', body))
    assert counts["ready"] == "3"
    assert counts["awaiting_payment"] == "3"
    assert counts["returned"] == "1"
    ready = client.get(reverse("orders:order_list"), {"status": "ready"})
    assert sorted(_ids(ready)) == ["A0", "N0", "N1"]


def test_filters_combine_marketplace_status_dates_and_connection(client, shop):
    refurbed = make_connection(shop, "refurbed")
    brickowl = make_connection(shop, "brickowl")
    make_orders(refurbed, 3, prefix="R", status="shipped")
    make_orders(refurbed, 2, prefix="X", status="new", start=3)
    make_orders(brickowl, 2, prefix="O", status="shipped")
    response = client.get(reverse("orders:order_list"), {"marketplace": "refurbed", "status": "shipped"})
    assert sorted(_ids(response)) == ["R0", "R1", "R2"]
    response = client.get(reverse("orders:order_list"), {"connection": brickowl.pk})
    assert sorted(_ids(response)) == ["O0", "O1"]
    # every builder order is placed on 2026-11-01 (UTC); a range ending the day before finds none
    response = client.get(reverse("orders:order_list"), {"date_from": "2026-10-01", "date_to": "2026-10-31"})
    assert _ids(response) == []
    response = client.get(reverse("orders:order_list"), {"date_from": "2026-11-01", "date_to": "2026-11-01", "marketplace": "brickowl"})
    assert sorted(_ids(response)) == ["O0", "O1"]


def test_invalid_date_range_is_reported_beside_the_field(client, shop):
    make_orders(make_connection(shop), 1)
    response = client.get(reverse("orders:order_list"), {"date_from": "2026-11-05", "date_to": "2026-11-01"})
    assert "The end date is before the start date." in response.content.decode()
    assert len(_ids(response)) == 1  # a crossed range filters nothing, as on every list with one


@pytest.mark.parametrize(
    "term, expected",
    [("R3", ["R3"]), ("customer r4", ["R4"]), ("buyer2@r.example", ["R2"]), ("R-SKU-1", ["R1"]), ("RP0", ["R0"]), ("TRKR2", ["R2"])],
)
def test_search_by_order_id_customer_email_sku_part_and_tracking(client, shop, term, expected):
    make_orders(make_connection(shop), 5)
    assert _ids(client.get(reverse("orders:order_list"), {"q": term})) == expected


def test_keyset_pages_walk_every_order_once_in_both_directions(shop):
    conn = make_connection(shop)
    make_orders(conn, 23)
    # same placed_at for a few orders: the id breaks the tie
    Order.objects.filter(external_id__in=["R5", "R6", "R7"]).update(placed_at=Order.objects.get(external_id="R5").placed_at)
    seen, after, pages = [], "", []
    while True:
        page = order_book_page(organization=shop, filters=OrderFilters(), after=after, limit=5)
        pages.append(page)
        seen += [o.external_id for o in page.rows]
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert len(seen) == 23 and len(set(seen)) == 23
    expected = list(Order.objects.filter(organization=shop).order_by("-placed_at", "-id").values_list("external_id", flat=True))
    assert seen == expected
    back = order_book_page(organization=shop, filters=OrderFilters(), before=pages[2].prev_cursor, limit=5)
    assert [o.external_id for o in back.rows] == [o.external_id for o in pages[1].rows]
    oldest = order_book_page(organization=shop, filters=OrderFilters(oldest_first=True), limit=5)
    assert [o.external_id for o in oldest.rows] == expected[::-1][:5]


def test_order_book_page_costs_the_same_queries_whatever_its_depth_or_size(client, shop, settings):
    settings.ORDER_TAB_COUNTS_CACHE_MIN_ROWS = 0  # cache the counts as for a large organization
    conn = make_connection(shop)
    make_orders(conn, 120)
    client.get(reverse("orders:order_list"))  # warm the session and tab counts cache
    with CaptureQueriesContext(db) as first:
        response = client.get(reverse("orders:order_list"))
    after = re.search(r'after=([\w-]+)', response.content.decode()).group(1)
    with CaptureQueriesContext(db) as deep:
        client.get(reverse("orders:order_list"), {"after": after})
    assert len(first) == len(deep)
    sql = " ".join(q["sql"].upper() for q in deep.captured_queries)
    assert "OFFSET" not in sql
    assert "COUNT(" not in sql  # tab counts come from the cache


def test_empty_organization_is_guided_to_connect_a_marketplace(client, shop):
    body = client.get(reverse("orders:order_list")).content.decode()
    assert "Connect your first marketplace" in body
    assert reverse("connections:connection_create") in body


def test_poll_reports_new_and_updated_orders_since_the_page_was_drawn(client, shop):
    conn = make_connection(shop)
    make_orders(conn, 2)
    since = timezone.now()
    assert "new order" not in client.get(reverse("orders:order_poll"), {"since": since.isoformat()}).content.decode()
    make_orders(conn, 3, start=10)
    make_orders(conn, 1, start=0, status="shipped", marketplace_updated_at=timezone.now())  # R0 changed at the marketplace
    make_orders(conn, 1, start=1)  # R1 re-read, unchanged: not "updated"
    body = client.get(reverse("orders:order_poll"), {"since": since.isoformat()}).content.decode()
    assert "3 new orders" in body and "1 updated" in body
    filtered = client.get(reverse("orders:order_poll"), {"since": since.isoformat(), "status": "shipped"}).content.decode()
    assert "new order" not in filtered and "1 updated" in filtered


def test_poll_query_is_cheap(client, shop):
    conn = make_connection(shop)
    make_orders(conn, 30)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    with CaptureQueriesContext(db) as queries:
        client.get(reverse("orders:order_poll"), {"since": since})
    order_queries = [q for q in queries.captured_queries if '"orders_order"' in q["sql"]]
    assert len(order_queries) == 1 and "COUNT(" in order_queries[0]["sql"].upper()


def test_order_book_escapes_payload_html(client, shop):
    conn = make_connection(shop)
    order_record_ = order_record(1, customer="<script>alert('x')</script>")
    from orders.services import order_upsert_page

    order_upsert_page(connection=conn, records=[order_record_])
    body = client.get(reverse("orders:order_list")).content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body


def test_tab_counts_of_a_small_organization_are_always_fresh(client, shop):
    conn = make_connection(shop)
    assert '>All <span class="count">0</span>' in client.get(reverse("orders:order_list")).content.decode()
    make_orders(conn, 4)
    assert '>All <span class="count">4</span>' in client.get(reverse("orders:order_list")).content.decode()


def test_search_counts_identifier_matches_and_does_not_rescan_for_names(client, shop):
    conn = make_connection(shop)
    make_orders(conn, 3, status="shipped")
    body = client.get(reverse("orders:order_list"), {"q": "R-SKU-1"}).content.decode()
    counts = dict(re.findall(r'data-tab="(\w+)">[^<]*<span class="count">(\d+)</span>', body))
    assert counts["shipped"] == "1" and counts["ready"] == "0"
    body = client.get(reverse("orders:order_list"), {"q": "Customer"}).content.decode()
    assert _ids(client.get(reverse("orders:order_list"), {"q": "Customer"})) == ["R2", "R1", "R0"]
    assert 'data-tab="shipped">Shipped</a>' in body  # no count: it would scan the organization a second time


def test_the_order_book_walks_every_order_once_through_its_pager(client, shop, settings):

    settings.ORDER_TAB_COUNTS_CACHE_MIN_ROWS = 0  # the tab counts come from the cache, as for a large organization
    make_orders(make_connection(shop), 120)
    client.get(reverse("orders:order_list"))
    rows, queries = walk(client, reverse("orders:order_list"))
    assert [o.pk for o in rows] == list(Order.objects.order_by("-placed_at", "-id").values_list("pk", flat=True))
    assert len(queries) == 3 and len(set(queries)) == 1


@pytest.mark.parametrize("query", [
    {"after": "junk"}, {"before": "e30"}, {"after": "A" * 600}, {"page": "2"}, {"partial": "x" * 400},
    # cursors of the right shape holding what the list's key cannot be compared with (500s before)
    {"after": encode_cursor("abc", 1)}, {"before": encode_cursor(1e308, 10**40)},
    {"after": encode_cursor(datetime(1, 1, 1, tzinfo=fixed_zone(timedelta(hours=14))), 1)},
])
def test_a_junk_cursor_or_view_starts_the_order_book_at_the_top(client, shop, query):
    make_orders(make_connection(shop), 60)
    top = _ids(client.get(reverse("orders:order_list")))
    response = client.get(reverse("orders:order_list"), query, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and _ids(response) == top and "<html" in response.content.decode()


@pytest.mark.parametrize("field, value, says", [
    ("date_from", "2026-13-45", "Enter a valid date."),
    ("connection", "abc", "Select a valid choice."),
    ("connection", "99999999999999999999", "Select a valid choice."),
    ("marketplace", "x" * 400, "Select a valid choice."),
    ("q", "x" * 400, "Ensure this value has at most 200 characters"),
    ("sort", "\x00", "Select a valid choice."),
    # The ends of the calendar: a day added to 9999-12-31 overflowed (a 500, issue 10).
    ("date_to", "9999-12-31", "Give a date between 1900-01-01 and 2999-12-31."),
    ("date_from", "0001-01-01", "Give a date between 1900-01-01 and 2999-12-31."),
])
def test_a_junk_filter_is_named_beside_its_field_and_the_list_still_shows(client, shop, field, value, says):
    make_orders(make_connection(shop), 3)
    response = client.get(reverse("orders:order_list"), {field: value})
    body = response.content.decode()
    assert response.status_code == 200 and says in body and len(_ids(response)) == 3


@pytest.mark.parametrize("since, status", [
    ("2026-13-45T00:00:00+00:00", 400), ("2026-11-01T12:00:00", 400), ("yesterday", 400), ("x" * 400, 400), ("", 200),
    ("9999-12-31T23:59:59-12:00", 400), ("0001-01-01T00:00:00+14:00", 400),  # beyond the calendar once in UTC
])
def test_the_live_cue_answers_a_junk_moment_without_an_error(client, shop, since, status):
    make_orders(make_connection(shop), 2)
    response = client.get(reverse("orders:order_poll"), {"since": since})
    assert response.status_code == status and response.content == b""
    assert client.get(reverse("orders:order_poll")).status_code == 200
