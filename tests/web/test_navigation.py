"""Every page is reachable from the top bar, grouped by area; staff see the admin; synced rows are read-only in
the admin; errors show no internal API paths and echo no unbounded input."""

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from backship.models import Delivery, Return
from connections.models import AuditEntry, EntitySync
from inventory.models import InventoryItem, InventoryLot, Reservation, StockMovement
from listings.models import Listing
from marketsync.sync.errors import InvalidRequest, NotFound, public_message
from offers.models import MarketOffer, Offer
from tests.factories import make_connection, make_organization, make_user

pytestmark = pytest.mark.django_db

AREAS = ["Orders", "Stock", "Listings &amp; offers", "Shipments", "Connections", "Activity"]
PAGES = ["orders:order_list", "inventory:inventory_list", "inventory:inventory_unmatched", "inventory:inventory_unlinked",
         "inventory:inventory_unmapped", "inventory:reconcile", "inventory:ledger", "listings:listing_list",
         "listings:bulk_upload", "offers:offer_list", "offers:market_offer_list", "offers:reference_index",
         "backship:delivery_list", "backship:return_list", "connections:connection_list", "connections:audit_log"]


def _nav(body: str) -> str:
    return body[body.index('<nav class="mainnav"'):body.index("</nav>", body.index('<nav class="mainnav"'))]


def test_the_top_bar_groups_every_page_by_area_and_each_link_answers(client):
    org = make_organization("shop")
    make_connection(org, "refurbed")
    client.force_login(make_user("ada", org))
    nav = _nav(client.get(reverse("orders:order_list")).content.decode())
    heads = re.findall(r'class="navhead" href="[^"]*">([^<]+)', nav)
    assert [h.strip() for h in heads] == AREAS
    links = set(re.findall(r'href="([^"]+)"', nav))
    for name in PAGES:
        assert reverse(name) in {link.split("?")[0] for link in links}, name
    for link in links:
        response = client.get(link.replace("&amp;", "&"), follow=True)
        assert response.status_code == 200, link
    assert "Admin" not in nav


def test_staff_see_a_link_to_the_admin(client):
    org = make_organization("shop")
    user = make_user("staff", org)
    user.is_staff = True
    user.save()
    client.force_login(user)
    nav = _nav(client.get(reverse("orders:order_list")).content.decode())
    assert f'href="{reverse("admin:index")}">Admin</a>' in nav


@pytest.mark.parametrize("model", [Offer, MarketOffer, Listing, Delivery, Return, InventoryItem, InventoryLot, Reservation,
                                   StockMovement, EntitySync, AuditEntry])
def test_synced_rows_have_no_add_in_the_admin(client, model):
    from django.contrib.auth.models import User

    model_admin = admin.site._registry[model]
    superuser = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(superuser)
    request = type("R", (), {"user": superuser})()
    assert not model_admin.has_add_permission(request)
    opts = model._meta
    assert client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code == 403
    changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).content.decode()
    assert reverse(f"admin:{opts.app_label}_{opts.model_name}_add") not in changelist


def test_an_offer_is_read_only_in_the_admin(client):
    from django.contrib.auth.models import User

    org = make_organization("shop")
    offer = Offer.objects.create(organization=org, connection=make_connection(org, "refurbed"), external_id="1", sku="S", stock=3)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    page = client.get(reverse("admin:offers_offer_change", args=[offer.pk])).content.decode()
    assert 'name="stock"' not in page and 'name="sku"' not in page


def test_a_marketplace_error_shown_on_a_page_names_no_api_path_and_is_bounded():
    path = "POST /refurbed/refb.merchant.v1.InstanceService/GetInstance"
    shown = public_message(NotFound(f"{path} found nothing (404).", status_code=404, endpoint=path))
    assert "refb.merchant" not in shown and "/refurbed" not in shown and shown.startswith("The request found nothing")
    long = public_message(InvalidRequest(f"{path} was rejected (400): {'9' * 5000}", endpoint=path))
    assert len(long) <= 300 and "InstanceService" not in long
