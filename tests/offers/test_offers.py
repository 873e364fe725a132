"""Offers: services, selectors, pages (scoped to the organization), reference data and the two commands."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from marketsync.sync.records import MarketOfferRecord, OfferRecord
from marketsync.sync.runner import run_entity_sync
from offers import selectors
from offers.models import MarketOffer, Offer
from offers.services import market_offer_upsert_page, offer_mark_removed, offer_upsert_page
from orders import selectors as order_selectors
from orders.models import Order
from tests.factories import make_organization, make_user
from tests.marketplaces.refurbed.sim import LoopbackServer, RecordingTransport, entity_sync, make_sim, refurbed_connection
from tests.pages import JUNK_CURSORS, shows_the_top, walk

pytestmark = pytest.mark.django_db


def offer(external_id, state="OK", **kw):
    return OfferRecord(external_id=external_id, sku=f"SKU-{external_id}", state=state, stock=3,
                       reference_price=Decimal("199.999"), raw={"id": external_id}, **kw)


def market_offer(offer_id, code, price="210.00"):
    return MarketOfferRecord(external_id=f"{offer_id}:{code}", offer_external_id=offer_id, market_code=code,
                             price=Decimal(price), currency="EUR", visibility="FULL", raw={})


def test_upsert_is_idempotent_and_reappearing_offers_are_restored():
    conn = refurbed_connection()
    result = offer_upsert_page(connection=conn, records=[offer("1"), offer("2"), offer("1")])
    assert (result.created, result.changed) == (2, 0)
    assert Offer.objects.get(external_id="1").reference_price == Decimal("200.00")
    started = timezone.now() + timedelta(seconds=1)
    assert offer_mark_removed(connection=conn, seen_before=started) == 2
    assert offer_mark_removed(connection=conn, seen_before=started) == 0
    result = offer_upsert_page(connection=conn, records=[offer("1", state="PENDING_REVIEW")])
    assert result.changed == 1
    restored = Offer.objects.get(external_id="1")
    assert restored.removed_at is None and restored.state == "PENDING_REVIEW"
    assert Offer.objects.get(external_id="2").removed_at is not None


def test_selectors_filter_by_state_hide_removed_and_stay_in_the_organization():
    conn = refurbed_connection()
    other = refurbed_connection(make_organization("other"))
    offer_upsert_page(connection=conn, records=[offer("1"), offer("2", state="REJECTED"), offer("3")])
    offer_upsert_page(connection=other, records=[offer("9")])
    market_offer_upsert_page(connection=conn, records=[market_offer("1", "DE"), market_offer("1", "AT"), market_offer("3", "FR")])
    Offer.objects.filter(external_id="3").update(removed_at=timezone.now())
    org = conn.organization
    assert {o.external_id for o in selectors.offer_page(organization=org).rows} == {"1", "2"}
    assert {o.external_id for o in selectors.offer_page(organization=org, include_removed=True).rows} == {"1", "2", "3"}
    assert [o.external_id for o in selectors.offer_page(organization=org, state="REJECTED").rows] == ["2"]
    assert len(selectors.offer_page(organization=org, limit=1).rows) == 1
    assert selectors.offer_get(organization=org, external_id="9") is None
    assert [m.market_code for m in selectors.market_offer_list(organization=org, offer_external_ids=["1"])] == ["AT", "DE"]
    assert selectors.market_offer_list(organization=other.organization, offer_external_ids=["1"]) == []


def test_order_selectors_for_a_refurbed_merchant():
    app = make_sim(orders=40)
    conn = refurbed_connection()
    run_entity_sync(entity_sync(conn, "orders").pk, transport=RecordingTransport(app))
    org = conn.organization
    newest = order_selectors.order_detail_get(organization=org, pk=Order.objects.order_by("-placed_at", "-id").first().pk)
    order = order_selectors.order_get(organization=org, external_id=newest.external_id, marketplace="refurbed")
    assert order == newest
    items = order_selectors.order_detail_items(order=order)
    assert items and order_selectors.order_item_get(organization=org, external_id=items[0].external_id).order == order
    assert order_selectors.order_item_get(organization=org, pk=items[0].pk, marketplace="refurbed") == items[0]
    assert order_selectors.order_get(organization=make_organization("else"), pk=order.pk) is None
    assert order_selectors.order_list_by_reference(organization=None, reference=str(order.pk)) == [order]
    assert order_selectors.order_list_by_reference(organization=org, reference=order.external_id) == [order]
    assert order_selectors.order_list_by_reference(organization=make_organization("other"), reference=order.external_id) == []
    assert order_selectors.order_list_by_reference(organization=None, reference="9" * 40) == []


def test_offer_pages_are_scoped_and_hide_removed_offers_by_default(client):
    conn = refurbed_connection()
    other = refurbed_connection(make_organization("other"))
    offer_upsert_page(connection=conn, records=[offer("1"), offer("2")])
    offer_upsert_page(connection=other, records=[offer("77")])
    market_offer_upsert_page(connection=conn, records=[market_offer("1", "DE")])
    Offer.objects.filter(external_id="2").update(removed_at=timezone.now())
    make_user("owner", conn.organization)
    client.login(username="owner", password="pw")
    page = client.get(reverse("offers:offer_list")).content.decode()
    assert "SKU-1" in page and "SKU-2" not in page and "SKU-77" not in page and "DE 210.00 EUR" in page
    assert "SKU-2" in client.get(reverse("offers:offer_list") + "?removed=1").content.decode()
    mine = Offer.objects.get(external_id="1")
    assert client.get(reverse("offers:offer_detail", args=[mine.pk])).status_code == 200
    theirs = Offer.objects.get(external_id="77")
    assert client.get(reverse("offers:offer_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("offers:reference", args=[other.pk])).status_code == 404


def test_reference_page_command_and_sync_command_against_the_simulator_on_loopback(client):
    app = make_sim(orders=30)
    with LoopbackServer(app) as server:
        conn = refurbed_connection(base_url=f"{server.base}/refurbed")
        make_user("owner", conn.organization)
        client.login(username="owner", password="pw")
        page = client.get(reverse("offers:reference", args=[conn.pk]) + "?instance=31000&category_type=ELECTRONICS")
        html = page.content.decode()
        assert page.status_code == 200 and "Germany" in html and "Standard EU" in html and "iPhone 13" in html
        assert "Smartphones" in html
        out = StringIO()
        call_command("refurbed", "markets", "--connection", str(conn.pk), stdout=out)
        assert "DE" in {m["code"] for m in json.loads(out.getvalue())}
        out = StringIO()
        call_command("refurbed", "currency", "sek", "--connection", str(conn.pk), stdout=out)
        assert json.loads(out.getvalue())["code"] == "SEK"
        for args in (["market"], ["instance", "999"]):
            with pytest.raises(CommandError):
                call_command("refurbed", *args, "--connection", str(conn.pk), stdout=StringIO())
        out = StringIO()
        call_command("sync", "--connection", str(conn.pk), stdout=out, stderr=StringIO())
        lines = out.getvalue().strip().splitlines()
        assert len(lines) == 3 and all(" ok seen=" in line for line in lines)
        assert MarketOffer.objects.filter(connection=conn).exists()
        app["refurbed"].control("revoke_token", {})
        out = StringIO()
        with pytest.raises(CommandError, match="1 of 1"):
            call_command("sync", "--connection", str(conn.pk), "--entity", "offers", stdout=out, stderr=StringIO())
        assert "re-issue the token" in out.getvalue()


def test_reference_command_refuses_a_connection_without_a_token_or_of_another_marketplace():
    conn = refurbed_connection()
    conn.wipe_credentials()
    conn.save()
    with pytest.raises(CommandError, match="no API token"):
        call_command("refurbed", "markets", "--connection", str(conn.pk), stdout=StringIO())
    from tests.factories import make_connection

    other = make_connection(make_organization("bm"), "backmarket")
    with pytest.raises(CommandError, match="not Refurbed"):
        call_command("refurbed", "markets", "--connection", str(other.pk), stdout=StringIO())
    with pytest.raises(CommandError, match="No connection"):
        call_command("refurbed", "markets", "--connection", "999999", stdout=StringIO())


# --- the offer list by keyset, junk input -----------------------------------------------------------------------


@pytest.fixture
def many_offers(client):
    conn = refurbed_connection()
    start = timezone.now()
    Offer.objects.bulk_create(
        Offer(organization=conn.organization, connection=conn, external_id=str(n), sku=f"SKU-{n}", state="OK" if n % 4 else "REJECTED",
              marketplace_created_at=None if n % 23 == 0 else start - timedelta(hours=n // 3))
        for n in range(230)
    )
    market_offer_upsert_page(connection=conn, records=[market_offer(str(n), code) for n in range(0, 230, 7) for code in ("DE", "AT")])
    make_user("owner", conn.organization)
    client.login(username="owner", password="pw")
    return conn


def test_the_offer_list_walks_every_offer_once_newest_first_with_its_market_offers(client, many_offers):
    from django.db.models import F


    rows, queries = walk(client, reverse("offers:offer_list"))
    assert rows == list(Offer.objects.order_by(F("marketplace_created_at").desc(nulls_first=True), "-id"))
    assert len(queries) == 3 and len(set(queries)) == 1
    rejected, _ = walk(client, reverse("offers:offer_list"), {"state": "REJECTED"})
    assert len(rejected) == 58 and {o.state for o in rejected} == {"REJECTED"}
    last = client.get(reverse("offers:offer_list"), {"state": "REJECTED"}).content.decode()
    assert "AT 210.00 EUR" in last and "DE 210.00 EUR" in last


@pytest.mark.parametrize("query", JUNK_CURSORS)
def test_a_junk_cursor_or_an_old_page_number_starts_at_the_newest_offer(client, many_offers, query):
    assert shows_the_top(client, reverse("offers:offer_list"), query)


def test_a_junk_state_is_named_beside_its_field_and_every_offer_shows(client, many_offers):
    response = client.get(reverse("offers:offer_list"), {"state": "x" * 400})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert len(response.context["page"].rows) == 100


def test_junk_reference_look_ups_are_named_beside_their_field():
    app = make_sim(orders=5)
    with LoopbackServer(app) as server:
        conn = refurbed_connection(base_url=f"{server.base}/refurbed")
        make_user("owner", conn.organization)
        from django.test import Client

        client = Client()
        client.login(username="owner", password="pw")
        url = reverse("offers:reference", args=[conn.pk])
        response = client.get(url, {"instance": "abc", "category_type": "toys", "lang": "2026-13-45"})
        body = response.content.decode()
        assert response.status_code == 200 and "An instance id is a number" in body
        assert body.count("Select a valid choice") == 2 and "Germany" in body
        response = client.get(url, {"instance": "1" * 400, "category_type": "electronics"})
        body = response.content.decode()
        assert "Ensure this value has at most 20 characters" in body and "Smartphones" in body
