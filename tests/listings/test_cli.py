"""``manage.py backmarket``: listing writes; each prints the outcome and exits non-zero on failure."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connections.models import EntitySync
from listings.models import BulkListingTask, Listing
from marketsync.sync.runner import run_entity_sync
from tests.manage_cli import backmarket_shop, operator_shell
from tests.marketplaces.backmarket.fixtures import *  # noqa: F403  (the Back Market fixtures)
from tests.marketplaces.backmarket.helpers import SEED

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(live_connection):
    assert run_entity_sync(EntitySync.objects.get(connection=live_connection, entity="listings").pk).status == "ok"
    return live_connection


def run(*args):
    out = StringIO()
    call_command("backmarket", *args, stdout=out)
    return out.getvalue()


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



@pytest.mark.slow
def test_an_operator_runs_the_listing_writes_from_the_shell(live_sim, tmp_path):
    app, url = live_sim
    bm = app["backmarket"]
    shell = operator_shell(tmp_path)
    shell.env["BACKMARKET_BULK_POLL_SECONDS"] = "0"
    connection = str(backmarket_shop(shell, url, seed=SEED, entities=("listings",)))
    listing = next(item for item in bm.listings if item["min_price"] is None)

    out = shell.ok("backmarket", "listing-update", listing["sku"], "--connection", connection, "--price", "88.50",
                   "--quantity", "4")
    assert out.startswith(f"Listing {listing['sku']}: price 88.50 EUR, quantity 4")
    assert (listing["price"], listing["quantity"]) == ("88.50", 4)
    junk = shell.run("backmarket", "listing-update", listing["sku"], "--connection", connection, "--quantity", "lots")
    assert junk.returncode == 1 and "Quantity must be a whole number (got 'lots')." in junk.stderr

    csv_file = tmp_path / "bulk.csv"
    csv_file.write_text(f"sku,quantity\n{listing['sku']},5\n")
    out = shell.ok("backmarket", "bulk-listings", str(csv_file), "--connection", connection, "--wait")
    assert f"{listing['sku']}: ok" in out and "succeeded" in out
    csv_file.write_text("price\n10\n")
    junk = shell.run("backmarket", "bulk-listings", str(csv_file), "--connection", connection)
    assert junk.returncode == 1 and "The CSV was not sent:" in junk.stderr and "'sku' is missing" in junk.stderr
    assert "Traceback" not in junk.stderr
