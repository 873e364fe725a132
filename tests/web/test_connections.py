from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, EntitySync
from orders.models import Order
from tests.factories import make_connection, make_organization, make_user
from tests.web.builders import make_orders

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return make_organization("shop")


@pytest.fixture
def owner(client, shop):
    user = make_user("owner", shop, role="owner")
    client.force_login(user)
    return user


def test_owner_connects_a_marketplace_and_the_key_is_never_rendered(client, shop, owner):
    url = reverse("connections:connection_create_form", args=["refurbed"])
    page = client.get(url).content.decode()
    assert 'type="password"' in page and "base_url" not in page
    bad = client.post(url, {"api_key": "", "environment": "production"})
    assert "This field is required." in bad.content.decode()
    response = client.post(url, {"api_key": "sk-live-very-secret-1234", "environment": "production"}, follow=True)
    assert response.status_code == 200
    connection = Connection.objects.get(organization=shop)
    assert connection.credentials == {"api_key": "sk-live-very-secret-1234"}
    assert connection.base_url == ""
    assert set(connection.entity_syncs.values_list("entity", flat=True)) == {"orders", "offers", "market_offers"}
    assert "sk-live-very-secret-1234" not in response.content.decode()
    again = client.post(url, {"api_key": "other-key-5678", "environment": "production"})
    body = again.content.decode()
    assert "already has a Refurbed connection" in body and "other-key-5678" not in body


def test_bricklink_form_asks_for_its_four_credentials(client, owner):
    body = client.get(reverse("connections:connection_create_form", args=["bricklink"])).content.decode()
    for name in ("consumer_key", "consumer_secret", "token_value", "token_secret"):
        assert f'name="{name}"' in body


def test_base_url_cannot_be_set_by_a_merchant(client, shop, owner):
    client.post(
        reverse("connections:connection_create_form", args=["brickowl"]),
        {"api_key": "k-1234567", "environment": "production", "base_url": "http://evil.example"},
    )
    assert Connection.objects.get(organization=shop).base_url == ""


def test_members_see_but_cannot_manage(client, shop):
    conn = make_connection(shop)
    client.force_login(make_user("member", shop, role="member"))
    page = client.get(reverse("connections:connection_list")).content.decode()
    assert "Refurbed" in page and "Sync now" not in page and "Delete" not in page
    assert client.get(reverse("connections:connection_create")).status_code == 403
    assert client.post(reverse("connections:connection_sync_now", args=[conn.pk])).status_code == 403
    assert client.post(reverse("connections:connection_delete", args=[conn.pk]), {"confirm": "Refurbed"}).status_code == 403
    assert client.post(reverse("connections:entity_sync_toggle", args=[conn.pk, "orders"]), {"enabled": "0"}).status_code == 403
    assert Connection.objects.filter(pk=conn.pk).exists()
    assert EntitySync.objects.get(connection=conn, entity="orders").enabled


def test_rotate_replaces_the_key_and_clears_the_auth_error(client, owner, shop):
    conn = make_connection(shop)
    EntitySync.objects.filter(connection=conn, entity="orders").update(error_kind="auth", last_error="401 Unauthorized")
    page = client.get(reverse("connections:connection_list")).content.decode()
    assert "Replace the API key" in page and reverse("connections:connection_rotate", args=[conn.pk]) in page
    response = client.post(reverse("connections:connection_rotate", args=[conn.pk]), {"api_key": "new-key-0001"}, follow=True)
    assert "was replaced" in response.content.decode()
    conn.refresh_from_db()
    assert conn.credentials == {"api_key": "new-key-0001"}
    assert EntitySync.objects.get(connection=conn, entity="orders").error_kind == ""


def test_entity_toggle_and_sync_now(client, owner, shop, django_capture_on_commit_callbacks):
    conn = make_connection(shop)
    client.post(reverse("connections:entity_sync_toggle", args=[conn.pk, "offers"]), {"enabled": "0"})
    assert not EntitySync.objects.get(connection=conn, entity="offers").enabled
    assert client.post(reverse("connections:entity_sync_toggle", args=[conn.pk, "listings"]), {"enabled": "0"}).status_code == 404
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("connections:connection_sync_now", args=[conn.pk]), follow=True)
    assert len(callbacks) == 1
    assert "started for 2 data type(s)" in response.content.decode()


def test_disconnect_reconnect_and_wiped_key_needs_rotation(client, owner, shop):
    conn = make_connection(shop)
    client.post(reverse("connections:connection_disconnect", args=[conn.pk]), {})
    conn.refresh_from_db()
    assert not conn.enabled and conn.has_credentials
    client.post(reverse("connections:connection_reconnect", args=[conn.pk]))
    conn.refresh_from_db()
    assert conn.enabled
    client.post(reverse("connections:connection_disconnect", args=[conn.pk]), {"wipe_credentials": "on"})
    response = client.post(reverse("connections:connection_reconnect", args=[conn.pk]), follow=True)
    assert "Rotate its credentials first" in response.content.decode()
    conn.refresh_from_db()
    assert not conn.enabled


def test_delete_needs_confirmation_and_removes_only_that_connections_data(client, owner, shop):
    conn = make_connection(shop, "refurbed")
    other = make_connection(shop, "brickowl")
    make_orders(conn, 2)
    make_orders(other, 1, prefix="O")
    page = client.get(reverse("connections:connection_delete", args=[conn.pk])).content.decode()
    assert "2 orders" in page
    wrong = client.post(reverse("connections:connection_delete", args=[conn.pk]), {"confirm": "yes"})
    assert "exactly to delete" in wrong.content.decode()
    assert Connection.objects.filter(pk=conn.pk).exists()
    client.post(reverse("connections:connection_delete", args=[conn.pk]), {"confirm": "refurbed"})
    assert not Connection.objects.filter(pk=conn.pk).exists()
    assert list(Order.objects.values_list("external_id", flat=True)) == ["O0"]


