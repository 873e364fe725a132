import httpx
import pytest

from marketsync.marketplaces.bricklink.client import BrickLinkAuth, BrickLinkClient, flatten_batches
from marketsync.sync.errors import AuthError
from tests.marketplaces.bricklink.helpers import CountingTransport, bricklink_credentials, simulator

BASE = "http://sim/bricklink/api/store/v1"


def _client(sim, credentials=None, transport=None):
    transport = transport or CountingTransport(sim)
    return BrickLinkClient(http=httpx.Client(transport=transport), credentials=credentials or bricklink_credentials(),
                           base_url=BASE, sleep=lambda s: None), transport


def test_signature_matches_the_rfc5849_test_vector():
    auth = BrickLinkAuth(
        consumer_key="dpf43f3p2l4k3l03", consumer_secret="kd94hf93k423kf44",
        token_value="nnch734d00sl2jdk", token_secret="pfkkdhi9sl3r4s00",
        nonce=lambda: "kllo9940pd9333jh", timestamp=lambda: 1191242096,
    )
    header = auth.sign("GET", "http://photos.example.net/photos?file=vacation.jpg&size=original")
    assert 'oauth_signature="tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D"' in header


def test_signed_requests_are_verified_by_the_simulator_with_query_parameters_signed():
    client, transport = _client(simulator())
    orders = client.orders(direction="in", status="-purged,-cancelled")
    assert orders and all(o["status"] not in ("PURGED", "CANCELLED") for o in orders)
    request = transport.requests[-1]
    assert request.url.params["status"] == "-purged,-cancelled"
    assert request.headers["Authorization"].startswith("OAuth ")


def test_every_attempt_gets_a_fresh_nonce_and_a_strictly_increasing_timestamp():
    sim = simulator()
    sim["bricklink"].faults.force("server_error", 2)
    client, transport = _client(sim)
    client.orders()
    assert len(transport.requests) == 3  # two 500s retried, then the answer
    params = [dict(p.split("=", 1) for p in r.headers["Authorization"][6:].replace('"', "").split(", ")) for r in transport.requests]
    assert len({p["oauth_nonce"] for p in params}) == 3
    stamps = [int(p["oauth_timestamp"]) for p in params]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_a_signed_request_resent_as_is_is_refused_as_a_replay():
    sim = simulator()
    client, transport = _client(sim)
    client.orders()
    replay = httpx.Client(transport=httpx.WSGITransport(app=sim)).send(transport.requests[-1])
    assert replay.status_code == 200
    assert replay.json()["meta"] == {"code": 401, "message": "BAD_OAUTH_REQUEST", "description": "NONCE_USED"}


@pytest.mark.parametrize("field", ["consumer_secret", "token_secret", "consumer_key"])
def test_wrong_key_or_secret_is_an_auth_error_delivered_in_an_http_200(field):
    sim = simulator()
    credentials = {**bricklink_credentials(), field: "wrong-value"}
    client, transport = _client(sim, credentials)
    with pytest.raises(AuthError) as caught:
        client.orders()
    assert "SIGNATURE_INVALID" in str(caught.value) and "consumer key" in str(caught.value)
    assert "wrong-value" not in str(caught.value)
    assert len(transport.requests) == 1  # auth errors are not retried


def test_ip_mismatch_tells_the_user_to_register_the_ip_or_0000():
    sim = simulator()
    sim["bricklink"].control("ip_mismatch", {"on": True})
    client, _ = _client(sim)
    with pytest.raises(AuthError) as caught:
        client.orders()
    assert "TOKEN_IP_MISMATCHED" in str(caught.value) and "0.0.0.0" in str(caught.value)


def test_meta_code_401_in_an_http_200_is_an_auth_error_even_with_a_data_field():
    import respx

    with respx.mock(base_url=BASE) as mock:
        mock.get("/orders").respond(200, json={"meta": {"code": 401, "message": "BAD_OAUTH_REQUEST",
                                                        "description": "TOKEN_IP_MISMATCHED: consumer: X IP: 1.2.3.4"},
                                               "data": []})
        client = BrickLinkClient(http=httpx.Client(), credentials=bricklink_credentials(), base_url=BASE)
        with pytest.raises(AuthError, match="0.0.0.0"):
            client.orders()


def test_item_batches_are_flattened_including_an_amended_second_batch():
    sim = simulator()
    order_id = sim["bricklink"].control("new_order", {})["order_id"]
    sim["bricklink"].control("amend", {"order_id": order_id, "quantity": 3})
    client, transport = _client(sim)
    items = client.order_items(order_id)
    raw = httpx.Client(transport=httpx.WSGITransport(app=sim))
    assert len(items) == sum(len(b) for b in sim["bricklink"].orders[order_id]["batches"])
    assert items[-1]["quantity"] == 3
    assert flatten_batches([[{"a": 1}, {"a": 2}], [{"a": 3}]]) == [{"a": 1}, {"a": 2}, {"a": 3}]
    raw.close()


def test_the_simulator_serves_only_the_documented_api_root():
    client, transport = _client(simulator())
    bare = BrickLinkClient(http=client.http.http, credentials=bricklink_credentials(), base_url="http://sim/bricklink")
    with pytest.raises(Exception):  # noqa: B017 - any error: the path is not BrickLink's
        bare.orders()
    assert transport.requests[-1].url.path == "/bricklink/orders"


def test_the_simulator_also_accepts_the_authorization_json_query_form():
    import json
    from urllib.parse import quote

    from oauthlib.oauth1 import Client as OAuthClient

    sim = simulator()
    creds = bricklink_credentials()
    url = f"{BASE}/orders?direction=in"
    oauth = OAuthClient(creds["consumer_key"], client_secret=creds["consumer_secret"], resource_owner_key=creds["token_value"],
                        resource_owner_secret=creds["token_secret"], signature_type="QUERY")
    signed_url, _, _ = oauth.sign(url, http_method="GET")
    fields = dict(httpx.URL(signed_url).params)
    fields.pop("direction")
    raw = httpx.Client(transport=httpx.WSGITransport(app=sim))
    ok = raw.get(f"{url}&Authorization={quote(json.dumps(fields))}").json()
    assert ok["meta"]["code"] == 200 and ok["data"]
    fields["oauth_signature"] = "bm90IGEgc2lnbmF0dXJl"
    fields["oauth_nonce"] = "another"
    bad = raw.get(f"{url}&Authorization={quote(json.dumps(fields))}").json()
    assert bad["meta"]["description"] == "SIGNATURE_INVALID"
