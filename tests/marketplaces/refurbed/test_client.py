"""The Refurbed client against the simulator in-process: auth, errors, retries, paging."""

from __future__ import annotations

import httpx
import pytest

from marketsync.marketplaces.refurbed.client import RefurbedClient, classify, normalise_token
from marketsync.sync.errors import AuthError, InvalidRequest, NotFound, RateLimited
from tests.marketplaces.refurbed.sim import RecordingTransport, make_sim, token


def client(app, *, api_key=None, sleeps=None, transport=None, **kwargs):
    http = httpx.Client(transport=transport or httpx.WSGITransport(app=app))
    return RefurbedClient(http=http, token=api_key or token(), base_url="http://sim/refurbed",
                          sleep=(sleeps.append if sleeps is not None else lambda s: None), **kwargs)


def test_token_saved_with_prefix_is_sent_with_one_prefix(sim):
    transport = RecordingTransport(sim)
    seen = []
    http = httpx.Client(transport=transport, event_hooks={"request": [lambda r: seen.append(r.headers["Authorization"])]})
    c = RefurbedClient(http=http, token=f"plain   {token()}", base_url="http://sim/refurbed")
    assert c.get_market("DE")["code"] == "DE"
    assert normalise_token(f"Plain {token()}") == token()
    assert seen == [f"Plain {token()}"]


def test_wrong_token_is_an_auth_error_asking_to_reissue_and_never_shows_the_token(sim):
    bad = "sim-not-the-right-token-123456789"
    with pytest.raises(AuthError) as exc:
        client(sim, api_key=bad).list_orders()
    assert exc.value.status_code == 401
    assert "re-issue the token" in str(exc.value)
    assert bad not in str(exc.value) and bad not in repr(exc.value)


def test_token_without_permission_is_an_auth_error_asking_to_grant_it(sim):
    with pytest.raises(AuthError) as exc:
        client(sim, api_key=token("no_permissions")).list_offers()
    assert exc.value.status_code == 403
    assert "grant the permission" in str(exc.value)


def test_limit_above_100_is_an_invalid_request_with_refurbeds_message(sim):
    with pytest.raises(InvalidRequest) as exc:
        client(sim).list_orders(limit=101)
    assert "pagination limit is too large" in str(exc.value)


def test_unknown_order_is_not_found(sim):
    with pytest.raises(NotFound):
        client(sim).get_order("1")


def test_429_is_waited_out_until_the_rate_limit_reset(sim):
    sim["refurbed"].faults.force("rate_limit")
    sleeps: list[float] = []
    rows, _ = client(sim, sleeps=sleeps).list_orders(limit=5)
    assert len(rows) == 5
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 2.5  # X-RateLimit-Reset is the next second (epoch)


def test_429_beyond_the_bounded_wait_raises_rate_limited(sim):
    sim["refurbed"].faults.force("rate_limit", 10)
    with pytest.raises(RateLimited) as exc:
        client(sim, max_retry_wait=0).list_orders()
    assert exc.value.retry_after is not None


def test_server_errors_are_retried_with_backoff(sim):
    sim["refurbed"].faults.force("server_error", 2)
    sleeps: list[float] = []
    rows, _ = client(sim, sleeps=sleeps).list_offers(limit=3)
    assert len(rows) == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 1.2


def test_classify_maps_statuses():
    request = httpx.Request("POST", "http://sim/refurbed/refb.merchant.v1.OrderService/ListOrders")
    assert classify(httpx.Response(200, json={}, request=request)) is None
    error = classify(httpx.Response(400, json={"code": 3, "message": "illegal state transition"}, request=request))
    assert isinstance(error, InvalidRequest) and "illegal state transition" in str(error)
    limited = classify(httpx.Response(429, json={"code": 8}, request=request))
    assert isinstance(limited, RateLimited) and limited.retry_after == 1.0


def test_list_all_pages_across_many_pages_with_starting_after():
    app = make_sim(orders=0)
    transport = RecordingTransport(app)
    c = client(app, transport=transport)
    markets = list(c.list_all("MarketService", "ListMarkets", "markets", cursor_of=lambda r: r["code"]))
    assert len(markets) == 16
    # Force tiny pages through the raw call to check the keyset walk.
    codes, after = [], None
    while True:
        rows, has_more = c.list_page("MarketService", "ListMarkets", "markets", starting_after=after, limit=3)
        codes += [r["code"] for r in rows]
        if not has_more:
            break
        after = rows[-1]["code"]
    assert codes == sorted(m["code"] for m in markets)
    assert len(transport.calls("ListMarkets")) == 1 + 6


def test_update_order_item_state_follows_the_state_machine():
    app = make_sim(orders=50)
    c = client(app)
    sim = app["refurbed"]
    index = next(i for i, states in enumerate(sim.item_states) if states[0] == "NEW")
    item_id = str(sim.order_ids[index] * 10)
    with pytest.raises(InvalidRequest, match="illegal state transition from NEW to SHIPPED"):
        c.update_order_item_state(item_id, "SHIPPED", parcel_tracking_url="https://track.example.com/1")
    assert c.update_order_item_state(item_id, "ACCEPTED")["state"] == "ACCEPTED"
    with pytest.raises(InvalidRequest, match="tracking URL is required"):
        c.update_order_item_state(item_id, "SHIPPED")
    with pytest.raises(InvalidRequest, match="invalid parcel tracking URL"):
        c.update_order_item_state(item_id, "SHIPPED", parcel_tracking_url="not a url")
    shipped = c.update_order_item_state(item_id, "SHIPPED", parcel_tracking_url="https://track.example.com/1",
                                        item_identifiers=[{"identifier_type": "IMEI", "value": "356938035643809"}])
    assert shipped["state"] == "SHIPPED" and shipped["parcel_tracking_url"] == "https://track.example.com/1"
    assert c.get_order_item(item_id)["item_identifiers"][0]["value"] == "356938035643809"
    with pytest.raises(InvalidRequest, match="illegal state transition from SHIPPED to ACCEPTED"):
        c.update_order_item_state(item_id, "ACCEPTED")
    assert c.update_order_item_state(item_id, "RETURNED")["state"] == "RETURNED"
    with pytest.raises(InvalidRequest, match="illegal state transition"):
        c.update_order_item_state(item_id, "CANCELLED")


def test_reference_data_calls(sim):
    c = client(sim)
    assert {m["code"] for m in c.list_markets()} >= {"AT", "DE", "FR"}
    assert c.get_currency("EUR")["code"] == "EUR"
    assert [x["code"] for x in c.list_currencies()] == sorted(x["code"] for x in c.list_currencies())
    assert c.get_instance("31000")["name"]
    assert len(c.list_shipping_profiles()) == 3
    templates = c.get_catalog_templates(category_type="ELECTRONICS", lang_code="DE")
    assert templates[0]["constraints"][0]["attribute_name"] == "Farbe"
