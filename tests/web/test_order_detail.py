import json
from functools import partial

import pytest
from django.urls import reverse

from connections.models import AuditEntry
from orders.services import order_upsert_page
from tests.factories import make_connection, make_organization, make_user
from tests.web.builders import make_orders, order_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(client):
    org = make_organization("shop")
    client.force_login(make_user("owner", org))
    return org


def test_order_detail_shows_everything_stored(client, shop):
    conn = make_connection(shop, "refurbed")
    record = order_record(
        1,
        shipping_address={"name": "Ada Lovelace", "city": "London"},
        billing_address={"city": "Paris"},
        subtotal_amount=None,
        shipping_amount=None,
        raw={"id": "R1", "state": "NEW"},
    )
    record.items[0].image_url = "https://img.example/phone.jpg"
    order_upsert_page(connection=conn, records=[record])
    order = conn.orders.get()
    AuditEntry.objects.create(
        organization=shop, connection=conn, order=order, actor="user", action="set_imei",
        target_type="order_item", target_id="R1-1", outcome="success",
    )
    body = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    for expected in ("Ada Lovelace", "London", "Paris", "R-SKU-1", "RP1", "IMEI 350000000000001", "https://img.example/phone.jpg",
                     "set_imei", "TRKR1", "Last synced", "Raw payload", "&quot;state&quot;: &quot;NEW&quot;"):
        assert expected in body, expected
    assert "<details" in body


def test_order_detail_escapes_html_from_the_payload(client, shop):
    conn = make_connection(shop)
    record = order_record(1, customer="<script>alert(1)</script>", raw={"note": "<script>alert(2)</script>"})
    record.items[0].title = "<img src=x onerror=alert(3)>"
    order_upsert_page(connection=conn, records=[record])
    body = client.get(reverse("orders:order_detail", args=[conn.orders.get().pk])).content.decode()
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=alert(3)&gt;" in body


def test_marketplace_partial_is_included_when_present_and_skipped_when_absent(client, shop):
    conn = make_connection(shop, "brickowl")
    order = make_orders(conn, 1)[0]
    response = client.get(reverse("orders:order_detail", args=[order.pk]))
    assert response.status_code == 200
    names = [t.name for t in response.templates]
    assert "orders/_detail_brickowl.html" in names or "orders/_detail_none.html" in names


def test_refresh_enqueues_the_refresh_task_after_commit(client, shop, django_capture_on_commit_callbacks):
    from marketsync.sync.tasks import refresh_record_task

    order = make_orders(make_connection(shop), 1)[0]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("orders:order_refresh", args=[order.pk]), follow=True)
    assert len(callbacks) == 1
    assert isinstance(callbacks[0], partial)
    assert callbacks[0].func == refresh_record_task.delay
    assert callbacks[0].args == (order.connection_id, "orders", order.external_id)
    assert "Refresh of order R0 requested" in response.content.decode()


def test_refresh_needs_post(client, shop):
    order = make_orders(make_connection(shop), 1)[0]
    assert client.get(reverse("orders:order_refresh", args=[order.pk])).status_code == 405


def test_times_are_shown_in_the_users_time_zone(client, shop):
    order = make_orders(make_connection(shop), 1)[0]  # placed 2026-11-01 12:00 UTC
    client.cookies["tz"] = "Asia/Tokyo"
    body = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "2026-11-01 21:00" in body
    client.cookies["tz"] = "Not/AZone"
    body = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "2026-11-01 12:00" in body


def test_raw_payload_is_json(client, shop):
    conn = make_connection(shop)
    order_upsert_page(connection=conn, records=[order_record(1, raw={"a": [1, 2]})])
    response = client.get(reverse("orders:order_detail", args=[conn.orders.get().pk]))
    assert json.loads(response.context["raw_json"]) == {"a": [1, 2]}
