"""BackShip pages and labels are scoped to the organization."""

import pytest
from django.urls import reverse

from backship.models import Delivery, Return

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
