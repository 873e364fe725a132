"""``manage.py backmarket``: each subcommand prints the outcome and exits non-zero on failure."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connections.models import AuditEntry, EntitySync
from listings.models import BulkListingTask, Listing
from marketsync.simulator.backmarket import minimal_pdf
from marketsync.sync.runner import run_entity_sync
from orders.models import OrderItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(live_connection):
    for entity in ("orders", "listings"):
        assert run_entity_sync(EntitySync.objects.get(connection=live_connection, entity=entity).pk).status == "ok"
    return live_connection


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("backmarket", *args, stdout=out)
    return out.getvalue()


def test_orderline_identifiers_then_refused_once_set(synced):
    item = OrderItem.objects.filter(imei="", quantity=1).first()
    out = run("orderline-identifiers", item.external_id, "--connection", str(synced.pk), "--imei", "490154203237518")
    assert "IMEI 490154203237518" in out
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


def test_listing_update_by_sku(synced):
    listing = Listing.objects.filter(min_price__isnull=True).first()
    out = run("listing-update", listing.sku, "--connection", str(synced.pk), "--price", "88.50", "--quantity", "4")
    assert f"Listing {listing.sku}: price 88.50 EUR, quantity 4" in out
    with pytest.raises(CommandError, match="Quantity must be a whole number"):
        run("listing-update", listing.sku, "--connection", str(synced.pk), "--quantity", "lots")


def test_bulk_listings_wait_to_success_and_to_failure(synced, live_sim, tmp_path, settings):
    settings.BACKMARKET_BULK_POLL_SECONDS = 0
    app, _ = live_sim
    sku = Listing.objects.first().sku
    csv_file = tmp_path / "bulk.csv"
    csv_file.write_text(f"sku,quantity\n{sku},5\n")
    out = run("bulk-listings", str(csv_file), "--connection", str(synced.pk), "--wait")
    assert "succeeded" in out and f"{sku}: ok" in out
    app["backmarket"].control("task_outcome", {"outcome": "failure"})
    with pytest.raises(CommandError, match="ended failed: Task has been interrupted"):
        run("bulk-listings", str(csv_file), "--connection", str(synced.pk), "--wait")
    csv_file.write_text("price\n10\n")
    with pytest.raises(CommandError, match="sku' is missing"):
        run("bulk-listings", str(csv_file), "--connection", str(synced.pk))
    assert list(BulkListingTask.objects.order_by("id").values_list("status", flat=True)) == ["success", "failure"]


def test_unknown_connection_fails():
    with pytest.raises(CommandError, match="No Back Market connection with id 999"):
        run("ship", "1", "--connection", "999", "--tracking-number", "X")
