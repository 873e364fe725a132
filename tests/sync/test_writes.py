"""The one write helper: checks, local validation, the audited intent, the call, its outcome, the re-read.

HTTP is faked only at the transport: the Back Market simulator in-process (``httpx.WSGITransport``) or a
``respx`` router for the answers the simulator does not give on demand.
"""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from connections.models import AuditEntry, EntitySync
from listings.models import Listing
from marketsync.sync.runner import run_entity_sync
from marketsync.sync.writes import WriteRefused, marketplace_write, refuse_control_characters
from tests.marketplaces.backmarket.fixtures import *  # noqa: F403  (the Back Market fixtures)
from tests.marketplaces.backmarket.helpers import CountingTransport

pytestmark = pytest.mark.django_db


@pytest.fixture
def listing(connection, transport):
    assert run_entity_sync(EntitySync.objects.get(connection=connection, entity="listings").pk, transport=transport).status == "ok"
    transport.requests.clear()
    return Listing.objects.filter(connection=connection, quantity__gt=0).order_by("id").first()


def take_offline(listing, **kwargs):
    """A real write: a listing's quantity to 0 at Back Market, re-read afterwards."""
    defaults = dict(
        connection=listing.connection, action="listing_update", target_type="listing", target_id=listing.external_id,
        summary={"sku": listing.sku, "quantity": 0},
        send=lambda client: client.listing_update(listing.external_id, {"quantity": 0}),
        refresh=("listings", listing.external_id),
    )
    return marketplace_write(**{**defaults, **kwargs})


def entries():
    return list(AuditEntry.objects.order_by("id"))


def test_a_write_is_audited_once_from_intent_to_success_and_the_record_is_reread(listing, transport, bm, owner):
    take_offline(listing, user=owner, transport=transport)
    [entry] = entries()
    assert (entry.outcome, entry.user, entry.actor) == ("success", owner, "owner")
    assert entry.request_summary == {"sku": listing.sku, "quantity": 0}
    assert [r.method for r in transport.requests] == ["POST", "GET"]  # the call, then the re-read
    listing.refresh_from_db()
    assert listing.quantity == 0 and listing.publication_state == "3"  # as Back Market now has it


def test_the_intent_is_written_before_the_request_leaves(listing, sim):
    seen_at_send: list[list[str]] = []

    class Watching(httpx.WSGITransport):
        def handle_request(self, request):
            seen_at_send.append(list(AuditEntry.objects.values_list("outcome", flat=True)))
            return super().handle_request(request)

    take_offline(listing, transport=Watching(app=sim), refresh=None)
    assert seen_at_send == [["pending"]]
    assert entries()[0].outcome == "success"


def test_the_intent_survives_a_crash_after_the_call_reached_the_marketplace(listing, sim, bm):
    class CrashAfterSending(CountingTransport):
        def handle_request(self, request):
            super().handle_request(request)  # Back Market has it
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError, match="worker killed"):
        take_offline(listing, transport=CrashAfterSending(sim))
    [entry] = entries()
    assert entry.outcome == "pending" and entry.request_summary == {"sku": listing.sku, "quantity": 0}
    assert "Outcome unknown" in entry.error
    assert next(item for item in bm.listings if item["id"] == listing.external_id)["quantity"] == 0


def test_a_refused_write_sends_nothing_changes_nothing_locally_and_is_audited(listing, transport):
    before = Listing.objects.values().get(pk=listing.pk)

    def validate():
        raise WriteRefused("Quantity must be at least 0 (got -1).")

    with pytest.raises(WriteRefused, match="at least 0") as caught:
        take_offline(listing, validate=validate, transport=transport)
    assert caught.value.refused_locally
    assert transport.requests == []
    assert Listing.objects.values().get(pk=listing.pk) == before
    [entry] = entries()
    assert entry.outcome == "failure" and entry.request_summary["refused_locally"] and "at least 0" in entry.error


def test_validate_may_return_the_summary_of_what_is_sent(listing, transport):
    take_offline(listing, validate=lambda: {"sku": listing.sku, "quantity": 0, "normalised": True}, transport=transport)
    assert entries()[0].request_summary == {"sku": listing.sku, "quantity": 0, "normalised": True}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"enabled": False}, "is disconnected: reconnect it"),
        ({"credentials_encrypted": ""}, "has no credentials"),
        ({"credentials_encrypted": "not-a-fernet-token"}, "credentials cannot be read"),
        ({"options": {"locale": "french"}}, "not of the form fr-fr"),
    ],
)
def test_a_connection_that_cannot_send_refuses_with_a_clear_message(listing, transport, change, message):
    connection = listing.connection
    for field, value in change.items():
        setattr(connection, field, value)
    connection.save()
    with pytest.raises(WriteRefused, match=message):
        take_offline(listing, transport=transport)
    assert transport.requests == []
    assert entries()[0].outcome == "failure" and entries()[0].request_summary["refused_locally"]


def test_a_connection_waiting_for_new_credentials_refuses(listing, transport):
    EntitySync.objects.filter(connection=listing.connection, entity="orders").update(error_kind="auth", last_error="401")
    with pytest.raises(WriteRefused, match="refused the connection's credentials: replace them"):
        take_offline(listing, transport=transport)
    assert transport.requests == []


BM = "http://sim/backmarket"


