"""Owners change which stock item a lot, listing or offer sells — on the pages and from the command line — and
imports leave their choice alone; the unlinked queue lists what no item sells; the item's page shows the drift of
every linked listing and who changed it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connections.models import AuditEntry
from inventory.models import InventoryItem, InventoryLot, Reservation
from inventory.selectors import inventory_check, stock_item_links, unlinked_page
from inventory.services import StockLinkError, inventory_upsert_lots, stock_item_create_from_listing, stock_link_set, stock_unlink
from listings.models import Listing
from listings.services import listing_upsert_page
from marketsync.sync.records import LotRecord
from offers.models import Offer
from offers.services import offer_upsert_page
from orders.models import Order
from orders.services import order_upsert_page
from tests.factories import make_connection, make_organization, make_user
from tests.inventory.test_sku_stock import _bm_order, _listing, _offer, _refurbed_order
from tests.manage_cli import operator_shell

pytestmark = pytest.mark.django_db


def _shop(slug="refurb"):
    org = make_organization(slug)
    bm, rf = make_connection(org, "backmarket"), make_connection(org, "refurbed")
    listing_upsert_page(connection=bm, records=[_listing(sku="PHONE-1", quantity=5),
                                                _listing(sku="", quantity=2, external_id="uuid-2", legacy_id="102")])
    offer_upsert_page(connection=rf, records=[_offer(sku="TAB-1", stock=3)])
    return org, bm, rf


def test_an_owners_link_survives_later_imports_and_their_unlink_stops_reserving():
    org, bm, rf = _shop()
    phone = InventoryItem.objects.get(sku="PHONE-1")
    stock_link_set(organization=org, connection_id=rf.pk, external_id="600001", item_id=phone.pk, actor="test")
    offer_upsert_page(connection=rf, records=[_offer(sku="TAB-1", stock=3)])  # the next sweep
    assert Offer.objects.get().stock_item_id == phone.pk and Offer.objects.get().link_manual
    now = datetime.now(UTC)
    order_upsert_page(connection=rf, records=[_refurbed_order("1", sku="TAB-1", placed_at=now)])
    assert Reservation.objects.get().item_id == phone.pk  # through the offer's link, not its SKU

    stock_unlink(organization=org, connection_id=rf.pk, external_id="600001", actor="test")
    offer_upsert_page(connection=rf, records=[_offer(sku="TAB-1", stock=3)])
    assert Offer.objects.get().stock_item_id is None
    order_upsert_page(connection=rf, records=[_refurbed_order("2", sku="TAB-1", placed_at=now)])
    assert Order.objects.get(external_id="2").has_unmatched_items  # an unlinked offer's sale reserves nothing
    assert list(AuditEntry.objects.filter(action__startswith="inventory.").order_by("pk").values_list("action", flat=True)) == [
        "inventory.link", "inventory.unlink"]
    assert inventory_check() == []


def test_a_brick_lot_an_owner_moved_keeps_its_item_on_reimport():
    org = make_organization("bricks")
    bl = make_connection(org, "bricklink")
    lots = [LotRecord(external_id="1", part_number="3001", item_type="PART", color_id="5", condition="new", quantity=4,
                      location="A1"),
            LotRecord(external_id="2", part_number="3001", item_type="PART", color_id="5", condition="new", quantity=6,
                      location="B2")]
    inventory_upsert_lots(connection=bl, records=lots)
    b2 = InventoryItem.objects.get(location="B2")
    stock_link_set(organization=org, connection_id=bl.pk, external_id="1", item_id=b2.pk)
    inventory_upsert_lots(connection=bl, records=lots)
    assert InventoryLot.objects.get(external_id="1").item_id == b2.pk
    stock_unlink(organization=org, connection_id=bl.pk, external_id="1")
    inventory_upsert_lots(connection=bl, records=lots)
    assert InventoryLot.objects.get(external_id="1").item_id is None
    assert [row.external_id for row in unlinked_page(organization=org, kind="lot").rows] == ["1"]


def test_creating_an_item_from_an_unlinked_listing_counts_its_open_orders_and_refuses_a_taken_sku():
    org, bm, _ = _shop()
    order_upsert_page(connection=bm, records=[_bm_order("5", sku="", legacy_id="102", placed_at=datetime(2026, 1, 2, tzinfo=UTC))])
    assert Order.objects.get().has_unmatched_items
    page = unlinked_page(organization=org, kind="listing")
    assert [(r.external_id, r.reason) for r in page.rows] == [("uuid-2", "no SKU")]
    with pytest.raises(StockLinkError, match="no SKU"):
        stock_item_create_from_listing(organization=org, connection_id=bm.pk, external_id="uuid-2")
    with pytest.raises(StockLinkError, match="exists"):
        stock_item_create_from_listing(organization=org, connection_id=bm.pk, external_id="uuid-2", sku="phone-1")
    item = stock_item_create_from_listing(organization=org, connection_id=bm.pk, external_id="uuid-2", sku="CASE-9")
    item.refresh_from_db()
    # 2 listed + 1 in the order placed before the listing was read; the order now holds it
    assert (item.quantity_on_hand, item.quantity_reserved, item.quantity_available) == (3, 1, 2)
    assert Listing.objects.get(external_id="uuid-2").stock_item_id == item.pk
    assert unlinked_page(organization=org, kind="listing").rows == []
    assert inventory_check() == []


def test_link_changes_stay_inside_the_organization():
    org, bm, _ = _shop()
    other_org, other_bm, _ = _shop("rival")
    theirs = InventoryItem.objects.get(organization=other_org, sku="PHONE-1")
    with pytest.raises(StockLinkError, match="No stock item"):
        stock_link_set(organization=org, connection_id=bm.pk, external_id="uuid-1", item_id=theirs.pk)
    with pytest.raises(StockLinkError, match="No lot, listing or offer"):
        stock_unlink(organization=org, connection_id=other_bm.pk, external_id="uuid-1")
    assert Listing.objects.get(connection=other_bm, external_id="uuid-1").stock_item_id == theirs.pk


def test_drift_names_who_changed_the_marketplace_quantity():
    org, bm, rf = _shop()
    phone = InventoryItem.objects.get(sku="PHONE-1")
    stock_link_set(organization=org, connection_id=rf.pk, external_id="600001", item_id=phone.pk)
    (listing,), (offer,) = Listing.objects.filter(stock_item=phone), Offer.objects.filter(stock_item=phone)
    links = {link.kind: link for link in stock_item_links(item=phone)}
    assert (links["listing"].drift, links["offer"].drift) == (0, -2)  # 5 available; the offer says 3, never pushed
    assert links["offer"].changed_by == "someone at Refurbed"
    Listing.objects.filter(pk=listing.pk).update(pushed_quantity=5, pushed_at=datetime.now(UTC))
    Offer.objects.filter(pk=offer.pk).update(pushed_quantity=5, pushed_at=datetime.now(UTC), stock=4)  # a sale, or a hand edit
    links = {link.kind: link for link in stock_item_links(item=phone)}
    assert (links["listing"].drift, links["listing"].changed_by) == (0, "marketsync")
    assert (links["offer"].drift, links["offer"].changed_by, links["offer"].pushed_quantity) == (-1, "someone at Refurbed", 5)


def test_item_page_shows_links_with_drift_and_an_owner_links_and_unlinks_there(client):
    org, bm, rf = _shop()
    phone = InventoryItem.objects.get(sku="PHONE-1")
    client.force_login(make_user("owner", org, role="owner"))
    page = f"/inventory/{phone.pk}/"
    response = client.post("/inventory/link/", {"connection": rf.pk, "external_id": "600001", "action": "link",
                                                "item": phone.pk, "next": page})
    assert response.status_code == 302 and response["Location"] == page
    body = client.get(page).content.decode()
    assert "SKU PHONE-1" in body and "uuid-1" in body and "600001" in body
    assert "-2" in body and "someone at Refurbed" in body
    client.post("/inventory/link/", {"connection": rf.pk, "external_id": "600001", "action": "unlink", "next": page})
    assert Offer.objects.get().stock_item_id is None
    listing_body = client.get(f"/listings/{Listing.objects.get(external_id='uuid-1').pk}/").content.decode()
    assert f"/inventory/{phone.pk}/" in listing_body and "available 5" in listing_body
    offer_body = client.get(f"/offers/{Offer.objects.get().pk}/").content.decode()
    assert "Not linked to a stock item" in offer_body
    response = client.post("/inventory/link/", {"connection": "x", "external_id": "", "action": "link"}, follow=True)
    assert response.status_code == 200 and "Not changed" in response.content.decode()


def test_a_member_without_the_owner_role_cannot_change_links(client):
    org, bm, rf = _shop()
    phone = InventoryItem.objects.get(sku="PHONE-1")
    client.force_login(make_user("packer", org, role="member"))
    response = client.post("/inventory/link/", {"connection": rf.pk, "external_id": "600001", "action": "link",
                                                "item": phone.pk}, follow=True)
    assert response.status_code == 200 and "Only an owner" in response.content.decode()
    assert Offer.objects.get().stock_item_id != phone.pk
    body = client.get("/inventory/unlinked/?kind=listing").content.decode()
    assert "uuid-2" in body and "no SKU" in body and "/inventory/link/" not in body


def test_unlinked_page_is_scoped_and_survives_junk(client):
    org, bm, _ = _shop()
    _, rival_bm, _ = _shop("rival")
    client.force_login(make_user("ada", org))
    for query in ("?kind=lot", "?kind=offer", "?kind=nonsense", "?kind=listing&after=%00junk", "?before=zzz"):
        assert client.get("/inventory/unlinked/" + query).status_code == 200
    body = client.get("/inventory/unlinked/?kind=listing").content.decode()
    assert f"#{bm.pk}<" in body and f"#{rival_bm.pk}<" not in body  # ours, not the rival's row of the same id
    listing = Listing.objects.get(organization__slug="rival", external_id="uuid-2")
    assert f"/listings/{listing.pk}/" not in body


def test_link_commands_as_an_operator_runs_them(tmp_path):
    shell = operator_shell(tmp_path)
    shell.ok("organization", "create", "acme", "--name", "Acme Refurb")
    # Rows to link, written through the same services in the operator's own database.
    script = (
        "from connections.models import Organization; from tests.factories import make_connection;"
        "from listings.services import listing_upsert_page; from tests.inventory.test_sku_stock import _listing;"
        "org = Organization.objects.get(slug='acme'); c = make_connection(org, 'backmarket');"
        "listing_upsert_page(connection=c, records=[_listing(sku='PHONE-1'), _listing(sku='', external_id='u2', legacy_id='2')]);"
        "print(c.pk)"
    )
    connection_id = shell.ok("shell", "-c", script).strip().splitlines()[-1]
    assert "no SKU" in shell.ok("inventory", "unlinked", "--org", "acme")
    out = shell.ok("inventory", "link", "--connection", connection_id, "--external-id", "u2", "--new-item", "--sku", "PHONE-2")
    assert "Created stock item" in out and "SKU PHONE-2" in out
    assert "0 unlinked." in shell.ok("inventory", "unlinked", "--org", "acme")
    assert "unlinked" in shell.ok("inventory", "unlink", "--connection", connection_id, "--external-id", "u2")
    for args, says in [
        (("inventory", "unlink", "--connection", connection_id, "--external-id", "u2"), "is not linked"),
        (("inventory", "link", "--connection", connection_id, "--external-id", "u2", "--item", "999"), "No stock item 999"),
        (("inventory", "link", "--connection", "999", "--external-id", "u2", "--item", "1"), "No connection with id 999."),
        (("inventory", "link", "--connection", connection_id, "--external-id", "nope", "--item", "1"), "No lot, listing or offer"),
        (("inventory", "unlinked", "--org", "nope"), "No organization with slug 'nope'."),
    ]:
        result = shell.run(*args)
        assert result.returncode != 0 and says in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
    assert "Inventory OK" in shell.ok("inventory", "check", "--org", "acme")


def test_an_order_placed_after_the_import_is_a_new_sale():
    org, bm, _ = _shop()
    order_upsert_page(connection=bm, records=[_bm_order("8", placed_at=datetime.now(UTC) + timedelta(seconds=5))])
    phone = InventoryItem.objects.get(sku="PHONE-1")
    assert (phone.quantity_on_hand, phone.quantity_reserved) == (5, 1)


def test_admin_shows_an_items_lots_listings_and_offers_read_only(client):
    from django.contrib.auth import get_user_model

    org, bm, rf = _shop()
    phone = InventoryItem.objects.get(sku="PHONE-1")
    stock_link_set(organization=org, connection_id=rf.pk, external_id="600001", item_id=phone.pk)
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    body = client.get(f"/admin/inventory/inventoryitem/{phone.pk}/change/").content.decode()
    assert "PHONE-1" in body and "uuid-1" in body and "600001" in body
    assert client.get("/admin/inventory/inventoryitem/?q=PHONE").status_code == 200


def test_junk_in_the_link_doors_is_never_a_500(client):
    from tests.web.test_junk_input import JUNK

    org, bm, rf = _shop()
    client.force_login(make_user("owner", org, role="owner"))
    fields = ("connection", "external_id", "action", "item", "sku", "next", "kind", "after", "before")
    for junk in JUNK:
        for action in (junk, "link", "unlink", "create"):
            data = {**dict.fromkeys(fields, junk), "action": action}
            assert client.post("/inventory/link/", data).status_code == 302, (junk, action)
            data.update(connection=str(bm.pk))
            assert client.post("/inventory/link/", data).status_code == 302, (junk, action)
        assert client.get("/inventory/unlinked/", dict.fromkeys(fields, junk)).status_code == 200, junk
    # junk SKUs never reach a row: every junk post named a listing that is not there, or was refused
    assert InventoryItem.objects.filter(organization=org).count() == 2


def test_stock_list_finds_sku_items_and_filters_drift_across_listings_and_offers(client):
    org, bm, rf = _shop()
    client.force_login(make_user("ada", org))
    body = client.get("/inventory/", {"part": "phone-1"}).content.decode()
    assert "PHONE-1" in body and "TAB-1" not in body and "Back Market uuid-1: 5" in body
    assert "PHONE-1" not in client.get("/inventory/", {"drift": "1"}).content.decode()  # every row in step
    phone = InventoryItem.objects.get(sku="PHONE-1")
    stock_link_set(organization=org, connection_id=rf.pk, external_id="600001", item_id=phone.pk)
    body = client.get("/inventory/", {"drift": "1"}).content.decode()
    assert "PHONE-1" in body and "Refurbed 600001: 3" in body and "drift -2, someone at Refurbed" in body
    Offer.objects.filter(external_id="600001").update(pushed_quantity=3)  # what marketsync pushed: in step with it
    assert "PHONE-1" not in client.get("/inventory/", {"drift": "1"}).content.decode()


def test_an_owner_creates_a_stock_item_from_an_unlinked_listing_on_the_unlinked_page(client):
    org, bm, _ = _shop()
    client.force_login(make_user("owner", org, role="owner"))
    body = client.get("/inventory/unlinked/?kind=listing").content.decode()
    assert "uuid-2" in body and "Create stock item" in body
    response = client.post("/inventory/link/", {"connection": bm.pk, "external_id": "uuid-2", "action": "create",
                                                "sku": "PHONE-2"})
    item = InventoryItem.objects.get(organization=org, sku="PHONE-2")
    assert response.status_code == 302 and response["Location"] == f"/inventory/{item.pk}/"
    assert item.quantity_on_hand == 2 and Listing.objects.get(external_id="uuid-2").stock_item_id == item.pk
    response = client.post("/inventory/link/", {"connection": bm.pk, "external_id": "uuid-2", "action": "create",
                                                "sku": "PHONE-2"}, follow=True)
    assert "Not changed" in response.content.decode() and InventoryItem.objects.filter(sku="PHONE-2").count() == 1


def test_a_lot_that_names_neither_part_nor_colour_keeps_the_names_its_item_has():
    org = make_organization("names")
    bl = make_connection(org, "bricklink")
    named = LotRecord(external_id="1", part_number="3001", item_type="PART", color_id="5", condition="new", quantity=4,
                      name="Brick 2 x 4", color_name="Red")
    inventory_upsert_lots(connection=bl, records=[named])
    # A later lot of the same item carrying no names (as Brick Owl lots do) must not blank them.
    inventory_upsert_lots(connection=bl, records=[named, LotRecord(external_id="2", part_number="3001", item_type="PART",
                                                                   color_id="5", condition="new", quantity=1)])
    item = InventoryItem.objects.get(organization=org)
    assert (item.name, item.color_name) == ("Brick 2 x 4", "Red")
