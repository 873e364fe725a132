import httpx
import pytest
import respx
from django.core.cache import cache

from inventory.catalog_sync import catalog_refresh
from inventory.models import Reservation, StockMovement
from inventory.selectors import inventory_check
from marketsync.sync.runner import run_entity_sync
from orders.models import Order
from tests.marketplaces.bricklink.helpers import (
    CountingTransport,
    bricklink_connection,
    brickowl_connection,
    entity_sync,
    simulator,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sim():
    return simulator(orders=5)


@pytest.fixture
def routed(sim):
    """Workers reach the in-process simulator at http://sim (fake HTTP at the transport only)."""
    transport = CountingTransport(sim)
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="sim").mock(side_effect=lambda request: transport.handle_request(request))
        yield transport


def _post(client, connection, body=b""):
    return client.post(f"/webhooks/bricklink/{connection.webhook_token}/", data=body, content_type="application/json")


def test_unknown_tokens_and_wrong_methods_get_nothing(client):
    bricklink = bricklink_connection()
    owl = brickowl_connection()
    assert client.post("/webhooks/bricklink/not-a-token/", data=b"", content_type="application/json").status_code == 404
    assert client.post(f"/webhooks/bricklink/{owl.webhook_token}/", data=b"", content_type="application/json").status_code == 404
    assert client.get(f"/webhooks/bricklink/{bricklink.webhook_token}/").status_code == 405
    assert client.get("/webhooks/brickowl/nope/", {"order_id": "1", "store_id": "1"}).status_code == 404
    assert client.get("/brick_owl_order_notify", {"order_id": "1", "store_id": "999"}).status_code == 404
    assert client.get(f"/webhooks/brickowl/{owl.webhook_token}/", {"order_id": "1; drop", "store_id": "1"}).status_code == 400
    assert client.get(f"/webhooks/brickowl/{owl.webhook_token}/", {"order_id": "1", "store_id": "2"}).status_code == 404


def test_bricklink_callback_fetches_notifications_and_a_duplicate_reserves_nothing_more(
    client, sim, routed, eager_celery, django_capture_on_commit_callbacks
):
    connection = bricklink_connection()
    run_entity_sync(entity_sync(connection, "inventory").pk, transport=routed, force=True)
    order_id = str(sim["bricklink"].control("new_order", {})["order_id"])
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, connection)
    assert response.status_code == 200 and response.content == b"ok"
    assert "/bricklink/api/store/v1/notifications" in routed.paths()
    order = Order.objects.get(connection=connection, external_id=order_id)
    reserved = list(Reservation.objects.filter(order_item__order=order).values_list("quantity", flat=True))
    assert reserved and reserved == list(order.items.values_list("quantity", flat=True))
    movements = StockMovement.objects.count()
    # The same notification again (BrickLink repeats, or the callback arrives twice), past the dedupe window too.
    sim["bricklink"]._notify(int(order_id), sim.clock.now())
    cache.clear()
    body = f'[{{"event_type": "Order", "resource_id": {order_id}, "timestamp": "2026-11-23T10:00:00.000Z"}}]'.encode()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert _post(client, connection, body).status_code == 200
    assert StockMovement.objects.count() == movements
    assert Reservation.objects.filter(order_item__order=order).count() == len(reserved)
    assert inventory_check() == []


def test_repeated_callbacks_within_seconds_enqueue_one_read_now_and_one_after_the_window(
    client, django_capture_on_commit_callbacks
):
    connection = bricklink_connection()
    with django_capture_on_commit_callbacks() as callbacks:
        for _ in range(4):
            assert _post(client, connection).status_code == 200
    assert len(callbacks) == 2


def test_brick_owl_notify_on_token_path_and_fixed_path_refreshes_the_order(
    client, sim, routed, eager_celery, django_capture_on_commit_callbacks
):
    connection = brickowl_connection()
    run_entity_sync(entity_sync(connection, "inventory").pk, transport=routed, force=True)
    catalog_refresh(transport=routed)  # Brick Owl's colours and BOIDs in BrickLink's terms: every lot stored
    order_id = sim["brickowl"].control("new_order", {})["order_id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"/webhooks/brickowl/{connection.webhook_token}/", {"order_id": order_id, "store_id": "1"})
    assert response.status_code == 200 and response.content == b"ok"
    order = Order.objects.get(connection=connection, external_id=order_id)
    holds = Reservation.objects.filter(order_item__order=order).count()
    assert holds == order.items.count() > 0
    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get("/brick_owl_order_notify", {"order_id": order_id, "store_id": "1"}).status_code == 200
    assert Reservation.objects.filter(order_item__order=order).count() == holds
    assert StockMovement.objects.filter(kind="reserve").count() == holds
    assert httpx.URL(routed.requests[-1].url).params.get("order_id") == order_id


@pytest.mark.parametrize("token", ["%00", "a%00b", "%01", "x" * 65, "%ff", "abc%0a"])
def test_a_token_that_cannot_be_one_is_a_404_for_anyone_on_either_database(client, token):
    # A NUL reached the connection look-up, and PostgreSQL refuses one in a query: anonymous 500s (issue 10).
    brickowl_connection()
    assert client.post(f"/webhooks/bricklink/{token}/", data=b"", content_type="application/json").status_code == 404
    assert client.get(f"/webhooks/brickowl/{token}/", {"order_id": "1"}).status_code == 404


@pytest.mark.parametrize("body", [b"[" * 100_000, b"\x00\xff", b'[{"event_type": "Order", "resource_id": "1\\n"}]', b"1e999"])
def test_a_junk_bricklink_body_is_answered_like_an_empty_one(client, django_capture_on_commit_callbacks, body):
    # JSON nested past what the parser follows raised RecursionError: a 500 to whoever holds the token.
    connection = bricklink_connection()
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(client, connection, body)
    assert response.status_code == 200 and response.content == b"ok" and len(callbacks) == 1


@pytest.mark.parametrize("query", [
    {}, {"order_id": ""}, {"order_id": "1" * 21}, {"order_id": "\x00"}, {"order_id": "1", "store_id": "9" * 400},
])
def test_a_junk_brick_owl_notification_is_a_400_that_says_why(client, query):
    owl = brickowl_connection()
    for url in (f"/webhooks/brickowl/{owl.webhook_token}/", "/brick_owl_order_notify"):
        response = client.get(url, query)
        assert response.status_code == 400 and response.content in (b"order_id must be a number", b"store_id is not a store id")


def test_a_second_order_whose_callback_comes_within_the_dedupe_window_is_still_read(
    client, sim, routed, eager_celery, django_capture_on_commit_callbacks
):
    """BrickLink's callback body is empty: a callback seconds after another announces a new order, not a repeat (the
    stock latency bench found such an order waiting for the next tick)."""
    connection = bricklink_connection()
    run_entity_sync(entity_sync(connection, "inventory").pk, transport=routed, force=True)
    first = str(sim["bricklink"].control("new_order", {})["order_id"])
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, connection).status_code == 200
    assert Order.objects.filter(connection=connection, external_id=first).exists()
    second = str(sim["bricklink"].control("new_order", {})["order_id"])
    with django_capture_on_commit_callbacks(execute=True):  # within the window: the cache still holds the first
        assert _post(client, connection).status_code == 200
    order = Order.objects.get(connection=connection, external_id=second)
    assert Reservation.objects.filter(order_item__order=order).count() == order.items.count() > 0
    assert inventory_check() == []