@pytest.mark.parametrize(
    ("response", "message", "recorded"),
    [
        (httpx.Response(400, json="min_price cannot be above price"),
         "Back Market refused the request \\(400\\): min_price cannot be above price", "min_price cannot be above price"),
        (httpx.Response(422, json={"error": {"code": "invalid", "message": "Invalid data"}, "data": {"fields": {"quantity": ["too big"]}}}),
         "Invalid data: quantity: too big", "quantity: too big"),
        (httpx.Response(401, json={"error": {"code": "unauthorized", "message": "bad token"}}),
         "refused the connection's credentials", "(401)"),
        (httpx.Response(404, json={"error": {"code": "not_found", "message": "gone"}}), "does not know this record", "(404)"),
        (httpx.Response(503, text="down"), "did not answer properly.*may or may not have been made", "(503)"),
    ],
)
def test_every_marketplace_error_comes_out_as_the_one_error_type(listing, response, message, recorded):
    router = respx.Router(assert_all_called=False)
    router.post(url__regex=rf"{BM}/ws/listings/.+").mock(return_value=response)
    with pytest.raises(WriteRefused, match=message) as caught:
        take_offline(listing, transport=httpx.MockTransport(router.handler))
    assert not caught.value.refused_locally
    assert listing.connection.credentials["api_key"] not in caught.value.message
    [entry] = entries()
    assert entry.outcome == "failure" and recorded in entry.error


def test_a_failed_reread_is_logged_and_the_write_still_succeeds(listing, caplog):
    router = respx.Router(assert_all_called=False)
    router.post(url__regex=rf"{BM}/ws/listings/.+").mock(return_value=httpx.Response(200, json={}))
    router.get(url__regex=rf"{BM}/ws/listings/.+").mock(return_value=httpx.Response(500))
    with caplog.at_level(logging.WARNING, logger="marketsync.sync.writes"):
        take_offline(listing, transport=httpx.MockTransport(router.handler))
    assert entries()[0].outcome == "success"
    assert "left to the next sync" in caplog.text


def test_identify_names_the_target_the_marketplace_created(connection, transport):
    task_id = marketplace_write(
        connection=connection, action="listings_bulk", target_type="bulk_task", target_id="-", summary={"lines": 2},
        send=lambda client: client.listings_bulk(catalog="sku,quantity\nA,1\n"), identify=str, transport=transport,
    )
    assert entries()[0].target_id == str(task_id)


def test_control_characters_are_refused_where_validated_and_never_reach_the_audit(listing, transport):
    with pytest.raises(WriteRefused, match="Tracking number contains a control character"):
        refuse_control_characters("Tracking number", "1Z\x0099")
    refuse_control_characters("Comment", "two\r\nlines\tand a tab")

    def validate():
        refuse_control_characters("Comment", "bad\x00comment")

    with pytest.raises(WriteRefused):
        take_offline(listing, summary={"comment": "bad\x00comment", "k\x01": ["x\x00"]}, validate=validate, transport=transport)
    entry = AuditEntry.objects.get()
    assert entry.request_summary == {"comment": "badcomment", "k": ["x"], "refused_locally": True}


@pytest.mark.django_db(transaction=True)
def test_the_intent_is_committed_so_a_write_inside_a_callers_transaction_is_refused(connection, transport):
    from django.db import transaction

    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        marketplace_write(connection=connection, action="listing_update", target_type="listing", target_id="x", summary={},
                          send=lambda client: client.listing_update("x", {"quantity": 0}), transport=transport)
    assert transport.requests == []


def test_a_failure_after_sending_keeps_the_record_of_what_was_sent_whatever_the_marketplace_answered(listing):
    # The marketplace's error text is stored as it can be: a NUL in it made PostgreSQL refuse the outcome (issue 10).
    router = respx.Router(assert_all_called=False)
    router.post(url__regex=rf"{BM}/ws/listings/.+").mock(return_value=httpx.Response(
        400, headers={"Content-Type": "application/json"}, content=b'"bad\\u0000 value \\ud83d"'))  # escaped, as JSON may
    with pytest.raises(WriteRefused) as caught:
        take_offline(listing, summary={"sku": listing.sku, "quantity": 0, "note": "sent\u0000"},
                     transport=httpx.MockTransport(router.handler))
    assert not caught.value.refused_locally
    [entry] = entries()
    entry.refresh_from_db()
    assert entry.outcome == "failure" and "bad value" in entry.error and "\x00" not in entry.error
    assert entry.request_summary == {"sku": listing.sku, "quantity": 0, "note": "sent"}


def test_an_audit_entry_never_fails_on_its_content(connection):
    # On PostgreSQL: jsonb refuses \u0000 and NaN, text refuses NUL, UTF-8 cannot hold a lone surrogate.
    from datetime import UTC, datetime
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from connections.services import audit_outcome_record, audit_record

    user = get_user_model().objects.create_user(username="u" * 150)
    entry = audit_record(
        organization=connection.organization, connection=connection, user=user, action="orderline_identifiers",
        target_type="orderline", target_id="9\x00" * 80, outcome=AuditEntry.Outcome.PENDING,
        request_summary={"serial_number": "SN\x00123\udcff", "k\x00": ["\x1b[31m", b"by\x00tes"], "price": Decimal("1e308"),
                         "nan": float("nan"), "at": datetime(2026, 1, 1, tzinfo=UTC), "ok": [1, 2.5, True, None]},
        error="refused\x00 here",
    )
    audit_outcome_record(entry=entry, outcome=AuditEntry.Outcome.FAILURE, error="after\x00 sending \ud800", target_id="t\x00")
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.request_summary == {"serial_number": "SN123", "k": ["[31m", "bytes"], "price": "1E+308", "nan": "nan",
                                      "at": "2026-01-01 00:00:00+00:00", "ok": [1, 2.5, True, None]}
    assert (stored.error, stored.target_id, stored.actor) == ("after sending ", "t", "u" * 100)
