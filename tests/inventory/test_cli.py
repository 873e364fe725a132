"""The commands whose lookups now go through selectors, run as an operator runs them (a process of its own)."""

import pytest

from tests.manage_cli import operator_shell

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_operator_gets_a_one_line_answer_for_what_is_not_there(tmp_path):
    shell = operator_shell(tmp_path)
    shell.ok("organization", "create", "acme", "--name", "Acme Bricks")
    assert "Inventory OK" in shell.ok("inventory", "check", "--org", "acme")
    for args, says in [
        (("inventory", "check", "--org", "nope"), "No organization with slug 'nope'."),
        (("inventory", "adjust", "999", "--delta", "1", "--reason", "count"), "No inventory item 999."),
        (("orders", "picklist", "9" * 40), f"No order {'9' * 40}."),
        (("orders", "picklist", "B-77"), "No order B-77."),
        (("export", "orders", "--org", "nope"), "No organization with slug 'nope'."),
        (("refurbed", "markets", "--connection", "999"), "No connection with id 999."),
        (("orders", "ship", "1", "--connection", "999", "--tracking-number", "T"), "No Back Market connection with id 999."),
        (("connection", "toggles", "999"), "No connection with id 999."),
    ]:
        result = shell.run(*args)
        assert result.returncode != 0 and says in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
