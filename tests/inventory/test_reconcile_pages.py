"""The stock push's doors as a user sees them: the reconcile page (owners push the differences) and the pushes on a
stock item's page, each scoped to the organization."""

from __future__ import annotations

import pytest

from inventory.models import InventoryItem, StockPush
from inventory.push import stock_push_drain
from tests.factories import make_user
from tests.inventory.test_pages import _shop

pytestmark = pytest.mark.django_db


def test_reconcile_page_lists_differences_and_queues_of_this_organization_only(client):
    org, connection = _shop("shop")
    _shop("rival")
    client.force_login(make_user("ada", org, role="member"))
    page = client.get("/inventory/reconcile/")
    assert page.status_code == 200
    body = page.content.decode()
    # shop-1: 40 at BrickLink, 37 available here (3 reserved by order 777); shop-2: 10 listed, 8 available.
    assert "shop-1" in body and "shop-2" in body and "rival-1" not in body
    assert "+3" in body and "+2" in body
    assert "2 linked listing(s) differ" in body
    assert 'href="/inventory/unlinked/?kind=lot"' in body and 'href="/inventory/unmapped/"' in body
    assert "Push these differences" not in body and "Only an owner" in body


def test_a_member_cannot_push_the_differences(client):
    org, _ = _shop("shop")
    client.force_login(make_user("bob", org, role="member"))
    response = client.post("/inventory/reconcile/push/", follow=True)
    assert response.status_code == 200
    assert "Only an owner" in response.content.decode()
    assert not StockPush.objects.exists()


def test_an_owner_pushes_the_differences_and_the_item_page_shows_each_push(client):
    org, connection = _shop("shop")
    _shop("rival")
    client.force_login(make_user("ada", org, role="owner"))
    body = client.get("/inventory/reconcile/").content.decode()
    assert "Push these differences" in body and 'name="csrfmiddlewaretoken"' in body
    response = client.post("/inventory/reconcile/push/", follow=True)
    assert response.status_code == 200
    assert "Queued 2 push(es)" in response.content.decode()
    pushes = StockPush.objects.filter(organization=org)
    assert pushes.count() == 2 and all(p.forced and p.trigger == "reconcile" for p in pushes)
    assert not StockPush.objects.exclude(organization=org).exists()  # the rival's differences are untouched
    item = InventoryItem.objects.get(organization=org, part_number="3001")
    page = client.get(f"/inventory/{item.pk}/").content.decode()
    assert 'id="stock-pushes"' in page and "reconcile" in page and "BrickLink lot shop-1" in page
    assert "? → 37" in page and "Waiting" in page


def test_a_failed_push_shows_the_marketplaces_answer_on_the_item_page(client):
    org, connection = _shop("shop")
    client.force_login(make_user("ada", org, role="owner"))
    client.post("/inventory/reconcile/push/")
    # The connection's base URL is no simulator: the drain records what went wrong, the page shows it, no 500.
    stock_push_drain(organization_id=org.pk)
    item = InventoryItem.objects.get(organization=org, part_number="3001")
    push = StockPush.objects.get(item=item)
    assert push.last_error
    page = client.get(f"/inventory/{item.pk}/")
    assert page.status_code == 200
    assert push.last_error[:40] in page.content.decode()


def test_nothing_to_push_is_said_not_failed(client):
    org, _ = _shop("shop")
    client.force_login(make_user("ada", org, role="owner"))
    client.post("/inventory/reconcile/push/")
    StockPush.objects.all().delete()
    for item in InventoryItem.objects.filter(organization=org):  # every lot already shows available
        item.lots.update(marketplace_quantity=item.quantity_available)
    response = client.post("/inventory/reconcile/push/", follow=True)
    assert "Nothing to push" in response.content.decode()
    assert not StockPush.objects.exists()


def test_reconcile_page_needs_login(client):
    assert client.get("/inventory/reconcile/").status_code == 302
    assert client.post("/inventory/reconcile/push/").status_code == 302
