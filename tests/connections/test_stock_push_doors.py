"""The stock push switch at the connection's doors (page and admin), and where BrickLink's calls went, as the
connection page shows them."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from connections import services
from connections.budget import api_call_record, api_calls_by_purpose_last_24h, hour_start
from connections.models import ApiCallCount, Connection, EntitySync
from tests.factories import make_connection, make_organization, make_user

pytestmark = pytest.mark.django_db

BRICKLINK_FIELDS = ("consumer_key", "consumer_secret", "token_value", "token_secret")


def _toggle(client, connection, enabled: str):
    return client.post(reverse("connections:entity_sync_toggle", args=[connection.pk, "stock_push"]), {"enabled": enabled},
                       follow=True)


def test_an_owner_switches_stock_push_on_and_off_on_the_connection_page(client, org):
    connection = make_connection(org, "bricklink")
    client.force_login(make_user("ada", org, role="owner"))
    page = client.get(reverse("connections:connection_list")).content.decode()
    assert "Stock push:" in page and "stock-push-toggle off" in page and 'href="/inventory/reconcile/"' in page
    response = _toggle(client, connection, "1")
    assert response.status_code == 200 and "stock push switched on" in response.content.decode()
    assert Connection.objects.get(pk=connection.pk).stock_push
    assert "stock-push-toggle on" in response.content.decode()
    _toggle(client, connection, "0")
    assert not Connection.objects.get(pk=connection.pk).stock_push


def test_members_and_other_organizations_cannot_switch_stock_push(client, org):
    connection = make_connection(org, "refurbed")
    rival = make_organization("rival")
    client.force_login(make_user("bob", org, role="member"))
    assert "stock-push-toggle" not in client.get(reverse("connections:connection_list")).content.decode()
    assert client.post(reverse("connections:entity_sync_toggle", args=[connection.pk, "stock_push"]),
                       {"enabled": "1"}).status_code == 403
    client.force_login(make_user("eve", rival, role="owner"))
    assert client.post(reverse("connections:entity_sync_toggle", args=[connection.pk, "stock_push"]),
                       {"enabled": "1"}).status_code == 404
    assert not Connection.objects.get(pk=connection.pk).stock_push


def test_the_admin_form_switches_stock_push_and_shows_no_credentials(admin_client, org, secret):
    connection = services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": secret})
    url = reverse("admin:connections_connection_change", args=[connection.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="stock_push"' in page and secret not in page
    syncs = list(EntitySync.objects.filter(connection=connection).order_by("pk"))
    data = {"environment": "production", "platform": "", "base_url": "", "options": "{}", "enabled": "on",
            "stock_push": "on", "entity_syncs-TOTAL_FORMS": str(len(syncs)), "entity_syncs-INITIAL_FORMS": str(len(syncs))}
    for i, sync in enumerate(syncs):
        data.update({f"entity_syncs-{i}-id": sync.pk, f"entity_syncs-{i}-connection": connection.pk,
                     f"entity_syncs-{i}-enabled": "on"})
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    connection.refresh_from_db()
    assert connection.stock_push and connection.credentials == {"api_key": secret}
    del data["stock_push"]
    admin_client.post(url, data)
    assert not Connection.objects.get(pk=connection.pk).stock_push


def test_calls_are_counted_per_purpose_in_one_bucket():
    org = make_organization("calls")
    connection = make_connection(org, "bricklink")
    for purpose in ("orders", "orders", "inventory", "push", "catalog"):
        api_call_record(connection_id=connection.pk, purpose=purpose)
    row = ApiCallCount.objects.get(connection=connection, hour=hour_start())
    assert (row.calls, row.orders_calls, row.inventory_calls, row.push_calls) == (5, 2, 1, 1)
    assert api_calls_by_purpose_last_24h(connection_ids=[connection.pk])[connection.pk] == {
        "orders": 2, "inventory": 1, "push": 1, "other": 1}


def test_the_connection_page_shows_where_bricklinks_calls_went(client, org):
    connection = make_connection(org, "bricklink")
    hour = hour_start(timezone.now())
    ApiCallCount.objects.create(connection=connection, hour=hour, calls=10, orders_calls=4, inventory_calls=3, push_calls=2)
    ApiCallCount.objects.create(connection=connection, hour=hour - timezone.timedelta(hours=30), calls=900, orders_calls=900)
    client.force_login(make_user("bob", org, role="member"))
    page = client.get(reverse("connections:connection_list")).content.decode()
    assert "10 API calls in the last 24 h" in page
    assert "orders 4 · inventory 3 · stock push 2 · other 1" in page
