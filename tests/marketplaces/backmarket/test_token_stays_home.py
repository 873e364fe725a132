"""The API token goes only to the connection's Back Market host, whatever a page's ``next`` link says."""

import httpx
import pytest

from marketsync.sync.clients import marketplace_client
from marketsync.sync.errors import BadResponse
from tests.factories import make_connection

pytestmark = pytest.mark.django_db


def _client(org, next_link):
    connection = make_connection(org, "backmarket", platform="eu", environment="production")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        following = next_link if request.url.params.get("page") != "2" else None
        return httpx.Response(200, json={"count": 2, "next": following, "previous": None, "results": [{"id": len(seen)}]})

    return marketplace_client(connection, httpx.Client(transport=httpx.MockTransport(handler)), sleep=lambda s: None), seen


def test_a_next_link_to_another_host_is_refused_without_sending_the_token(org):
    client, seen = _client(org, "https://collector.example/ws/orders?page=2")
    with pytest.raises(BadResponse, match="another host"):
        list(client.order_pages())
    assert [r.url.host for r in seen] == ["www.backmarket.fr"]


def test_a_plain_http_next_link_is_followed_over_https(org):
    client, seen = _client(org, "http://www.backmarket.fr/ws/orders?page=2")
    pages = list(client.order_pages())
    assert len(pages) == 2
    assert [str(r.url.scheme) for r in seen] == ["https", "https"]
    assert seen[1].url.params["page"] == "2"


def test_a_plain_http_next_link_to_the_same_page_still_stops(org):
    connection = make_connection(org, "backmarket", platform="eu", environment="production")

    def handler(request: httpx.Request) -> httpx.Response:
        body = {"count": 9, "next": "http://www.backmarket.fr/ws/orders?page=2", "previous": None, "results": [{"id": 1}]}
        return httpx.Response(200, json=body)

    client = marketplace_client(connection, httpx.Client(transport=httpx.MockTransport(handler)), sleep=lambda s: None)
    with pytest.raises(BadResponse, match="same page"):
        list(client.order_pages())
