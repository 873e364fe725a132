""""Test connection": one cheap authenticated call to the marketplace, from the connections page (owners) and from
``manage.py connection test ID``. On success it lifts a stop left by a refused key or call so syncing resumes at
once; on failure it says what the marketplace answered, never a credential."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections.models import ApiCallCount, EntitySync
from connections.services import connection_test
from marketsync.simulator.core import simulator_token
from marketsync.sync.runner import run_entity_sync
from tests.factories import make_organization, make_user
from tests.manage_cli import operator_shell
from tests.marketplaces.refurbed.sim import LoopbackServer
from tests.sync.refusals import REFUSALS, SEED, SimTransport, build_sim, connect

pytestmark = pytest.mark.django_db
MARKETPLACES = ("refurbed", "backmarket", "bricklink", "brickowl")


@pytest.mark.parametrize("marketplace", MARKETPLACES)
def test_a_good_connection_passes_with_one_call(marketplace):
    app = build_sim()
    transport = SimTransport(app)
    connection = connect(make_organization("shop"), marketplace)
    result = connection_test(connection=connection, transport=transport)
    assert result.ok and result.message.endswith("answered the test call: the connection works.") and result.resumed == ()
    assert len(transport.requests) == 1


def test_a_bricklink_test_call_counts_against_the_daily_budget():
    connection = connect(make_organization("shop"), "bricklink")
    assert connection_test(connection=connection, transport=SimTransport(build_sim())).ok
    assert ApiCallCount.objects.filter(connection=connection).aggregate(n=Sum("calls"))["n"] == 1


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda r: r.marketplace)
def test_a_passing_test_lifts_a_refused_call_stop_and_a_failing_one_says_what_the_marketplace_said(refusal):
    app = build_sim()
    transport = SimTransport(app)
    connection = connect(make_organization("shop"), refusal.marketplace)
    sync = EntitySync.objects.get(connection=connection, entity="orders")
    refusal.start(app, transport)
    assert run_entity_sync(sync.pk, transport=transport).error_kind == "forbidden"
    sync.refresh_from_db()
    stopped_until = sync.next_attempt_at

    failed = connection_test(connection=connection, transport=transport)
    assert not failed.ok and refusal.says in failed.message and "did not accept the test call" in failed.message
    assert not any(secret in failed.message for secret in connection.credentials.values())
    sync.refresh_from_db()
    assert sync.error_kind == "forbidden" and sync.next_attempt_at == stopped_until  # a failed test changes nothing

    refusal.stop(app, transport)
    passed = connection_test(connection=connection, transport=transport)
    assert passed.ok and passed.resumed == ("orders",) and "syncing of orders resumes now" in passed.message
    sync.refresh_from_db()
    assert sync.error_kind == "" and sync.last_error == "" and sync.next_attempt_at is None
    assert sync.consecutive_failures == 0


def test_a_passing_test_also_lifts_a_refused_key_stop_left_by_a_hiccup():
    app = build_sim()
    connection = connect(make_organization("shop"), "brickowl")
    EntitySync.objects.filter(connection=connection).update(error_kind="auth", last_error="refused", consecutive_failures=3)
    EntitySync.objects.filter(connection=connection, entity="inventory").update(error_kind="transient", last_error="503")
    result = connection_test(connection=connection, transport=SimTransport(app))
    assert result.ok and result.resumed == ("orders",)
    kinds = dict(EntitySync.objects.filter(connection=connection).values_list("entity", "error_kind"))
    assert kinds == {"orders": "", "inventory": "transient"}  # only refusals are the test's to lift


def test_a_wrong_key_fails_the_test_without_showing_the_key():
    app = build_sim()
    org = make_organization("shop")
    connection = connect(org, "refurbed")
    connection.set_credentials({"api_key": "sk-wrong-key-never-shown-0001"})
    connection.save()
    result = connection_test(connection=connection, transport=SimTransport(app))
    assert not result.ok and "Refurbed refused the API token (401)" in result.message
    assert "sk-wrong-key-never-shown-0001" not in result.message


def test_a_connection_without_a_key_is_not_tested():
    connection = connect(make_organization("shop"), "refurbed")
    connection.wipe_credentials()
    connection.save()
    transport = SimTransport(build_sim())
    result = connection_test(connection=connection, transport=transport)
    assert not result.ok and "no API key to test" in result.message and transport.requests == []


# --- the button ------------------------------------------------------------------------------------------


@pytest.fixture
def served():
    app = build_sim()
    with LoopbackServer(app) as server:
        yield app, server.base


@pytest.fixture
def shop(served):
    _, base = served
    org = make_organization("shop")
    return org, connect(org, "bricklink", base=base)


def test_an_owner_tests_the_connection_from_its_page_and_syncing_resumes(client, served, shop, django_capture_on_commit_callbacks):
    app, _ = served
    org, connection = shop
    client.force_login(make_user("owner", org, role="owner"))
    page = client.get(reverse("connections:connection_list")).content.decode()
    assert reverse("connections:connection_test", args=[connection.pk]) in page and "Test connection" in page

    app["bricklink"].control("ip_mismatch", {"on": True})
    url = reverse("connections:connection_test", args=[connection.pk])
    body = client.post(url, follow=True).content.decode()
    assert "did not accept the test call" in body and "refuses calls from this server&#x27;s IP address" in body

    message = "BrickLink refuses calls from this server's IP address (127.0.0.1)"
    EntitySync.objects.filter(connection=connection).update(
        error_kind="forbidden", last_error=f"{message}: add it.", next_attempt_at=timezone.now() + timedelta(hours=1))
    banner = client.get(reverse("orders:order_list")).content.decode()
    assert 'id="health-banner"' in banner and "refuses calls from this server&#x27;s IP address (127.0.0.1): add it." in banner

    app["bricklink"].control("ip_mismatch", {"on": False})
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url, follow=True)
    body = response.content.decode()
    assert response.status_code == 200 and "syncing of inventory, orders resumes now" in body
    assert EntitySync.objects.filter(connection=connection, error_kind="").count() == 2
    assert EntitySync.objects.filter(connection=connection, next_attempt_at__isnull=True).count() == 2
    assert len(callbacks) == 1  # the resumed entities are enqueued now, not at the next tick
    assert 'id="health-banner"' not in client.get(reverse("orders:order_list")).content.decode()


def test_a_member_gets_403_and_another_organization_404(client, served, shop):
    org, connection = shop
    url = reverse("connections:connection_test", args=[connection.pk])
    client.force_login(make_user("member", org, role="member"))
    assert "Test connection" not in client.get(reverse("connections:connection_list")).content.decode()
    assert client.post(url).status_code == 403
    other = make_organization("other")
    client.force_login(make_user("stranger", other, role="owner"))
    assert client.post(url).status_code == 404
    assert client.get(url).status_code == 405
    assert EntitySync.objects.filter(connection=connection, error_kind="").count() == 2


def test_the_button_needs_a_csrf_token(served, shop):
    org, connection = shop
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_user("owner", org, role="owner"))
    url = reverse("connections:connection_test", args=[connection.pk])
    assert strict.post(url).status_code == 403
    page = strict.get(reverse("connections:connection_list")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert strict.post(url, {"csrfmiddlewaretoken": token}).status_code == 302


def test_anonymous_is_sent_to_the_login(client, shop):
    _, connection = shop
    response = client.post(reverse("connections:connection_test", args=[connection.pk]))
    assert response.status_code == 302 and "/login" in response["Location"]


# --- the command -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_operator_tests_connections_from_the_shell(served, tmp_path):
    app, base = served
    shell = operator_shell(tmp_path)
    shell.ok("organization", "create", "acme", "--name", "Acme Bricks")
    credentials = {p: simulator_token("bricklink", SEED, p) for p in ("consumer_key", "consumer_secret", "token_value", "token_secret")}
    created = shell.ok("connection", "create", "--org", "acme", "--marketplace", "bricklink",
                       "--base-url", f"{base}/bricklink/api/store/v1", stdin=json.dumps(credentials))
    good = re.search(r"Created connection (\d+)", created).group(1)
    created = shell.ok("connection", "create", "--org", "acme", "--marketplace", "brickowl", "--base-url", f"{base}/brickowl/v1",
                       "--options", '{"store_id": "1"}', stdin=json.dumps({"api_key": "owl-wrong-key-000000001"}))
    wrong = re.search(r"Created connection (\d+)", created).group(1)

    out = shell.ok("connection", "test", good)
    assert out == f"Connection {good} (Acme Bricks · BrickLink): BrickLink answered the test call: the connection works.\n"

    app["bricklink"].control("ip_mismatch", {"on": True})
    refused = shell.run("sync", "--connection", good, "--entity", "orders")
    assert refused.returncode == 1 and "refuses calls from this server's IP address" in refused.stdout
    assert "orders=on!forbidden" in shell.ok("connection", "list")
    failed = shell.run("connection", "test", good)
    assert failed.returncode == 1 and failed.stdout == ""
    errors = [line for line in failed.stderr.splitlines() if line.startswith("CommandError: ")]
    assert len(errors) == 1 and "refuses calls from this server's IP address (127.0.0.1)" in errors[0]
    assert "Traceback" not in failed.stderr
    assert not any(secret in failed.stderr for secret in credentials.values())

    app["bricklink"].control("ip_mismatch", {"on": False})
    out = shell.ok("connection", "test", good)
    assert out == f"Connection {good} (Acme Bricks · BrickLink): BrickLink answered the test call: syncing of orders resumes now.\n"
    assert "!forbidden" not in shell.ok("connection", "list")

    bad = shell.run("connection", "test", wrong)
    assert bad.returncode == 1 and "Brick Owl refused the API key (401)" in bad.stderr and "owl-wrong-key-000000001" not in bad.stderr
    junk = shell.run("connection", "test", "abc")
    assert junk.returncode == 2 and "invalid int value: 'abc'" in junk.stderr and "Traceback" not in junk.stderr
    missing = shell.run("connection", "test", "999")
    assert missing.returncode == 1 and "No connection with id 999." in missing.stderr
