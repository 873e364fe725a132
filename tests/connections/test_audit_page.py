"""The audit log page (/connections/audit/): this organization's changes only, filtered, paged by keyset."""

from datetime import timedelta

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections.models import AuditEntry, EntitySync
from listings.models import Listing
from listings.writes import listing_update
from marketsync.sync.runner import run_entity_sync
from marketsync.sync.writes import WriteRefused
from tests.factories import make_connection, make_organization, make_user
from tests.marketplaces.backmarket.fixtures import *  # noqa: F403  (the Back Market fixtures)
from tests.web.builders import make_orders

pytestmark = pytest.mark.django_db


def entry(organization, connection=None, **fields):
    values = dict(organization=organization, connection=connection, actor="test", action="listing_update",
                  target_type="listing", target_id="L1", outcome="success")
    return AuditEntry.objects.create(**{**values, **fields})


def test_lists_this_organizations_writes_only(client, owner, connection, transport):
    assert run_entity_sync(EntitySync.objects.get(connection=connection, entity="listings").pk, transport=transport).status == "ok"
    with pytest.raises(WriteRefused):  # refused locally; the refusal is audited
        listing_update(listing=Listing.objects.first(), price="abc", user=owner, transport=transport)
    client.force_login(owner)
    page = client.get(reverse("connections:audit_log")).content.decode()
    assert "listing_update" in page and "Price must be a number" in page and "Back Market" in page
    client.force_login(make_user("stranger", make_organization("other")))
    assert "listing_update" not in client.get(reverse("connections:audit_log")).content.decode()


def test_filters_by_marketplace_and_outcome_and_ignores_junk(client, owner, org, connection):
    refurbed = make_connection(org, "refurbed")
    entry(org, connection, action="bm_ok")
    entry(org, connection, action="bm_failed", outcome="failure", error="refused")
    entry(org, refurbed, action="rf_pending", outcome="pending")
    entry(org, None, action="inventory.adjust", target_type="inventory_item")
    client.force_login(owner)

    def actions(**query):
        response = client.get(reverse("connections:audit_log"), query)
        assert response.status_code == 200
        return {a for a in ("bm_ok", "bm_failed", "rf_pending", "inventory.adjust") if a in response.content.decode()}

    assert actions() == {"bm_ok", "bm_failed", "rf_pending", "inventory.adjust"}
    assert actions(marketplace="backmarket") == {"bm_ok", "bm_failed"}
    assert actions(marketplace="backmarket", outcome="failure") == {"bm_failed"}
    assert actions(outcome="pending") == {"rf_pending"}
    assert actions(marketplace="ebay", outcome="nope", after="%%%") == {"bm_ok", "bm_failed", "rf_pending", "inventory.adjust"}


def test_pages_walk_every_entry_once_by_keyset_without_offset(client, owner, org, connection):
    start = timezone.now()
    # Ties on created_at included: the id breaks them.
    for n in range(120):
        entry(org, connection, target_id=f"T{n:03d}", created_at=start - timedelta(seconds=n // 3))
    client.force_login(owner)
    seen, url, pages = [], reverse("connections:audit_log") + "?marketplace=backmarket", 0
    while url:
        with CaptureQueriesContext(db) as queries:
            response = client.get(url)
        pages += 1
        assert not any("OFFSET" in q["sql"].upper() or "COUNT(" in q["sql"].upper() for q in queries.captured_queries)
        page = response.context["page"]
        seen += [e.target_id for e in page.rows]
        url = f"{reverse('connections:audit_log')}?{response.context['base_query']}&after={page.next_cursor}" if page.next_cursor else ""
    assert pages == 3 and len(seen) == len(set(seen)) == 120
    assert seen == list(AuditEntry.objects.order_by("-created_at", "-id").values_list("target_id", flat=True))
    assert "Newest" in response.content.decode()


def test_the_old_back_market_address_redirects_keeping_the_query(client, owner):
    client.force_login(owner)
    response = client.get("/listings/backmarket/audit/?outcome=failure")
    assert response.status_code == 308
    assert response["Location"] == reverse("connections:audit_log") + "?outcome=failure&marketplace=backmarket"
    response = client.get("/listings/backmarket/audit/?marketplace=refurbed")
    assert response["Location"] == reverse("connections:audit_log") + "?marketplace=refurbed"


def test_nav_listings_and_order_pages_link_to_it(client, owner, org, connection):
    [order] = make_orders(connection, 1)
    client.force_login(owner)
    audit = reverse("connections:audit_log")
    assert f'href="{audit}"' in client.get(reverse("orders:order_list")).content.decode()
    assert f'href="{audit}?marketplace=backmarket"' in client.get(reverse("listings:listing_list")).content.decode()
    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert f'href="{audit}?marketplace=backmarket"' in page


@pytest.mark.parametrize(
    "raw",
    ["x|1", "2026-01-01T00:00:00+00:00|99999999999999999999999", "9999-12-31T23:59:59+14:00|-1", "2026-13-45T99:00:00|1",
     "\x00|\x00", "|"],
)
def test_a_junk_cursor_starts_at_the_top_or_pages_on_without_an_error(client, owner, org, connection, raw):
    import base64

    entry(org, connection)
    client.force_login(owner)
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    response = client.get(reverse("connections:audit_log"), {"after": cursor})
    assert response.status_code == 200


def test_newer_walks_back_to_the_page_before_and_an_old_page_number_is_ignored(client, owner, org, connection):
    start = timezone.now()
    for n in range(120):
        entry(org, connection, target_id=f"T{n:03d}", created_at=start - timedelta(seconds=n))
    client.force_login(owner)
    url = reverse("connections:audit_log")
    first = client.get(url).context["page"]
    second = client.get(url, {"after": first.next_cursor}).context["page"]
    third = client.get(url, {"after": second.next_cursor})
    assert 'rel="prev"' in third.content.decode() and "Newest" in third.content.decode()
    back = client.get(url, {"before": third.context["page"].prev_cursor}).context["page"]
    assert [e.pk for e in back.rows] == [e.pk for e in second.rows]
    assert [e.pk for e in client.get(url, {"page": "3"}).context["page"].rows] == [e.pk for e in first.rows]


def test_a_junk_filter_value_is_named_beside_its_field(client, owner, org, connection):
    entry(org, connection, action="bm_ok")
    client.force_login(owner)
    response = client.get(reverse("connections:audit_log"), {"marketplace": "x" * 400, "outcome": "2026-13-45"})
    body = response.content.decode()
    assert response.status_code == 200 and "bm_ok" in body
    assert body.count('class="error">Select a valid choice.') == 2
