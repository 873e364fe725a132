"""BackShip pages and labels are scoped to the organization."""

from datetime import timedelta

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from backship.models import Delivery, Return
from tests.factories import make_connection, make_organization, make_user
from tests.pages import JUNK_CURSORS, shows_the_top, walk

pytestmark = pytest.mark.django_db


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


@pytest.fixture
def many(db):
    org = make_organization("many")
    connection = make_connection(org, "backmarket")
    start = timezone.now()
    for model in (Delivery, Return):
        # Equal times (the id breaks the tie) and shipments without a time (first, going down).
        model.objects.bulk_create(
            model(organization=org, connection=connection, external_id=f"S{n}", tracking_number=f"TRK-{n % 3}-{n}",
                  created_at=None if n % 17 == 0 else start - timedelta(minutes=n // 2))
            for n in range(110)
        )
    return org


@pytest.mark.parametrize("name, model", [("backship:delivery_list", Delivery), ("backship:return_list", Return)])
def test_each_list_walks_every_shipment_once_newest_first(client, many, name, model):
    client.force_login(make_user("ada", many))
    rows, queries = walk(client, reverse(name))
    assert rows == list(model.objects.order_by(F("created_at").desc(nulls_first=True), "-id"))
    assert len(queries) == 3 and len(set(queries)) == 1
    found, _ = walk(client, reverse(name), {"q": "TRK-1"})
    assert len(found) == 37 and all(s.tracking_number.startswith("TRK-1") for s in found)


@pytest.mark.parametrize("name", ["backship:delivery_list", "backship:return_list"])
@pytest.mark.parametrize("query", JUNK_CURSORS)
def test_a_junk_cursor_or_an_old_page_number_starts_at_the_newest(client, many, name, query):
    client.force_login(make_user("ada", many))
    assert shows_the_top(client, reverse(name), query)


def test_an_over_long_search_is_named_beside_the_field(client, many):
    client.force_login(make_user("ada", many))
    response = client.get(reverse("backship:return_list"), {"q": "x" * 400})
    assert response.status_code == 200 and "Ensure this value has at most 120 characters" in response.content.decode()
    assert len(response.context["page"].rows) == 50
