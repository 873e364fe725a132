"""The offers are searchable; market offers have their own paged, filtered list."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from offers.models import MarketOffer, Offer
from tests.factories import make_connection, make_organization, make_user
from tests.pages import walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(client):
    org = make_organization("shop")
    conn = make_connection(org, "refurbed")
    now = timezone.now()
    Offer.objects.bulk_create(
        Offer(organization=org, connection=conn, external_id=str(n), sku=f"SKU-{n}", instance_name="iPhone 12" if n % 2 else "Pixel 7",
              state="OK", marketplace_created_at=now - timedelta(hours=n))
        for n in range(130)
    )
    MarketOffer.objects.bulk_create(
        MarketOffer(organization=org, connection=conn, external_id=f"{n}-{code}", offer_external_id=str(n), sku=f"SKU-{n}",
                    market_code=code, currency="EUR", visibility="FULL" if n % 3 else "NONE")
        for n in range(70) for code in ("AT", "DE")
    )
    rival = make_organization("rival")
    MarketOffer.objects.create(organization=rival, connection=make_connection(rival, "refurbed"), external_id="x", offer_external_id="1",
                               sku="RIVAL", market_code="DE")
    client.force_login(make_user("ada", org))
    return org, conn


def test_offers_page_past_the_first_hundred_and_are_searchable(client, shop):
    rows, _ = walk(client, reverse("offers:offer_list"))
    assert len(rows) == 130 and len({o.pk for o in rows}) == 130
    found = client.get(reverse("offers:offer_list"), {"q": "sku-12"}).context["page"].rows
    assert {o.sku for o in found} == {"SKU-12", *(f"SKU-{n}" for n in range(120, 130))}
    assert [o.external_id for o in client.get(reverse("offers:offer_list"), {"q": "sku-7"}).context["page"].rows][:1] == ["7"]
    assert len(client.get(reverse("offers:offer_list"), {"q": "pixel"}).context["page"].rows) == 65
    junk = client.get(reverse("offers:offer_list"), {"q": "x" * 400})
    assert junk.status_code == 200 and "at most 120 characters" in junk.content.decode() and "x" * 121 not in junk.content.decode()


def test_market_offers_are_paged_by_offer_then_market_and_filtered(client, shop):
    rows, queries = walk(client, reverse("offers:market_offer_list"))
    assert len(rows) == 140 and "RIVAL" not in {m.sku for m in rows}
    assert [(m.offer_external_id, m.market_code) for m in rows] == sorted((m.offer_external_id, m.market_code) for m in rows)
    assert len(queries) == 2 and len(set(queries)) == 1
    de = client.get(reverse("offers:market_offer_list"), {"market_code": "DE", "visibility": "NONE"}).context["page"].rows
    assert de and {(m.market_code, m.visibility) for m in de} == {("DE", "NONE")}
    assert [m.sku for m in client.get(reverse("offers:market_offer_list"), {"q": "sku-69"}).context["page"].rows] == ["SKU-69", "SKU-69"]
    body = client.get(reverse("offers:market_offer_list"), {"q": "nothing-like-it"}).content.decode()
    assert "No market offers match these filters." in body


def test_the_reference_look_up_of_an_unknown_instance_names_no_api_path_and_echoes_no_long_input(client):
    from tests.marketplaces.refurbed.sim import LoopbackServer, make_sim, refurbed_connection

    app = make_sim(orders=5)
    with LoopbackServer(app) as server:
        conn = refurbed_connection(base_url=f"{server.base}/refurbed")
        make_user("owner", conn.organization)
        client.login(username="owner", password="pw")
        url = reverse("offers:reference", args=[conn.pk])
        body = client.get(url, {"instance": "12345678901234567890"}).content.decode()
        assert "Refurbed has no instance with this id." in body
        assert "refb." not in body and "InstanceService" not in body and "/refurbed/" not in body.split("<main>")[1]
        body = client.get(url, {"instance": "9" * 400}).content.decode()
        assert "at most 20 characters" in body and "9" * 21 not in body
        assert client.get(reverse("offers:reference_index")).status_code == 302
