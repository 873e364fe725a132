"""``manage.py orders`` (and, for existing scripts, ``manage.py backmarket``): Back Market order writes.

Each subcommand prints the outcome and exits non-zero when refused; the operator session at the end runs them
as an operator does, ``manage.py ...`` in a process of its own.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connections.models import AuditEntry, EntitySync
from marketsync.simulator.backmarket import minimal_pdf
from marketsync.sync.runner import run_entity_sync
from orders.models import OrderItem
from tests.manage_cli import backmarket_shop, operator_shell
from tests.marketplaces.backmarket.fixtures import *  # noqa: F403  (the Back Market fixtures)
from tests.marketplaces.backmarket.helpers import SEED

pytestmark = pytest.mark.django_db
VALID_IMEI = "490154203237518"


@pytest.fixture
def synced(live_connection):
    assert run_entity_sync(EntitySync.objects.get(connection=live_connection, entity="orders").pk).status == "ok"
    return live_connection


def run(*args, command="orders"):
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_orderline_identifiers_then_refused_once_set(synced):
    item = OrderItem.objects.filter(imei="", quantity=1).first()
    out = run("orderline-identifiers", item.external_id, "--connection", str(synced.pk), "--imei", VALID_IMEI)
    assert f"IMEI {VALID_IMEI}" in out
    with pytest.raises(CommandError, match="cannot correct"):
        run("orderline-identifiers", item.external_id, "--connection", str(synced.pk), "--imei", "356938035643809")
    assert [e.actor for e in AuditEntry.objects.order_by("id")] == ["command", "command"]


def test_ship_refused_then_done(synced, live_sim):
    app, _ = live_sim
    paid = OrderItem.objects.filter(marketplace_status="1", order__marketplace_status="1").first()
    with pytest.raises(CommandError, match="must be accepted first"):
        run("ship", paid.order.external_id, "--connection", str(synced.pk), "--tracking-number", "1Z")
    to_ship = OrderItem.objects.filter(order__marketplace_status="3").exclude(marketplace_status__in=["4"]).first().order
    out = run("ship", to_ship.external_id, "--connection", str(synced.pk), "--tracking-number", "1Z42", "--shipper", "UPS")
    assert f"Order {to_ship.external_id} shipped: state 9, tracking 1Z42." in out
    assert app["backmarket"].orders[int(to_ship.external_id)]["state"] == 9


def test_invoice(synced, tmp_path):
    order = OrderItem.objects.first().order
    good, bad = tmp_path / "invoice.pdf", tmp_path / "invoice.txt"
    good.write_bytes(minimal_pdf("Facture"))
    bad.write_text("hello")
    assert "uploaded" in run("invoice", order.external_id, str(good), "--connection", str(synced.pk))
    with pytest.raises(CommandError, match="not a PDF"):
        run("invoice", order.external_id, str(bad), "--connection", str(synced.pk))
    with pytest.raises(CommandError, match="is not a file"):
        run("invoice", order.external_id, str(tmp_path / "missing.pdf"), "--connection", str(synced.pk))


def test_the_backmarket_command_keeps_the_order_writes_for_existing_scripts(synced):
    item = OrderItem.objects.filter(imei="", quantity=1).first()
    out = run("orderline-identifiers", item.external_id, "--connection", str(synced.pk), "--serial", "C39XK1",
              command="backmarket")
    assert f"Orderline {item.external_id}: IMEI —, serial C39XK1." in out
    with pytest.raises(CommandError, match="already has a serial number"):
        run("orderline-identifiers", item.external_id, "--connection", str(synced.pk), "--serial", "OTHER", command="backmarket")


@pytest.mark.parametrize("command", ["orders", "backmarket"])
def test_unknown_connection_or_order_fails(synced, command):
    # ``orders ship`` takes a connection of any marketplace; ``backmarket ship`` a Back Market one.
    with pytest.raises(CommandError, match="No connection with id 999" if command == "orders" else "No Back Market connection with id 999"):
        run("ship", "1", "--connection", "999", "--tracking-number", "X", command=command)
    with pytest.raises(CommandError, match="Order 1 is not stored for connection"):
        run("ship", "1", "--connection", str(synced.pk), "--tracking-number", "X", command=command)


@pytest.mark.slow
def test_an_operator_runs_the_order_writes_from_the_shell(live_sim, tmp_path):
    app, url = live_sim
    bm = app["backmarket"]
    shell = operator_shell(tmp_path)
    connection = str(backmarket_shop(shell, url, seed=SEED))
    accepted = [o["order_id"] for o in bm.orders.values() if o["state"] == 3]
    paid = next(o for o in bm.orders.values() if o["state"] == 1)
    line = next(line for line in bm.lines.values() if not line["imei"] and line["state"] in (1, 2))

    refused = shell.run("orders", "ship", str(paid["order_id"]), "--connection", connection, "--tracking-number", "1Z")
    assert refused.returncode == 1 and "must be accepted first" in refused.stderr and refused.stdout == ""
    out = shell.ok("orders", "ship", str(accepted[0]), "--connection", connection, "--tracking-number", "1Z42", "--shipper", "UPS")
    assert out == f"Order {accepted[0]} shipped: state 9, tracking 1Z42.\n"
    out = shell.ok("backmarket", "ship", str(accepted[1]), "--connection", connection, "--tracking-number", "1Z43")
    assert out == f"Order {accepted[1]} shipped: state 9, tracking 1Z43.\n"
    out = shell.ok("orders", "orderline-identifiers", str(line["id"]), "--connection", connection, "--imei", VALID_IMEI)
    assert f"IMEI {VALID_IMEI}" in out and bm.lines[line["id"]]["imei"] == VALID_IMEI
    pdf = tmp_path / "facture.pdf"
    pdf.write_bytes(minimal_pdf("Facture"))
    assert "Invoice facture.pdf uploaded" in shell.ok("orders", "invoice", str(accepted[0]), str(pdf), "--connection", connection)

    junk = shell.run("orders", "ship", str(accepted[0]), "--connection", "999", "--tracking-number", "X")
    assert junk.returncode == 1 and "No connection with id 999." in junk.stderr  # ship: any marketplace
    junk = shell.run("orders", "ship", str(accepted[0]), "--connection", "abc")
    assert junk.returncode == 2 and "argument --connection: 'abc' is not an id" in junk.stderr
    junk = shell.run("orders", "picklist", "999999")
    assert junk.returncode == 1 and "No order 999999." in junk.stderr
    assert "Traceback" not in junk.stderr
