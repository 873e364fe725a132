"""BackShip pages and labels are scoped to the organization; order-page actions go through the services."""

import pytest
from django.urls import reverse

from backship.models import Delivery, Return
from connections.models import AuditEntry, EntitySync
from marketsync.sync.runner import run_entity_sync
from orders.models import Order, OrderItem
from tests.factories import make_organization, make_user
from tests.marketplaces.backmarket.helpers import bm_connection

pytestmark = pytest.mark.django_db


def sync_all(connection, transport, *entities):
    for entity in entities:
        outcome = run_entity_sync(EntitySync.objects.get(connection=connection, entity=entity).pk, transport=transport)
        assert outcome.status == "ok", outcome.error


@pytest.fixture
def stored(connection, transport, media):
    sync_all(connection, transport, "orders", "deliveries", "returns")
    return connection


@pytest.fixture
def stranger(client):
    other = make_organization("other", "Other Co")
    bm_connection(other)
    return make_user("stranger", other)


def test_label_is_served_to_the_owning_organization_only(client, stored, owner, stranger):
    delivery = Delivery.objects.exclude(label_file="").first()
    returned = Return.objects.exclude(label_file="").first()
    url = reverse("backship:label", args=["delivery", delivery.pk])
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(owner)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    assert client.get(reverse("backship:label", args=["return", returned.pk])).status_code == 200
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    assert client.get(reverse("backship:shipment_detail", args=["delivery", delivery.pk])).status_code == 404


def test_label_not_downloaded_yet_is_a_404(client, stored, owner):
    delivery = Delivery.objects.first()
    Delivery.objects.filter(pk=delivery.pk).update(label_file="")
    client.force_login(owner)
    assert client.get(reverse("backship:label", args=["delivery", delivery.pk])).status_code == 404


def test_delivery_and_return_lists_show_only_own_rows(client, stored, owner, stranger):
    client.force_login(owner)
    page = client.get(reverse("backship:delivery_list")).content.decode()
    first = Delivery.objects.order_by("-created_at", "-id").first()
    assert first.tracking_number in page and reverse("backship:label", args=["delivery", first.pk]) in page
    assert Return.objects.first().tracking_number in client.get(reverse("backship:return_list")).content.decode()
    client.force_login(stranger)
    assert first.tracking_number not in client.get(reverse("backship:delivery_list")).content.decode()


def test_order_page_shows_back_market_actions_and_backship_labels(client, stored, owner):
    delivery = Delivery.objects.exclude(label_file="").filter(order__isnull=False).first()
    client.force_login(owner)
    page = client.get(reverse("orders:order_detail", args=[delivery.order.pk])).content.decode()
    assert "Back Market actions" in page
    assert reverse("backship:label", args=["delivery", delivery.pk]) in page
    assert reverse("listings:bm_order_invoice", args=[delivery.order.pk]) in page


def test_accept_from_the_order_page_acts_audits_and_redirects(client, owner, live_connection, live_sim, media):
    app, _ = live_sim
    run_entity_sync(EntitySync.objects.get(connection=live_connection, entity="orders").pk)
    item = OrderItem.objects.filter(marketplace_status="1", order__marketplace_status="1").first()
    client.force_login(owner)
    response = client.post(reverse("listings:bm_orderline_accept", args=[item.order.pk, item.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("orders:order_detail", args=[item.order.pk])
    assert app["backmarket"].lines[int(item.external_id)]["state"] == 2
    item.refresh_from_db()
    assert item.marketplace_status == "2"
    entry = AuditEntry.objects.get(action="orderline_accept")
    assert entry.user == owner and entry.outcome == "success"


def test_invalid_imei_from_the_order_page_shows_the_error_and_sends_nothing(client, owner, live_connection, live_sim):
    app, _ = live_sim
    run_entity_sync(EntitySync.objects.get(connection=live_connection, entity="orders").pk)
    before = len(app["backmarket"].request_log)
    item = OrderItem.objects.filter(imei="").first()
    client.force_login(owner)
    response = client.post(reverse("listings:bm_orderline_identifiers", args=[item.order.pk, item.pk]),
                           {"imei": "123"}, follow=True)
    assert "IMEI must be exactly 15 digits" in response.content.decode()
    assert len(app["backmarket"].request_log) == before


def test_order_actions_of_another_organization_are_404(client, stored, stranger):
    order = Order.objects.filter(marketplace_status="3").first()
    item = order.items.first()
    client.force_login(stranger)
    assert client.post(reverse("listings:bm_order_ship", args=[order.pk]), {"tracking_number": "X"}).status_code == 404
    assert client.post(reverse("listings:bm_orderline_cancel", args=[order.pk, item.pk])).status_code == 404
    assert not AuditEntry.objects.exists()
