"""The Back Market client against the simulator in-process: headers, hosts, every endpoint, paging, errors, dates."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from marketsync.marketplaces.backmarket.client import base_url_for, parse_datetime
from marketsync.simulator.backmarket import minimal_pdf
from marketsync.sync.clients import marketplace_client
from marketsync.sync.errors import AuthError, InvalidRequest, NotFound, RateLimited, TransientError
from tests.factories import make_connection

pytestmark = pytest.mark.django_db


def client_for(connection, transport, slept=None):
    http = httpx.Client(transport=transport)
    return marketplace_client(connection, http, sleep=(slept.append if slept is not None else lambda s: None))


def test_every_call_carries_the_headers_back_market_requires(settings, connection, transport):
    settings.BACKMARKET_USER_AGENT_COMPANY = "Acme"
    settings.BACKMARKET_USER_AGENT_EMAIL = "ops@acme.example"
    client = client_for(connection, transport)
    client.order_get(next(iter(transport.app["backmarket"].orders)))
    client.listing_pages().__next__()
    token = connection.credentials["api_key"]
    for request in transport.requests:
        assert request.headers["Authorization"] == f"Basic {token}"
        assert request.headers["Accept-Language"] == "fr-fr"
        assert request.headers["Accept"] == "application/json"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"] == "BM-Acme-marketsync;ops@acme.example"


@pytest.mark.parametrize(
    ("platform", "environment", "host"),
    [
        ("eu", "production", "https://www.backmarket.fr"),
        ("eu", "sandbox", "https://preprod.backmarket.fr"),
        ("us", "production", "https://www.backmarket.com"),
        ("us", "sandbox", "https://preprod.backmarket.com"),
        ("ap", "production", "https://www.backmarket.co.jp"),
        ("ap", "sandbox", "https://preprod.backmarket.co.jp"),
    ],
)
def test_host_follows_platform_and_environment(platform, environment, host):
    assert base_url_for(platform=platform, environment=environment) == host
    assert base_url_for(platform=platform, environment=environment, base_url="http://proxy.test/bm/") == "http://proxy.test/bm"


def test_orders_are_paged_by_50_following_next_to_the_last_page(connection, transport, bm):
    client = client_for(connection, transport)
    pages = list(client.order_pages())
    visible = [o for o in bm.orders.values() if o["state"] not in (0, 8)]
    assert [len(p.results) for p in pages[:-1]] == [50] * (len(pages) - 1)
    assert sum(len(p.results) for p in pages) == pages[0].count == len(visible)
    assert pages[-1].next is None
    assert len({o["order_id"] for p in pages for o in p.results}) == len(visible)
    assert all("page-size=50" in str(r.url) for r in transport.requests)


def test_order_date_modification_filter_is_on_or_after(connection, transport, bm):
    client = client_for(connection, transport)
    since = bm.clock.now() - timedelta(hours=6)
    got = [o for p in client.order_pages(date_modification=since) for o in p.results]
    assert got
    assert all(parse_datetime(o["date_modification"]) >= since for o in got)
    assert len(got) < len(bm.orders)


def test_every_order_endpoint(connection, transport, bm):
    client = client_for(connection, transport)
    order = next(o for o in bm.orders.values() if o["state"] == 1 and len(o["lines"]) == 1)
    line = bm.lines[order["lines"][0]]
    assert client.order_get(order["order_id"])["order_id"] == order["order_id"]
    accepted = client.order_update(order["order_id"], {"new_state": 2, "sku": line["listing"]})
    assert accepted["state"] == 3 and accepted["orderlines"][0]["state"] == 2
    assert client.orderline_identifiers(line["id"], imei="490154203237518") == {"imei": "490154203237518", "serial_number": ""}
    client.invoice_upload(order["order_id"], filename="inv.pdf", content=minimal_pdf("invoice"))
    assert bm.invoices[order["order_id"]][0][0] == "inv.pdf"
    shipped = client.order_update(order["order_id"], {"new_state": 3, "tracking_number": "TRK1", "shipper": "UPS"})
    assert shipped["state"] == 9 and shipped["tracking_number"] == "TRK1"


def test_every_listing_and_task_endpoint(connection, transport, bm):
    client = client_for(connection, transport)
    listing = bm.listings[0]
    assert client.listing_get(listing["id"])["statuscode"] == 200
    assert client.listing_get(str(listing["listing_id"]))["id"] == listing["id"]
    assert client.listing_detail(sku=listing["sku"].lower())["id"] == listing["id"]
    updated = client.listing_update(listing["id"], {"price": "199.00", "quantity": 0})
    assert (updated["price"], updated["quantity"], updated["publication_state"]) == ("199.00", 0, 3)
    task_id = client.listings_bulk(catalog=f"sku,price\n{listing['sku']},150.00\n")
    assert client.task_get(task_id)["action_status"] == 2
    done = client.task_get(task_id)
    assert done["action_status"] == 9 and listing["sku"] in done["result"]["product_success"]
    assert len([r for p in client.listing_pages() for r in p.results]) == len(bm.listings)


def test_every_backship_endpoint_and_labels_relative_and_absolute(connection, transport, bm):
    client = client_for(connection, transport)
    deliveries = [d for p in client.delivery_pages() for d in p.results]
    returns = [r for p in client.return_pages() for r in p.results]
    assert len(deliveries) == len(bm.deliveries) and len(returns) == len(bm.returns) > 0
    one = deliveries[0]
    assert client.delivery_get(one["shipmentId"])["order"] == one["order"]
    assert client.return_get(returns[0]["shipmentId"])["orderId"] == returns[0]["orderId"]
    assert one["labelUrl"].startswith("/")  # relative to the host
    assert client.label_url(one["labelUrl"]) == "http://sim" + one["labelUrl"]
    assert client.label_download(one["labelUrl"]).startswith(b"%PDF-1.4")
    assert client.label_download(returns[0]["label"]).rstrip().endswith(b"%%EOF")
    by_order = [d for p in client.delivery_pages(order_id=one["order"]) for d in p.results]
    assert {d["order"] for d in by_order} == {one["order"]}
    label_requests = [r for r in transport.requests if "/static/" in r.url.path]
    assert label_requests and all("Authorization" not in r.headers for r in label_requests)


def test_html_429_without_retry_after_backs_off_about_ten_seconds(connection, transport, bm):
    bm.faults.force("rate_limit")
    slept = []
    client = client_for(connection, transport, slept)
    assert client.order_get(next(iter(bm.orders)))["order_id"]
    assert len(slept) == 1 and 10 <= slept[0] <= 11


def test_html_429_that_persists_raises_rate_limited(connection, transport, bm):
    bm.faults.force("rate_limit", 10)
    client = marketplace_client(connection, httpx.Client(transport=transport), sleep=lambda s: None, max_retry_wait=25)
    with pytest.raises(RateLimited) as caught:
        client.order_get(next(iter(bm.orders)))
    assert caught.value.retry_after >= 10


@pytest.mark.parametrize("form", ["html", "challenge"])
def test_waf_403_is_transient_not_auth(connection, transport, bm, form):
    bm.control("waf", {"count": 10, "form": form})
    client = marketplace_client(connection, httpx.Client(transport=transport), sleep=lambda s: None, max_retry_wait=3)
    with pytest.raises(TransientError) as caught:
        client.order_get(next(iter(bm.orders)))
    assert not isinstance(caught.value, AuthError)
    assert "firewall" in str(caught.value)


def test_waf_403_once_is_retried_and_succeeds(connection, transport, bm):
    bm.control("waf", {"count": 1, "form": "html"})
    client = client_for(connection, transport)
    assert client.listing_get(bm.listings[0]["id"])["id"] == bm.listings[0]["id"]
    assert len(transport.requests) == 2


def test_401_is_auth_and_names_no_secret(connection, transport, bm):
    bm.control("unauthorized", {"count": 1})
    client = client_for(connection, transport)
    with pytest.raises(AuthError) as caught:
        client.order_get(next(iter(bm.orders)))
    assert connection.credentials["api_key"] not in str(caught.value)
    assert connection.credentials["api_key"] not in repr(client)


def test_wrong_token_is_auth(org, transport, bm):
    connection = make_connection(org, "backmarket", base_url="http://sim/backmarket", credentials={"api_key": "nope"})
    with pytest.raises(AuthError):
        client_for(connection, transport).order_get(next(iter(bm.orders)))


def test_404_is_not_found(connection, transport):
    client = client_for(connection, transport)
    with pytest.raises(NotFound):
        client.order_get(1)
    with pytest.raises(NotFound):
        client.listing_get("00000000-0000-4000-8000-000000000000")


def test_bare_string_400_becomes_invalid_request_with_that_message(connection, transport, bm):
    client = client_for(connection, transport)
    with pytest.raises(InvalidRequest) as caught:
        client.listing_update(bm.listings[0]["id"], {"warranty_delay": 6})
    assert "warranty_delay must be at least 12 months" in str(caught.value)
    assert caught.value.status_code == 400
    response = httpx.Client(transport=transport).post(
        "http://sim/backmarket/ws/listings", json={"quotechar": '"'},
        headers={"Authorization": f"Basic {connection.credentials['api_key']}", "User-Agent": "BM-a-b;c@d.e"},
    )
    assert response.status_code == 400 and response.json() == "parameter catalog not found"


def test_422_becomes_invalid_request(connection, transport, bm):
    client = client_for(connection, transport)
    line = next(iter(bm.lines.values()))
    with pytest.raises(InvalidRequest) as caught:
        client.orderline_identifiers(line["id"], imei="123456789012345")
    assert caught.value.status_code == 422 and "imei" in str(caught.value)


def test_illegal_transition_is_refused_by_the_simulator(connection, transport, bm):
    order = next(o for o in bm.orders.values() if o["state"] == 1)
    with pytest.raises(InvalidRequest) as caught:
        client_for(connection, transport).order_update(order["order_id"], {"new_state": 3, "tracking_number": "X"})
    assert "must be accepted" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "2026-05-11T16:02:18Z",
        "2026-05-11T18:02:18+02:00",
        "2026-05-11T16:02:18.000Z",
        "2026-05-11T16:02:18.000000Z",
        "2026-05-11T16:02:18",
        "2026-05-11 16:02:18",
        "2026-05-11T16:02:18.000+00:00",
    ],
)
def test_dates_parse_with_z_offset_fractions_or_no_zone(text):
    assert parse_datetime(text) == datetime(2026, 5, 11, 16, 2, 18, tzinfo=UTC)


def test_simulator_sends_the_three_date_styles_and_they_agree(connection, transport, bm):
    client = client_for(connection, transport)
    orders = next(client.order_pages()).results
    styles = {o["date_creation"][-6:] == "+02:00" for o in orders} | {o["date_creation"].endswith(".000Z") for o in orders}
    assert styles == {True, False}
    for data in orders:
        assert parse_datetime(data["date_creation"]) == bm.orders[data["order_id"]]["date_creation"]


def _mock_client(connection, handler):
    return marketplace_client(connection, httpx.Client(transport=httpx.MockTransport(handler)), sleep=lambda s: None,
                            max_retry_wait=0)


def test_json_403_without_waf_marks_is_an_auth_failure(connection):
    body = {"error": {"code": "forbidden", "message": "ingestion channel could be disabled"}}
    client = _mock_client(connection, lambda request: httpx.Response(403, json=body))
    with pytest.raises(AuthError, match="ingestion channel could be disabled"):
        client.listing_update("x", {"quantity": 1})


def test_5xx_is_transient_and_retry_after_is_honoured_when_sent(connection):
    client = _mock_client(connection, lambda request: httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(TransientError) as caught:
        client.order_get(1)
    assert not isinstance(caught.value, RateLimited)
    slow = {"error": {"code": "rate_limited", "message": "slow down"}}
    client = _mock_client(connection, lambda request: httpx.Response(429, headers={"Retry-After": "3"}, json=slow))
    with pytest.raises(RateLimited) as caught:
        client.order_get(1)
    assert 3 <= caught.value.retry_after <= 4


def test_locale_comes_from_the_connection_and_a_malformed_one_is_refused_before_any_request(org, transport):
    connection = make_connection(org, "backmarket", platform="eu", base_url="http://sim/backmarket", options={"locale": "EN-GB"})
    assert client_for(connection, transport).http.headers["Accept-Language"] == "en-gb"
    connection.options = {"locale": "french"}
    with pytest.raises(InvalidRequest, match="not of the form fr-fr"):
        client_for(connection, transport)
    assert transport.requests == []
