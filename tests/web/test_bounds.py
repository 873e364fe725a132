"""Numbers out of bounds are a form error on every door (page, service, CLI), never a 500 on any database, and
never sent to a marketplace. Run these on PostgreSQL too: DATABASE_URL=postgres://… pytest tests/web/test_bounds.py"""

import pytest
from django.urls import reverse

from connections.models import AuditEntry, EntitySync
from inventory.models import InventoryItem
from inventory.services import inventory_adjust
from listings.models import Listing
from listings.writes import listing_update
from marketsync.sync.runner import run_entity_sync
from marketsync.sync.writes import WriteRefused
from tests.factories import make_connection
from tests.marketplaces.backmarket.fixtures import *  # noqa: F403  (the Back Market fixtures)

pytestmark = pytest.mark.django_db

HUGE_ADJUSTMENT = 99_999_999_999_999  # answered HTTP 500 "integer out of range" on PostgreSQL
HUGE_QUANTITY = 99_999_999_999  # was sent to Back Market


@pytest.fixture
def item(org):
    make_connection(org, "bricklink")
    return InventoryItem.objects.create(organization=org, part_number="3001", item_type="PART", color_id="5", condition="new",
                                        location="A1", quantity_on_hand=4)


@pytest.mark.parametrize("delta", [HUGE_ADJUSTMENT, -HUGE_ADJUSTMENT, 2**63])
def test_a_huge_stock_adjustment_is_a_message_on_the_page_and_refused_by_the_service(client, owner, item, delta):
    client.force_login(owner)
    response = client.post(reverse("inventory:inventory_item_adjust", args=[item.pk]), {"delta": str(delta), "reason": "typo"},
                           follow=True)
    assert response.status_code == 200 and "Not adjusted:" in response.content.decode()
    with pytest.raises(ValueError, match="at most 1,000,000"):
        inventory_adjust(organization=item.organization, item_id=item.pk, delta=delta, reason="typo", user=owner, source="test")
    item.refresh_from_db()
    assert item.quantity_on_hand == 4 and not item.movements.exists()


def test_a_huge_listing_quantity_is_a_form_error_and_nothing_reaches_back_market(client, owner, live_connection, live_sim):
    app, _ = live_sim
    assert run_entity_sync(EntitySync.objects.get(connection=live_connection, entity="listings").pk).status == "ok"
    listing = Listing.objects.filter(connection=live_connection).first()
    before = len(app["backmarket"].request_log)
    client.force_login(owner)
    response = client.post(reverse("listings:listing_detail", args=[listing.pk]), {"quantity": str(HUGE_QUANTITY)})
    body = response.content.decode()
    assert response.status_code == 200 and "less than or equal to 2147483647" in body
    assert 'max="2147483647"' in body  # the browser knows the bound too
    with pytest.raises(WriteRefused, match="at most 2147483647"):  # the service's own check: admin and CLI get it
        listing_update(listing=listing, quantity=HUGE_QUANTITY, user=owner)
    assert len(app["backmarket"].request_log) == before
    assert AuditEntry.objects.get(action="listing_update").request_summary["refused_locally"]
    listing.refresh_from_db()
    assert listing.quantity < HUGE_QUANTITY
