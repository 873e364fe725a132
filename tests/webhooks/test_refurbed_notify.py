"""Refurbed's Instant Order Notification: a POST of ``{"order_id": <number>}`` on the connection's token path
refreshes that order at once (and only that order); junk is a 400 that says why, an unknown token a 404."""

import httpx
import pytest
import respx
from django.core.cache import cache

from orders.models import Order
from tests.factories import make_user
from tests.marketplaces.bricklink.helpers import CountingTransport, brickowl_connection
from tests.marketplaces.refurbed.sim import make_sim, refurbed_connection

pytestmark = pytest.mark.django_db

SHOP = "http://shop.test"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sim():
    return make_sim(orders=20)


@pytest.fixture
def routed(sim, client):
    """Workers reach the in-process simulator at http://sim; the simulator's notification reaches this site at
    http://shop.test (fake HTTP at the transport only)."""
    transport = CountingTransport(sim)

    def to_site(request: httpx.Request) -> httpx.Response:
        answer = client.post(request.url.path, data=request.content, content_type="application/json")
        return httpx.Response(answer.status_code, content=answer.content)

    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="sim").mock(side_effect=lambda request: transport.handle_request(request))
        mock.route(host="shop.test").mock(side_effect=to_site)
        yield transport


def _post(client, token, body):
    return client.post(f"/webhooks/refurbed/{token}/", data=body, content_type="application/json")


def test_the_simulators_notification_refreshes_that_order_and_a_repeat_stores_nothing_twice(
    client, sim, routed, eager_celery, django_capture_on_commit_callbacks
):
    connection = refurbed_connection()
    order_id = sim["refurbed"].control("add_orders", {"count": 1})["ids"][0]
    url = f"{SHOP}/webhooks/refurbed/{connection.webhook_token}/"
    with django_capture_on_commit_callbacks(execute=True):
        answer = sim["refurbed"].control("notify", {"url": url, "order_id": order_id})
    assert answer == {"status": 200, "statuses": [200], "order_id": order_id}
    order = Order.objects.get(connection=connection, external_id=order_id)
    items = order.items.count()
    assert items > 0 and Order.objects.filter(connection=connection).count() == 1  # that order, not a sync
    called = [r for r in routed.requests if r.url.path.endswith("/GetOrder")]
    assert len(called) == 1 and b'"' + order_id.encode() + b'"' in called[0].content
    # Delivered at least once: Refurbed repeats it (past the dedupe window too); one order, its items once.
    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert sim["refurbed"].control("notify", {"url": url, "order_id": order_id, "times": 2})["statuses"] == [200, 200]
    assert Order.objects.filter(connection=connection).count() == 1 and order.items.count() == items


def test_repeats_within_seconds_enqueue_one_refresh(client, django_capture_on_commit_callbacks):
    connection = refurbed_connection()
    with django_capture_on_commit_callbacks() as callbacks:
        for body in (b'{"order_id": 1234}', b'{"order_id": "1234"}', b'{"order_id": 1234}'):
            assert _post(client, connection.webhook_token, body).status_code == 200
    assert len(callbacks) == 1


@pytest.mark.parametrize("body, why", [
    (b"", b"the body must be JSON"), (b"\x00\xff", b"the body must be JSON"), (b"[" * 100_000, b"the body is too large"),
    (b"[" * 4000, b"the body must be JSON"), (b"1e999", b"order_id must be a number"), (b"[1]", b"order_id must be a number"),
    (b'{"id": 1}', b"order_id must be a number"), (b'{"order_id": true}', b"order_id must be a number"),
    (b'{"order_id": 1.5}', b"order_id must be a number"), (b'{"order_id": "1\\n"}', b"order_id must be a number"),
    (b'{"order_id": "1\\u0000"}', b"order_id must be a number"), (b'{"order_id": null}', b"order_id must be a number"),
    (b'{"order_id": 0}', b"order_id is not an order id"), (b'{"order_id": -5}', b"order_id is not an order id"),
    (b'{"order_id": 9223372036854775808}', b"order_id is not an order id"),
    (b'{"order_id": ' + b"9" * 5000 + b"}", b"the body is too large"),
    (b'{"order_id": ' + b"9" * 4000 + b"}", b"order_id"),
])
def test_a_junk_notification_is_a_400_that_says_why_and_enqueues_nothing(
    client, django_capture_on_commit_callbacks, body, why
):
    connection = refurbed_connection()
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(client, connection.webhook_token, body)
    assert response.status_code == 400 and response.content.startswith(why) and callbacks == []


@pytest.mark.parametrize("token", ["%00", "a%00b", "%01", "x" * 65, "%ff", "abc%0a", "not-a-token"])
def test_an_unknown_token_is_a_404_and_the_wrong_method_a_405(client, token):
    connection = refurbed_connection()
    owl = brickowl_connection(connection.organization)
    assert _post(client, token, b'{"order_id": 1}').status_code == 404
    assert _post(client, owl.webhook_token, b'{"order_id": 1}').status_code == 404  # another marketplace's token
    assert client.get(f"/webhooks/refurbed/{connection.webhook_token}/").status_code == 405
    connection.enabled = False
    connection.save(update_fields=["enabled"])
    assert _post(client, connection.webhook_token, b'{"order_id": 1}').status_code == 404


def test_the_refurbed_card_shows_its_notification_address_to_owners(client):
    connection = refurbed_connection()
    address = f"http://testserver/webhooks/refurbed/{connection.webhook_token}/"
    client.force_login(make_user("owner", connection.organization, role="owner"))
    assert address in client.get("/connections/").content.decode()
    client.force_login(make_user("member", connection.organization, role="member"))
    assert connection.webhook_token not in client.get("/connections/").content.decode()