def test_health_explains_errors_in_plain_words(client, owner, shop):
    conn = make_connection(shop, "bricklink")
    retry = timezone.now() + timedelta(minutes=7)
    EntitySync.objects.filter(connection=conn, entity="orders").update(
        error_kind="transient", last_error="503 from /orders", next_attempt_at=retry, last_success_at=timezone.now()
    )
    EntitySync.objects.filter(connection=conn, entity="inventory").update(
        error_kind="bad_data", last_error="1 record(s) could not be read and were skipped: lot 42: bad price",
        last_success_at=timezone.now(), last_run_seen=17, last_run_created=5, last_finished_at=timezone.now(),
    )
    body = client.get(reverse("connections:connection_list")).content.decode()
    assert "A temporary problem reaching BrickLink: 503 from /orders" in body
    assert "it will retry at the next run" in body
    assert "lot 42: bad price" in body
    assert "17 seen · 5 new" in body
    assert "API calls in the last 24 h" in body


def test_banner_on_every_page_for_auth_errors_and_stale_data(client, owner, shop, settings):
    conn = make_connection(shop)
    make_orders(conn, 1)
    fresh = timezone.now()
    EntitySync.objects.filter(connection=conn).update(last_success_at=fresh)
    assert 'id="health-banner"' not in client.get(reverse("orders:order_list")).content.decode()
    EntitySync.objects.filter(connection=conn, entity="orders").update(error_kind="auth")
    body = client.get(reverse("orders:order_detail", args=[conn.orders.get().pk])).content.decode()
    assert 'id="health-banner"' in body and "Refurbed refused our API key" in body
    EntitySync.objects.filter(connection=conn).update(error_kind="")
    old = fresh - timedelta(seconds=3 * settings.SYNC_INTERVAL_SECONDS + 5)
    EntitySync.objects.filter(connection=conn, entity="offers").update(last_success_at=old)
    body = client.get(reverse("connections:connection_list")).content.decode()
    assert "Data is out of date" in body and "Refurbed offers" in body
    EntitySync.objects.filter(connection=conn, entity="offers").update(enabled=False)
    assert 'id="health-banner"' not in client.get(reverse("orders:order_list")).content.decode()


def test_staff_see_health_across_organizations_in_the_admin(client, shop):
    other = make_organization("other")
    make_connection(shop, "refurbed")
    conn = make_connection(other, "backmarket")
    EntitySync.objects.filter(connection=conn, entity="orders").update(error_kind="auth", last_error="403")
    merchant = make_user("merchant", shop)
    client.force_login(merchant)
    assert client.get(reverse("admin_sync_health")).status_code == 302  # to the admin login
    staff = make_user("staff", None)
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    body = client.get(reverse("admin_sync_health")).content.decode()
    assert "Shop" in body and "Other" in body and "Back Market" in body and "refused our API key" in body


def test_organization_switch_changes_the_order_book(client):
    a, b = make_organization("a"), make_organization("b")
    user = make_user("both", a)
    from connections.models import Membership

    Membership.objects.create(user=user, organization=b, role="member")
    make_orders(make_connection(a), 1, prefix="A")
    make_orders(make_connection(b), 1, prefix="B")
    client.force_login(user)
    body = client.get(reverse("orders:order_list")).content.decode()
    assert "A0" in body and 'id="org-switch"' in body
    client.post(reverse("connections:organization_switch"), {"organization": b.pk, "next": "/orders/"})
    body = client.get(reverse("orders:order_list")).content.decode()
    assert "B0" in body and ">A0<" not in body


def test_login_and_logout_pages(client, shop):
    make_user("ada", shop, password="correct horse")
    page = client.get(reverse("login")).content.decode()
    assert 'name="username"' in page and 'name="password"' in page
    bad = client.post(reverse("login"), {"username": "ada", "password": "wrong"})
    assert "Please enter a correct username and password" in bad.content.decode()
    ok = client.post(reverse("login"), {"username": "ada", "password": "correct horse"})
    assert ok.status_code == 302 and ok["Location"] == reverse("orders:order_list")
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("orders:order_list")).status_code == 302


@pytest.mark.parametrize("value", ["", "abc", "99999999999999999999999", "1\x00", "x" * 400])
def test_a_junk_organization_to_switch_to_is_a_404_not_a_500(client, value):
    client.force_login(make_user("ada", make_organization("a")))
    assert client.post(reverse("connections:organization_switch"), {"organization": value}).status_code == 404


def test_switching_to_an_organization_of_which_one_is_not_a_member_is_a_404(client):
    client.force_login(make_user("ada", make_organization("a")))
    other = make_organization("b")
    assert client.post(reverse("connections:organization_switch"), {"organization": other.pk}).status_code == 404


def test_an_over_long_next_after_switching_falls_back_to_the_home_page(client):
    a = make_organization("a")
    client.force_login(make_user("ada", a))
    response = client.post(reverse("connections:organization_switch"), {"organization": a.pk, "next": "/" + "x" * 3000})
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.parametrize("value", ["", "maybe", "2", "x" * 400])
def test_a_junk_toggle_value_changes_nothing_and_says_why(client, owner, shop, value):
    conn = make_connection(shop, "refurbed")
    response = client.post(reverse("connections:entity_sync_toggle", args=[conn.pk, "offers"]), {"enabled": value}, follow=True)
    assert response.status_code == 200 and "Nothing changed: Switch the sync on (1) or off (0)" in response.content.decode()
    assert EntitySync.objects.get(connection=conn, entity="offers").enabled
