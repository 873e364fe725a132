"""Admin pages: credentials are write-only — no rendered page carries a stored or submitted secret."""

import pytest
from django.urls import reverse

from connections import services
from connections.models import AuditEntry, Connection, EntitySync, Organization
from tests.factories import make_user

pytestmark = pytest.mark.django_db

BRICKLINK_FIELDS = ("consumer_key", "consumer_secret", "token_value", "token_secret")


@pytest.fixture
def connection(org, secret):
    return services.connection_create(organization=org, marketplace="refurbed", credentials={"api_key": secret})


@pytest.fixture
def bricklink(org, secret):
    return services.connection_create(
        organization=org, marketplace="bricklink", credentials={name: f"{secret}-{name}" for name in BRICKLINK_FIELDS}
    )


def _page(client, url, secret):
    response = client.get(url)
    assert response.status_code == 200, url
    body = response.content.decode()
    assert secret not in body, url
    return body


def test_connection_pages_never_contain_the_secret(admin_client, connection, bricklink, secret):
    EntitySync.objects.filter(connection=connection, entity="orders").update(
        error_kind="auth", last_error="401 Unauthorized: replace the API key"
    )
    services.audit_record(organization=connection.organization, connection=connection, action="offer.update",
                          target_type="offer", target_id="9", outcome="failure", error=f"rejected {secret}")  # fmt: skip
    changelist = _page(admin_client, reverse("admin:connections_connection_changelist"), secret)
    assert "Acme Parts" in changelist and "refurbed" in changelist.lower()
    assert "authentication error: 401 Unauthorized" in changelist  # per-entity state in the list
    assert "…" + secret[-4:] in changelist  # only the hint
    for obj in (connection, bricklink):
        change = _page(admin_client, reverse("admin:connections_connection_change", args=[obj.pk]), secret)
        assert 'type="password"' in change
        assert reverse("admin:connections_connection_rotate_credentials", args=[obj.pk]) in change
        rotate = _page(admin_client, reverse("admin:connections_connection_rotate_credentials", args=[obj.pk]), secret)
        assert rotate.count('type="password"') == (4 if obj.marketplace == "bricklink" else 1)
    assert 'value="' + secret not in change
    _page(admin_client, reverse("admin:connections_connection_add"), secret)
    _page(admin_client, reverse("admin:connections_entitysync_changelist"), secret)
    sync = EntitySync.objects.filter(connection=connection).first()
    _page(admin_client, reverse("admin:connections_entitysync_change", args=[sync.pk]), secret)
    _page(admin_client, reverse("admin:connections_organization_change", args=[connection.organization.pk]), secret)
    _page(admin_client, reverse("admin:connections_auditentry_changelist"), secret)
    _page(admin_client, reverse("admin:connections_auditentry_change", args=[AuditEntry.objects.get().pk]), secret)
    _page(admin_client, reverse("admin:connections_apicallcount_changelist"), secret)
    _page(admin_client, reverse("admin:connections_connection_delete", args=[connection.pk]), secret)


def test_rotate_page_replaces_credentials_and_an_invalid_post_echoes_nothing(admin_client, bricklink, secret):
    EntitySync.objects.filter(connection=bricklink).update(error_kind="auth", last_error="401", consecutive_failures=2)
    url = reverse("admin:connections_connection_rotate_credentials", args=[bricklink.pk])
    new = {name: f"{secret}-new-{name}" for name in BRICKLINK_FIELDS}
    incomplete = {**new, "token_secret": ""}
    response = admin_client.post(url, incomplete)
    assert response.status_code == 200
    body = response.content.decode()
    assert "This field is required" in body
    assert secret not in body  # render_value=False: the submitted values are not sent back
    assert Connection.objects.get(pk=bricklink.pk).credentials["token_secret"] == f"{secret}-token_secret"

    response = admin_client.post(url, new, follow=True)
    assert response.status_code == 200
    assert secret not in response.content.decode()
    assert Connection.objects.get(pk=bricklink.pk).credentials == new
    assert not EntitySync.objects.filter(connection=bricklink).exclude(error_kind="").exists()


