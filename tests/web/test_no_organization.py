"""A logged-in user who belongs to no organization: the two landing pages explain, every other merchant page is a
404 (``connections.middleware.organization_or_404``, the one current-organization lookup of every view)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_user

pytestmark = pytest.mark.django_db

LANDING = ["orders:order_list", "connections:connection_list"]
PAGES = [
    "orders:order_poll", "orders:order_export", "offers:offer_list", "listings:listing_list", "listings:bulk_upload",
    "backship:delivery_list", "backship:return_list", "inventory:inventory_list", "inventory:inventory_unmatched",
    "connections:audit_log", "connections:connection_create",
]
OBJECT_PAGES = [
    ("orders:order_detail", {"pk": 1}), ("offers:offer_detail", {"pk": 1}), ("offers:reference", {"connection_id": 1}),
    ("listings:listing_detail", {"pk": 1}), ("backship:shipment_detail", {"kind": "delivery", "pk": 1}),
    ("inventory:inventory_item", {"pk": 1}),
]


@pytest.fixture(params=["member of nothing", "superuser of nothing"])
def loner(client, request):
    # A superuser in no organization is a user in no organization here (the admin is where staff work): /offers/ and
    # the reference page answered it with a 500 (issue 10).
    user = make_user("loner")
    if request.param.startswith("superuser"):
        user.is_superuser = user.is_staff = True
        user.save()
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", LANDING)
def test_the_landing_pages_explain_what_to_do(loner, name):
    response = loner.get(reverse(name))
    assert response.status_code == 200 and "You are not in an organization yet" in response.content.decode()


@pytest.mark.parametrize("name", PAGES)
def test_every_other_list_page_is_a_404(loner, name):
    assert loner.get(reverse(name)).status_code == 404


@pytest.mark.parametrize("name, kwargs", OBJECT_PAGES)
def test_every_object_page_is_a_404(loner, name, kwargs):
    assert loner.get(reverse(name, kwargs=kwargs)).status_code == 404
