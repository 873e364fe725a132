"""``manage.py sync`` run as an operator runs it: a name it does not know (entity, organization, connection, or an
entity the connection's marketplace has not) is a one-line error naming the bad value and the valid ones."""

from __future__ import annotations

import re

import pytest

from tests.manage_cli import operator_shell

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shell(tmp_path):
    shell = operator_shell(tmp_path)
    shell.ok("organization", "create", "acme", "--name", "Acme Refurb")
    created = shell.ok("connection", "create", "--org", "acme", "--marketplace", "backmarket", "--base-url",
                       "http://127.0.0.1:9/backmarket", "--platform", "eu", stdin='{"api_key": "k"}')
    shell.connection_id = re.search(r"Created connection (\d+)", created).group(1)
    return shell


def _one_line_error(result) -> str:
    assert result.returncode != 0 and result.stdout == ""
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


def test_an_unknown_entity_is_named_with_the_valid_entities(shell):
    result = shell.run("sync", "--entity", "orders", "bogus")
    error = _one_line_error(result)
    assert result.returncode == 2
    assert "'bogus'" in error
    for entity in ("orders", "offers", "market_offers", "listings", "deliveries", "returns", "inventory"):
        assert f"'{entity}'" in error


def test_an_unknown_organization_is_named_with_the_organizations(shell):
    result = shell.run("sync", "--org", "nope")
    assert _one_line_error(result) == "CommandError: No organization with slug 'nope'. Organizations: acme."
    assert result.returncode == 1


def test_an_unknown_connection_is_named_with_the_connections(shell):
    result = shell.run("sync", "--connection", "4242")
    assert _one_line_error(result) == (
        f"CommandError: No connection with id 4242. Connections: {shell.connection_id} (acme, Back Market).")
    assert result.returncode == 1
    shell.ok("organization", "create", "other", "--name", "Other")
    result = shell.run("sync", "--org", "other", "--connection", shell.connection_id)
    assert _one_line_error(result) == (
        f"CommandError: No connection with id {shell.connection_id} in organization 'other'. Connections: none.")


def test_an_entity_the_connections_marketplace_does_not_sync_is_named_with_those_it_does(shell):
    result = shell.run("sync", "--connection", shell.connection_id, "--entity", "offers")
    assert _one_line_error(result) == (
        f"CommandError: Connection {shell.connection_id} (Back Market) does not sync offers; it syncs orders, listings, "
        "deliveries, returns.")
    assert result.returncode == 1