def test_admin_add_goes_through_the_service_and_refuses_a_second(admin_client, org, secret):
    url = reverse("admin:connections_connection_add")
    data = {
        "organization": org.pk, "marketplace": "brickowl", "environment": "production", "platform": "",
        "base_url": "http://127.0.0.1:8765/brickowl", "options": '{"store_id": "1"}', "enabled": "on", "api_key": secret,
        "entity_syncs-TOTAL_FORMS": "0", "entity_syncs-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = Connection.objects.get()
    assert connection.credentials == {"api_key": secret}
    assert sorted(connection.entity_syncs.values_list("entity", flat=True)) == ["inventory", "orders"]
    assert connection.options == {"store_id": "1"}

    response = admin_client.post(url, {**data, "api_key": secret + "2"})
    body = response.content.decode()
    assert response.status_code == 200 and "already has a Brick Owl connection" in body
    assert secret not in body
    assert Connection.objects.count() == 1

    response = admin_client.post(url, {**data, "marketplace": "bricklink", "api_key": secret})
    body = response.content.decode()
    assert "api_key does not apply to BrickLink" in body and secret not in body


def test_admin_actions_enable_disable_and_sync_now(admin_client, connection, org, django_capture_on_commit_callbacks):
    changelist = reverse("admin:connections_connection_changelist")
    admin_client.post(changelist, {"action": "disable_sync", "_selected_action": [connection.pk]})
    assert not Connection.objects.get(pk=connection.pk).enabled
    admin_client.post(changelist, {"action": "enable_sync", "_selected_action": [connection.pk]})
    assert Connection.objects.get(pk=connection.pk).enabled

    EntitySync.objects.filter(connection=connection).update(next_attempt_at="2099-01-01T00:00:00Z")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(changelist, {"action": "sync_now", "_selected_action": [connection.pk]}, follow=True)
    assert "Queued 3 entity sync(s)" in response.content.decode()
    assert len(callbacks) == 1
    assert not EntitySync.objects.filter(connection=connection, next_attempt_at__isnull=False).exists()

    services.connection_disable(connection=connection, wipe_credentials=True)
    response = admin_client.post(changelist, {"action": "enable_sync", "_selected_action": [connection.pk]}, follow=True)
    assert "credentials were wiped" in response.content.decode()
    assert not Connection.objects.get(pk=connection.pk).enabled


def test_entity_sync_toggle_is_editable_and_the_rest_read_only(admin_client, connection):
    sync = EntitySync.objects.get(connection=connection, entity="offers")
    changelist = reverse("admin:connections_entitysync_changelist")
    admin_client.post(changelist, {"action": "disable_sync", "_selected_action": [sync.pk]})
    assert not EntitySync.objects.get(pk=sync.pk).enabled
    url = reverse("admin:connections_entitysync_change", args=[sync.pk])
    response = admin_client.post(url, {"enabled": "on", "last_error": "forged", "consecutive_failures": "9"})
    assert response.status_code == 302
    sync.refresh_from_db()
    assert sync.enabled and sync.last_error == "" and sync.consecutive_failures == 0
    assert admin_client.get(reverse("admin:connections_entitysync_add")).status_code == 403


def test_audit_and_call_counts_are_read_only(admin_client, org):
    entry = services.audit_record(organization=org, action="x", target_type="order", target_id="1", outcome="success")
    assert admin_client.get(reverse("admin:connections_auditentry_add")).status_code == 403
    response = admin_client.post(reverse("admin:connections_auditentry_change", args=[entry.pk]), {"outcome": "failure"})
    assert response.status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).outcome == "success"
    assert admin_client.get(reverse("admin:connections_apicallcount_add")).status_code == 403


def test_organization_admin_shows_members_inline(admin_client, org):
    make_user("olga", org)
    body = admin_client.get(reverse("admin:connections_organization_change", args=[org.pk])).content.decode()
    assert "memberships-TOTAL_FORMS" in body and "olga" in body
    assert Organization.objects.count() == 1


