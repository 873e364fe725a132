"""The ops CLI: a door onto the lifecycle services, credentials on stdin only, one-line errors."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from connections.models import Connection, EntitySync
from orders.models import Order
from tests.factories import make_organization, make_user

pytestmark = pytest.mark.django_db


def run(*args, stdin: str | None = None) -> str:
    out = io.StringIO()
    kwargs = {"stdout": out, "stderr": io.StringIO()}
    if stdin is not None:
        kwargs["stdin"] = io.StringIO(stdin)
    call_command("connection", *args, **kwargs)
    return out.getvalue()


def create(org_slug: str, marketplace: str, credentials: dict, *extra: str) -> Connection:
    run("create", "--org", org_slug, "--marketplace", marketplace, *extra, stdin=json.dumps(credentials))
    return Connection.objects.get(organization__slug=org_slug, marketplace=marketplace)


def test_create_reads_credentials_from_stdin(org, secret):
    out = run(
        "create", "--org", "acme", "--marketplace", "backmarket", "--environment", "sandbox",
        "--base-url", "http://127.0.0.1:8765/backmarket", "--platform", "us", "--options", '{"locale": "en-us"}',
        stdin=json.dumps({"api_key": secret}),
    )  # fmt: skip
    connection = Connection.objects.get()
    assert f"Created connection {connection.pk}" in out and secret not in out
    assert (connection.environment, connection.base_url, connection.platform) == ("sandbox", "http://127.0.0.1:8765/backmarket", "us")
    assert connection.options == {"locale": "en-us"}
    assert connection.credentials == {"api_key": secret}
    assert connection.entity_syncs.count() == 4


def test_list_as_json_and_table_never_shows_credentials(org, secret):
    create("acme", "refurbed", {"api_key": secret})
    create("acme", "brickowl", {"api_key": secret + "x"})
    make_organization("beta")
    create("beta", "refurbed", {"api_key": "beta-key-000001"})
    rows = json.loads(run("list", "--json", "--org", "acme"))
    assert [r["marketplace"] for r in rows] == ["brickowl", "refurbed"]
    assert {e["entity"] for e in rows[1]["entities"]} == {"orders", "offers", "market_offers"}
    table = run("list")
    assert "beta" in table and "acme" in table
    for text in (json.dumps(rows), table):
        assert secret not in text


def test_rotate_replaces_credentials_and_clears_auth_errors(org, secret):
    connection = create("acme", "refurbed", {"api_key": "old-key-00000001"})
    EntitySync.objects.filter(connection=connection).update(error_kind="auth", last_error="401", consecutive_failures=3)
    out = run("rotate", str(connection.pk), stdin=json.dumps({"api_key": secret}))
    assert "Rotated" in out and secret not in out
    assert Connection.objects.get(pk=connection.pk).credentials == {"api_key": secret}
    assert not EntitySync.objects.filter(connection=connection).exclude(error_kind="").exists()


def test_toggles_for_one_connection_and_for_all(org):
    refurbed = create("acme", "refurbed", {"api_key": "key-000000000001"})
    brickowl = create("acme", "brickowl", {"api_key": "key-000000000002"})
    out = run("toggles", str(refurbed.pk), "--disable", "offers", "market_offers")
    assert "Changed 2" in out
    assert dict(refurbed.entity_syncs.values_list("entity", "enabled")) == {"orders": True, "offers": False, "market_offers": False}
    run("toggles", "--all", "--disable", "orders")
    assert not EntitySync.objects.filter(entity="orders", enabled=True).exists()
    run("toggles", "--all", "--enable", "all")
    assert EntitySync.objects.filter(enabled=False).count() == 0
    assert EntitySync.objects.filter(connection=brickowl).count() == 2
    with pytest.raises(CommandError, match="either a connection ID or --all"):
        run("toggles", "--enable", "orders")
    with pytest.raises(CommandError, match="does not sync inventory"):
        run("toggles", str(refurbed.pk), "--enable", "inventory")


def test_disable_with_wipe_then_enable_is_refused(org, secret):
    connection = create("acme", "refurbed", {"api_key": secret})
    run("disable", str(connection.pk), "--wipe-credentials")
    connection.refresh_from_db()
    assert not connection.enabled and connection.credentials_wiped and connection.credentials == {}
    with pytest.raises(CommandError, match="credentials were wiped"):
        run("enable", str(connection.pk))
    assert not Connection.objects.get(pk=connection.pk).enabled
    run("rotate", str(connection.pk), stdin=json.dumps({"api_key": secret}))
    run("enable", str(connection.pk))
    assert Connection.objects.get(pk=connection.pk).enabled


def test_delete_needs_yes_and_removes_only_that_connection(org):
    doomed = create("acme", "refurbed", {"api_key": "key-000000000001"})
    kept = create("acme", "brickowl", {"api_key": "key-000000000002"})
    for connection in (doomed, kept):
        Order.objects.create(organization=org, connection=connection, marketplace=connection.marketplace, external_id="1")
    with pytest.raises(CommandError, match="--yes"):
        run("delete", str(doomed.pk))
    assert Connection.objects.filter(pk=doomed.pk).exists()
    out = run("delete", str(doomed.pk), "--yes")
    assert "Deleted connection" in out and "1 Order" in out
    assert list(Connection.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(Order.objects.values_list("connection_id", flat=True)) == [kept.pk]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("--marketplace", "bricklink"), '{"consumer_key": "a1234", "consumer_secret": "b1234", "token_value": "c1234"}', "token_secret"),
        (("--marketplace", "refurbed"), '{"api_key": ""}', "'api_key'"),
        (("--marketplace", "ebay"), '{"api_key": "x"}', "Unknown marketplace 'ebay'"),
        (("--marketplace", "refurbed"), '{"api_key": "x",', "not valid JSON"),
        (("--marketplace", "refurbed"), '["x"]', "must be a JSON object"),
        (("--marketplace", "refurbed"), "", "No credentials on stdin"),
        (("--marketplace", "refurbed", "--environment", "staging"), '{"api_key": "x"}', "Unknown environment"),
        (("--marketplace", "refurbed", "--options", "{"), '{"api_key": "x"}', "--options is not valid JSON"),
        # junk a shell can carry: a NUL escaped in JSON (PostgreSQL's jsonb refused it: a traceback), a pasted file
        (("--marketplace", "brickowl", "--options", '{"store_id": "\\u0000"}'), '{"api_key": "x"}', "control characters"),
        (("--marketplace", "refurbed"), '{"api_key": "a\\u0000b"}', "'api_key' for Refurbed contains a control character"),
        (("--marketplace", "refurbed"), json.dumps({"api_key": "k" * 3000}), "'api_key' for Refurbed is longer than 2048"),
    ],
)
def test_create_bad_input_says_what_was_wrong_and_stores_nothing(org, args, stdin, message):
    with pytest.raises(CommandError, match=message) as excinfo:
        run("create", "--org", "acme", *args, stdin=stdin)
    assert "\n" not in str(excinfo.value)
    assert not Connection.objects.exists()


def test_bad_json_error_does_not_echo_the_input(org, secret):
    with pytest.raises(CommandError) as excinfo:
        run("create", "--org", "acme", "--marketplace", "refurbed", stdin='{"api_key": "' + secret)
    assert secret not in str(excinfo.value)


def test_second_connection_and_unknown_ids_are_refused(org):
    create("acme", "refurbed", {"api_key": "key-000000000001"})
    with pytest.raises(CommandError, match="already has a Refurbed connection"):
        run("create", "--org", "acme", "--marketplace", "refurbed", stdin='{"api_key": "key-000000000002"}')
    assert Connection.objects.get().credentials == {"api_key": "key-000000000001"}
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        run("create", "--org", "nope", "--marketplace", "refurbed", stdin='{"api_key": "x"}')
    with pytest.raises(CommandError, match="No connection with id 999"):
        run("rotate", "999", stdin='{"api_key": "x"}')
    with pytest.raises(CommandError, match="required: --marketplace"):
        run("create", "--org", "acme")


def test_command_line_errors_are_one_line_and_exit_non_zero(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "manage.py", "connection", "create", "--org", "acme"],
        cwd=root, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--marketplace" in lines[0]


def test_organization_create_with_owner(capsys):
    owner = make_user("olga")
    out = io.StringIO()
    call_command("organization", "create", "shop", "--name", "The Shop", "--owner", "olga", stdout=out)
    assert "Created organization shop" in out.getvalue()
    assert owner.memberships.get().role == "owner"
    with pytest.raises(CommandError, match="already exists"):
        call_command("organization", "create", "shop", "--name", "Again")
    with pytest.raises(CommandError, match="No user with username 'ghost'"):
        call_command("organization", "create", "other", "--name", "Other", "--owner", "ghost")
    call_command("organization", "add-member", "shop", "olga", "--role", "member", stdout=io.StringIO())
    assert owner.memberships.get().role == "member"


def test_demo_is_idempotent_and_prints_the_login(settings):
    from django.contrib.auth import authenticate

    from marketsync.simulator.core import simulator_token

    out = io.StringIO()
    call_command("demo", "--simulator-url", "http://127.0.0.1:8765/", "--seed", "7", stdout=out)
    call_command("demo", "--simulator-url", "http://127.0.0.1:8765", "--seed", "42", stdout=(out := io.StringIO()))
    text = out.getvalue()
    assert "http://127.0.0.1:8000/" in text and "Username  demo" in text
    password = text.split("Password  ", 1)[1].split()[0]
    user = authenticate(username="demo", password=password)
    assert user is not None and user.memberships.get().role == "owner"
    connections = {c.marketplace: c for c in Connection.objects.filter(organization__slug="demo")}
    assert set(connections) == {"refurbed", "backmarket", "bricklink", "brickowl"}
    assert Connection.objects.count() == 4
    assert connections["refurbed"].base_url == "http://127.0.0.1:8765/refurbed"
    assert connections["refurbed"].credentials == {"api_key": simulator_token("refurbed", 42, "api_key")}
    assert connections["bricklink"].credentials["token_secret"] == simulator_token("bricklink", 42, "token_secret")
    assert (connections["backmarket"].platform, connections["backmarket"].options) == ("eu", {"locale": "fr-fr"})
    assert connections["brickowl"].options == {"store_id": "1"}
    assert EntitySync.objects.filter(connection__organization__slug="demo").count() == 3 + 4 + 2 + 2


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_each_field_is_prompted_without_echo(org, secret, monkeypatch):
    import getpass

    prompts = []

    def fake_getpass(prompt="Password: ", stream=None):
        prompts.append(prompt)
        return f"{secret}-{prompt.rstrip(': ')}"

    monkeypatch.setattr(getpass, "getpass", fake_getpass)  # the standard library's no-echo prompt, not our code
    out = io.StringIO()
    call_command("connection", "create", "--org", "acme", "--marketplace", "bricklink", stdin=_Terminal(), stdout=out)
    assert prompts == ["consumer_key: ", "consumer_secret: ", "token_value: ", "token_secret: "]
    assert Connection.objects.get().credentials["token_value"] == f"{secret}-token_value"
    assert secret not in out.getvalue()
