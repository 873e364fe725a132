"""The read side: the seed component's getters over the local tables, scoped to an organization."""

from pathlib import Path

import pytest

from backship import selectors
from backship.models import Delivery, Return
from connections.models import EntitySync
from listings import selectors as listing_selectors
from marketsync.sync.runner import run_entity_sync
from tests.factories import make_organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(connection, transport, media):
    for entity in ("orders", "listings", "deliveries", "returns"):
        assert run_entity_sync(EntitySync.objects.get(connection=connection, entity=entity).pk, transport=transport).status == "ok"
    return connection


def test_getters_by_id_order_orderline_sku_and_state(stored, org, bm):
    other = make_organization("other")
    delivery = Delivery.objects.filter(order__isnull=False).first()
    returned = Return.objects.first()
    assert selectors.delivery_get(organization=org, pk=delivery.pk) == delivery
    assert selectors.delivery_get(organization=other, pk=delivery.pk) is None
    assert list(selectors.delivery_list(organization=org, order=delivery.order)) == [delivery]
    assert selectors.return_list(organization=org, order_item=returned.order_item).get() == returned
    assert selectors.return_get(organization=org, pk=returned.pk) == returned
    assert selectors.shipment_label_url(shipment=delivery).endswith(f"/delivery/{delivery.pk}/label.pdf")
    listing = bm.listings[5]
    assert listing_selectors.listing_get_by_sku(organization=org, sku=listing["sku"].lower()).external_id == listing["id"]
    assert listing_selectors.listing_get_by_external_id(organization=org, external_id=str(listing["listing_id"])).sku == listing["sku"]
    assert listing_selectors.listing_get_by_sku(organization=other, sku=listing["sku"]) is None


def test_deleting_the_connection_deletes_shipments_and_their_label_files(stored):
    paths = [Path(d.label_file.path) for d in Delivery.objects.exclude(label_file="")]
    assert paths and all(p.exists() for p in paths)
    stored.delete()
    assert not Delivery.objects.exists() and not Return.objects.exists()
    assert not any(p.exists() for p in paths)