def test_merchants_cannot_reach_the_admin(client, org, connection):
    user = make_user("merchant", org)
    client.force_login(user)
    response = client.get(reverse("admin:connections_connection_rotate_credentials", args=[connection.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_delete_shows_counts_and_deletes_through_the_service(admin_client, connection, org):
    from orders.models import Order

    other = services.connection_create(organization=org, marketplace="brickowl", credentials={"api_key": "b" * 12})
    for n in range(3):
        Order.objects.create(organization=org, connection=connection, marketplace="refurbed", external_id=str(n))
    Order.objects.create(organization=org, connection=other, marketplace="brickowl", external_id="0")
    url = reverse("admin:connections_connection_delete", args=[connection.pk])
    body = admin_client.get(url).content.decode()
    assert "3 orders" in body and "3 entity syncs" in body
    assert "permission to delete" not in body
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert list(Connection.objects.values_list("pk", flat=True)) == [other.pk]
    assert list(Order.objects.values_list("connection_id", flat=True)) == [other.pk]


def test_staff_without_delete_permission_cannot_delete(client, connection):
    from django.contrib.auth.models import Permission

    staff = make_user("staffer")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_connection", "change_connection"]))
    client.force_login(staff)
    response = client.post(reverse("admin:connections_connection_delete", args=[connection.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Connection.objects.filter(pk=connection.pk).exists()


def _change_data(connection, **overrides):
    data = {
        "environment": connection.environment, "platform": connection.platform, "base_url": connection.base_url,
        "options": "{}", "enabled": "on" if connection.enabled else "",
        "entity_syncs-TOTAL_FORMS": "0", "entity_syncs-INITIAL_FORMS": "0",
    }  # fmt: skip
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def test_change_form_updates_settings_and_blank_credentials_keep_the_stored_ones(admin_client, connection, secret):
    url = reverse("admin:connections_connection_change", args=[connection.pk])
    response = admin_client.post(url, _change_data(connection, base_url="http://127.0.0.1:8765/refurbed", environment="sandbox"))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert (connection.base_url, connection.environment) == ("http://127.0.0.1:8765/refurbed", "sandbox")
    assert connection.credentials == {"api_key": secret}

    response = admin_client.post(url, _change_data(connection, api_key=secret + "-v2"))
    assert response.status_code == 302
    assert Connection.objects.get(pk=connection.pk).credentials == {"api_key": secret + "-v2"}


def test_change_form_refuses_enabling_wiped_credentials_without_new_ones(admin_client, connection):
    services.connection_disable(connection=connection, wipe_credentials=True)
    connection.refresh_from_db()
    url = reverse("admin:connections_connection_change", args=[connection.pk])
    response = admin_client.post(url, _change_data(connection, enabled="on"))
    assert response.status_code == 200 and "credentials were wiped" in response.content.decode()
    assert not Connection.objects.get(pk=connection.pk).enabled
    response = admin_client.post(url, _change_data(connection, enabled="on", api_key="fresh-key-000001"))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.enabled and connection.credentials == {"api_key": "fresh-key-000001"}


def test_sync_now_skips_disabled_connections_and_their_entity_syncs(admin_client, connection, org, django_capture_on_commit_callbacks):
    other = services.connection_create(organization=org, marketplace="bricklink", credentials={
        "consumer_key": "k" * 12, "consumer_secret": "s" * 12, "token_value": "t" * 12, "token_secret": "u" * 12})
    services.connection_disable(connection=other)
    changelist = reverse("admin:connections_connection_changelist")
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post(changelist, {"action": "sync_now", "_selected_action": [connection.pk, other.pk]}, follow=True)
    assert "Queued 3 entity sync(s); 1 disabled connection(s) skipped." in response.content.decode()
    syncs = [s.pk for s in EntitySync.objects.filter(entity="orders")]
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post(reverse("admin:connections_entitysync_changelist"),
                                     {"action": "sync_now", "_selected_action": syncs}, follow=True)
    assert "Queued 1 entity sync(s)." in response.content.decode()
