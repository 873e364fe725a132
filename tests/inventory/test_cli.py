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
        # the byte FF on a command line (a lone surrogate in Python): no database can look it up
        (("orders", "picklist", "B-\udcff"), "CommandError: Argument order-id holds a byte that is not UTF-8 text."),
        (("export", "orders", "--org", "nope"), "No organization with slug 'nope'."),
        (("refurbed", "markets", "--connection", "999"), "No connection with id 999."),
        (("orders", "ship", "1", "--connection", "999", "--tracking-number", "T"), "No connection with id 999."),  # any marketplace
        (("connection", "toggles", "999"), "No connection with id 999."),
    ]:
        result = shell.run(*args)
        assert result.returncode != 0 and says in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)


def test_an_operator_adjusts_stock_within_the_services_bounds(tmp_path):
    shell = operator_shell(tmp_path)
    shell.ok("organization", "create", "acme", "--name", "Acme Bricks")
    # No command makes an item (they come from the marketplaces): Django's shell stands in for a sync.
    shell.ok("shell", "-c", "from connections.models import Organization; from inventory.models import InventoryItem; "
             "InventoryItem.objects.create(organization=Organization.objects.get(slug='acme'), part_number='3001', "
             "color_id='5', condition='new', name='Brick')")
    # Bounded by the page's form only, this overflowed the query: a traceback (issue 10).
    result = shell.run("inventory", "adjust", "1", "--delta", "99999999999999999999", "--reason", "recount")
    assert result.returncode == 1, result.stderr
    assert result.stderr == "CommandError: An adjustment is at most 1,000,000 pieces either way (got 99,999,999,999,999,999,999).\n"
    assert "on hand 0 -> 10" in shell.ok("inventory", "adjust", "1", "--delta", "10", "--reason", "counted the bin")
    assert "Inventory OK" in shell.ok("inventory", "check")
