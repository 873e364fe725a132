"""Admin pages for BackShip rows, listings and bulk tasks render; the listing action goes through the service."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from backship.models import Delivery
from connections.models import AuditEntry, EntitySync
from listings.models import Listing
from marketsync.sync.runner import run_entity_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_admin_pages_render_without_credentials(admin_client, connection, transport, media):
    for entity in ("orders", "listings", "deliveries"):
        run_entity_sync(EntitySync.objects.get(connection=connection, entity=entity).pk, transport=transport)
    delivery = Delivery.objects.exclude(label_file="").first()
    for url in (
        reverse("admin:backship_delivery_changelist"),
        reverse("admin:backship_delivery_change", args=[delivery.pk]),
        reverse("admin:backship_return_changelist"),
        reverse("admin:listings_listing_changelist"),
        reverse("admin:listings_listing_change", args=[Listing.objects.first().pk]),
        reverse("admin:listings_bulklistingtask_changelist"),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert connection.credentials["api_key"] not in response.content.decode()
    page = admin_client.get(reverse("admin:backship_delivery_change", args=[delivery.pk])).content.decode()
    assert reverse("backship:label", args=["delivery", delivery.pk]) in page


def test_take_offline_action_calls_the_service_and_audits(admin_client, live_connection, live_sim):
    run_entity_sync(EntitySync.objects.get(connection=live_connection, entity="listings").pk)
    listing = Listing.objects.filter(quantity__gt=0).first()
    response = admin_client.post(reverse("admin:listings_listing_changelist"),
                                 {"action": "take_offline", "_selected_action": [listing.pk]}, follow=True)
    assert response.status_code == 200
    listing.refresh_from_db()
    assert listing.quantity == 0 and listing.publication_state == "3"
    entry = AuditEntry.objects.get(action="listing_update")
    assert entry.outcome == "success" and entry.actor == "admin"


def test_refresh_action_rereads_the_listing_through_record_refresh(admin_client, live_connection, live_sim):
    app, _ = live_sim
    run_entity_sync(EntitySync.objects.get(connection=live_connection, entity="listings").pk)
    listing = Listing.objects.first()
    remote = next(item for item in app["backmarket"].listings if item["id"] == listing.external_id)
    remote["price"] = "12.34"  # changed at Back Market since the sync
    response = admin_client.post(reverse("admin:listings_listing_changelist"),
                                 {"action": "refresh_from_back_market", "_selected_action": [listing.pk]}, follow=True)
    assert response.status_code == 200
    listing.refresh_from_db()
    assert str(listing.price) == "12.34" and not AuditEntry.objects.exists()
