"""Back Market listing writes: single update and bulk CSV, validated locally, audited, followed to the end."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from connections.models import AuditEntry, EntitySync
from listings import writes as services
from listings.models import BulkListingTask, Listing
from marketsync.sync.runner import run_entity_sync
from marketsync.sync.writes import WriteRefused
from tests.marketplaces.backmarket.fixtures import *  # noqa: F403  (the Back Market fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def listings(connection, transport):
    run_entity_sync(EntitySync.objects.get(connection=connection, entity="listings").pk, transport=transport)
    transport.requests.clear()
    return Listing.objects.filter(connection=connection)


def test_update_sends_only_changes_audits_and_rereads(listings, transport, bm, owner):
    listing = listings.get(external_id=bm.listings[3]["id"])
    updated = services.listing_update(listing=listing, price="149,90", quantity=0, user=owner, transport=transport)
    post = [r for r in transport.requests if r.method == "POST"][0]
    assert post.url.path.endswith(f"/ws/listings/{listing.external_id}")
    assert post.read() == b'{"price":"149.90","quantity":0}'
    assert updated.price == Decimal("149.90") and updated.quantity == 0 and updated.publication_state == "3"
    entry = AuditEntry.objects.get(action="listing_update")
    assert (entry.outcome, entry.user, entry.target_id, entry.request_summary["price"]) == ("success", owner, listing.external_id, "149.90")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"price": "abc"}, "Price must be a number"),
        ({"price": "-3"}, "positive"),
        ({"quantity": "-1"}, "Quantity must be at least 0"),
        ({"warranty_delay": 6}, "Warranty must be at least 12"),
        ({"comment": "x" * 501}, "at most 500"),
        ({"price": "1e308"}, "at most 999999999999.99"),
        ({"price": "NaN"}, "positive number"),
        ({"price": "sNaN"}, "positive number"),
        ({"price": "0.004"}, "positive number"),
        ({"quantity": 10**23}, "Quantity must be at most 2147483647"),
        ({"quantity": "1e23"}, "Quantity must be a whole number"),
        ({"warranty_delay": "9" * 40}, "Warranty must be at most"),
        ({"min_price": "100000"}, "cannot be above the price"),
        ({}, "Nothing to change"),
    ],
)
def test_invalid_update_never_reaches_back_market(listings, transport, fields, message):
    listing = listings.first()
    with pytest.raises(WriteRefused, match=message):
        services.listing_update(listing=listing, transport=transport, **fields)
    assert transport.requests == []
    entry = AuditEntry.objects.get(action="listing_update")
    assert entry.outcome == "failure" and entry.request_summary["refused_locally"]


def test_back_market_refusal_is_reported_and_audited(listings, transport, bm):
    listing = listings.get(external_id=bm.listings[0]["id"])
    assert listing.min_price is None
    bm.listings[0]["min_price"] = "500.00"  # set at Back Market since the last sync
    with pytest.raises(WriteRefused, match="min_price cannot be above price"):
        services.listing_update(listing=listing, price="100", transport=transport)
    assert len(transport.requests) == 1
    entry = AuditEntry.objects.get(action="listing_update")
    assert entry.outcome == "failure" and "min_price" in entry.error


@pytest.mark.parametrize(
    ("content", "delimiter", "errors"),
    [
        ("price,quantity\n10,1\n", ",", ["Line 1: the required column 'sku' is missing."]),
        ("sku;price\nA;10\n", ",", ["Line 1: the required column 'sku' is missing (is the delimiter right?"]),
        ("sku,price,quantity\nA,ten,1\nB,10,-1\nC,10\n", ",", ["Line 2: price must be a number (got 'ten').",
                                                               "Line 3: quantity must be at least 0 (got -1).",
                                                               "Line 4: 2 fields, the header has 3."]),
        # A price or a quantity past what anyone means (and past the columns): these were sent (issue 10).
        ("sku,price,quantity\nA,1e308,1\nB,10,100000000000000000000000\nC,0.001,1\n", ",", [
            "Line 2: price must be a positive number of at most 999999999999.99 (got '1e308').",
            "Line 3: quantity must be at most 2147483647 (got '100000000000000000000000').",
            "Line 4: price must be a positive number of at most 999999999999.99 (got '0.001')."]),
        ("sku,quantity,warranty_delay,comment\nA,1e23,6,ok\nB,1,12,\"bad\x00comment\"\n", ",", [
            "Line 2: quantity must be a whole number (got '1e23').", "Line 2: warranty_delay must be at least 12 (got 6).",
            "Line 3: comment contains a control character"]),
        ("sku,title\n" + "S" * 121 + ",x\nB,\"Pho\x1bne\"\n", ",", ["Line 2: sku must be at most 120 characters (got 121).",
                                                                  "Line 3: title contains a control character"]),
        ("sku,price\nA,10\na,11\n", ",", ["Line 3: sku a already on line 2."]),
        ('sku,comment\nA,"open quote\n', ",", ["Line 2: unexpected end of data"]),
        ("", ",", ["The CSV is empty."]),
    ],
)
def test_bulk_csv_errors_are_listed_by_line_and_nothing_is_sent(connection, transport, content, delimiter, errors):
    with pytest.raises(WriteRefused) as caught:
        services.bulk_listing_submit(connection=connection, content=content, delimiter=delimiter, transport=transport, enqueue=False)
    for expected, got in zip(errors, caught.value.errors, strict=False):
        assert got.startswith(expected.rstrip(".")) or expected in got
    assert len(caught.value.errors) >= len(errors)
    assert transport.requests == []
    assert AuditEntry.objects.get(action="listings_bulk").outcome == "failure"
    assert not BulkListingTask.objects.exists()


def test_bulk_csv_over_15000_lines_is_refused_locally(connection, transport):
    content = "sku,quantity\n" + "".join(f"S{n},1\n" for n in range(15_000))
    with pytest.raises(WriteRefused, match="15001 lines"):
        services.bulk_listing_submit(connection=connection, content=content, transport=transport, enqueue=False)
    assert transport.requests == []


def test_semicolon_csv_with_single_quotes_is_accepted(connection, transport, bm):
    sku = bm.listings[0]["sku"]
    task = services.bulk_listing_submit(connection=connection, content=f"sku;comment\n{sku};'Batterie; neuve'\n",
                                        delimiter=";", quotechar="'", transport=transport, enqueue=False)
    assert task.line_count == 1
    body = [r for r in transport.requests if r.method == "POST"][0].read()
    assert b'"delimiter":";"' in body and b'"quotechar":"\'"' in body


def test_bulk_task_polled_to_success_stores_results_and_triggers_a_listing_sync(
    listings, transport, bm, owner, django_capture_on_commit_callbacks
):
    known = bm.listings[0]["sku"]
    content = f"sku,price,quantity,ean\n{known},321.00,7,\nUNKNOWN-SKU,10,1,\nNEW-SKU,15,2,1234567890123\n"
    task = services.bulk_listing_submit(connection=listings.first().connection, content=content, file_name="prices.csv",
                                        user=owner, transport=transport, enqueue=False)
    assert task.status == "submitted" and task.marketplace_task_id and task.line_count == 3
    task = services.bulk_listing_poll(task=task, transport=transport)
    assert task.status == "pending" and task.polls == 1
    with django_capture_on_commit_callbacks() as callbacks:
        task = services.bulk_listing_poll(task=task, transport=transport)
    assert task.status == "success" and task.finished_at
    results = {r.sku: r for r in task.results.all()}
    assert results[known].success and results["NEW-SKU"].success
    assert not results["UNKNOWN-SKU"].success and "product_id or ean" in results["UNKNOWN-SKU"].message
    assert "1 SKU(s) refused" in task.error
    assert len(callbacks) == 1  # the listings sync that follows
    assert EntitySync.objects.get(connection=task.connection, entity="listings").next_attempt_at is None
    assert [e.outcome for e in AuditEntry.objects.filter(target_type="bulk_task").order_by("id")] == ["success", "success"]


def test_bulk_task_that_fails_at_back_market_is_recorded_as_failed(connection, transport, bm):
    bm.control("task_outcome", {"outcome": "failure"})
    task = services.bulk_listing_submit(connection=connection, content="sku,quantity\nA,1\n", transport=transport, enqueue=False)
    services.bulk_listing_poll(task=task, transport=transport)
    task = services.bulk_listing_poll(task=task, transport=transport)
    assert task.status == "failure" and task.error == "Task has been interrupted."
    assert AuditEntry.objects.filter(action="listings_bulk_result", outcome="failure").count() == 1


def test_bulk_task_times_out(connection, transport, bm, settings):
    settings.BACKMARKET_BULK_TIMEOUT_SECONDS = 60
    task = services.bulk_listing_submit(connection=connection, content="sku,quantity\nA,1\n", transport=transport, enqueue=False)
    BulkListingTask.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    task.refresh_from_db()
    task = services.bulk_listing_poll(task=task, transport=transport)
    assert task.status == "timeout" and "had not finished" in task.error


def test_a_comment_with_a_control_character_is_refused_and_audited_as_it_can_be_stored(listings, transport):
    listing = listings.first()
    with pytest.raises(WriteRefused, match="Comment contains a control character"):
        services.listing_update(listing=listing, comment="Batterie\x00 neuve", transport=transport)
    assert transport.requests == []
    assert AuditEntry.objects.get(action="listing_update").request_summary["comment"] == "Batterie neuve"


def test_a_csv_from_excel_with_a_byte_order_mark_is_read_and_sent_without_it(connection, transport, bm):
    # Excel's "CSV UTF-8" starts with U+FEFF: the header read as "\ufeffsku", refused as missing sku (issue 10).
    sku = bm.listings[0]["sku"]
    task = services.bulk_listing_submit(connection=connection, content=f"\ufeffsku,quantity\r\n{sku},3\r\n", transport=transport,
                                        enqueue=False)
    assert task.line_count == 1
    body = [r for r in transport.requests if r.method == "POST"][0].read().decode()
    assert f'"catalog":"sku,quantity\\r\\n{sku},3\\r\\n"' in body


def test_a_refused_csv_lists_every_problem_in_the_one_error_type(connection, transport):
    content = "sku,price\n" + "".join(f"S{n},x\n" for n in range(12))
    with pytest.raises(WriteRefused, match=r"The CSV has 12 problem\(s\): Line 2: .*; and 2 more") as caught:
        services.bulk_listing_submit(connection=connection, content=content, file_name="p\x00rices.csv", transport=transport,
                                     enqueue=False)
    assert len(caught.value.errors) == 12 and caught.value.refused_locally
    entry = AuditEntry.objects.get(action="listings_bulk")
    assert entry.request_summary["file_name"] == "prices.csv" and entry.error.count("Line") == 12
