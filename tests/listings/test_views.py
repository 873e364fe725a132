"""Back Market listing pages: filter and search, update form, bulk CSV upload with progress — all org-scoped."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from connections.models import AuditEntry, EntitySync
from listings.models import BulkListingTask, Listing
from marketsync.sync.runner import run_entity_sync
from tests.factories import make_organization, make_user
from tests.marketplaces.backmarket.fixtures import *  # noqa: F403  (the Back Market fixtures)
from tests.pages import JUNK_CURSORS, shows_the_top, walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def listings(live_connection):
    assert run_entity_sync(EntitySync.objects.get(connection=live_connection, entity="listings").pk).status == "ok"
    return Listing.objects.filter(connection=live_connection)


def test_list_filters_by_publication_state_and_searches_sku_or_title(client, owner, listings):
    client.force_login(owner)
    offline = listings.filter(publication_state="3")
    online = listings.filter(publication_state="2").first()
    page = client.get(reverse("listings:listing_list"), {"publication_state": "3"}).content.decode()
    assert offline.first().sku in page and online.sku not in page
    response = client.get(reverse("listings:listing_list"), {"q": online.sku.lower()})
    assert online.sku in response.content.decode() and response.context["page"].rows == [online]
    page = client.get(reverse("listings:listing_list"), {"q": "Fairphone"}).content.decode()
    assert "Fairphone" in page and "Galaxy" not in page


def test_listing_of_another_organization_is_404(client, listings):
    stranger = make_user("stranger", make_organization("other"))
    client.force_login(stranger)
    assert client.get(reverse("listings:listing_detail", args=[listings.first().pk])).status_code == 404
    assert listings.first().sku not in client.get(reverse("listings:listing_list")).content.decode()


def test_update_form_sends_the_change_and_shows_the_new_values(client, owner, listings, live_sim):
    app, _ = live_sim
    listing = listings.filter(min_price__isnull=True, quantity__gt=0).first()
    client.force_login(owner)
    url = reverse("listings:listing_detail", args=[listing.pk])
    response = client.post(url, {"price": "111.00", "quantity": "0", "warranty_delay": listing.warranty_delay or 12,
                                 "comment": listing.comment}, follow=True)
    assert response.status_code == 200
    remote = next(item for item in app["backmarket"].listings if item["id"] == listing.external_id)
    assert (remote["price"], remote["quantity"], remote["publication_state"]) == ("111.00", 0, 3)
    listing.refresh_from_db()
    assert str(listing.price) == "111.00" and listing.publication_state == "3"
    assert AuditEntry.objects.get(action="listing_update").request_summary == {"sku": listing.sku, "price": "111.00", "quantity": 0}


def test_update_form_shows_field_errors_without_sending(client, owner, listings, live_sim):
    app, _ = live_sim
    before = len(app["backmarket"].request_log)
    client.force_login(owner)
    response = client.post(reverse("listings:listing_detail", args=[listings.first().pk]), {"warranty_delay": "3"})
    assert response.status_code == 200 and "Ensure this value is greater than or equal to 12" in response.content.decode()
    assert len(app["backmarket"].request_log) == before


def test_bulk_upload_lists_errors_by_line_and_sends_nothing(client, owner, live_connection, live_sim):
    app, _ = live_sim
    before = len(app["backmarket"].request_log)
    client.force_login(owner)
    upload = SimpleUploadedFile("bad.csv", b"sku,price\nA,abc\n,10\n", content_type="text/csv")
    response = client.post(reverse("listings:bulk_upload"), {"connection": live_connection.pk, "file": upload,
                                                             "delimiter": ",", "quotechar": '"', "encoding": "utf-8"})
    page = response.content.decode()
    assert "Line 2: price must be a number (got &#x27;abc&#x27;)." in page and "Line 3: sku is empty." in page
    assert len(app["backmarket"].request_log) == before
    assert not BulkListingTask.objects.exists()


def test_an_excel_csv_utf_8_upload_is_read_and_its_absurd_numbers_are_named_by_line(client, owner, live_connection, live_sim):
    # Issue 10: the byte order mark made the header's 'sku' unknown; 1e308 and 10^23 went to Back Market.
    app, _ = live_sim
    before = len(app["backmarket"].request_log)
    client.force_login(owner)
    content = "sku,price,quantity\r\nA,1e308,1\r\nB,10,100000000000000000000000\r\n".encode("utf-8-sig")
    upload = SimpleUploadedFile("excel.csv", content, content_type="text/csv")
    response = client.post(reverse("listings:bulk_upload"), {"connection": live_connection.pk, "file": upload,
                                                             "delimiter": ",", "quotechar": '"', "encoding": "utf-8"})
    page = response.content.decode()
    assert response.status_code == 200 and "sku&#x27; is missing" not in page
    assert "Line 2: price must be a positive number of at most 999999999999.99" in page
    assert "Line 3: quantity must be at most 2147483647" in page
    assert len(app["backmarket"].request_log) == before and not BulkListingTask.objects.exists()


def test_bulk_upload_is_sent_followed_to_success_and_shows_results(
    client, owner, listings, live_sim, eager_celery, settings, django_capture_on_commit_callbacks
):
    settings.BACKMARKET_BULK_POLL_SECONDS = 0
    app, _ = live_sim
    sku = listings.first().sku
    client.force_login(owner)
    upload = SimpleUploadedFile("q.csv", f"sku;quantity\n{sku};9\nNOPE;1\n".encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("listings:bulk_upload"), {"connection": listings.first().connection.pk, "file": upload,
                                                                 "delimiter": ";", "quotechar": '"', "encoding": "utf-8"})
    task = BulkListingTask.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("listings:bulk_task_detail", args=[task.pk])
    assert task.status == "success" and task.polls == 2
    page = client.get(response["Location"]).content.decode()
    assert "Succeeded" in page and sku in page and "NOPE" in page and "refused" in page
    assert Listing.objects.get(pk=listings.first().pk).quantity == 9  # the listings sync that followed
    partial = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="bulk-task"') and "hx-trigger" not in partial


@pytest.fixture
def many(db):
    from tests.factories import make_connection

    org = make_organization("many")
    connection = make_connection(org, "backmarket")
    # Repeated SKUs (the id breaks the tie), an empty one, and removed listings the page hides.
    rows = [Listing(organization=org, connection=connection, external_id=f"L{n}", sku=f"SKU-{n % 40:02d}" if n % 13 else "",
                    removed_at=timezone.now() if n % 11 == 0 else None) for n in range(130)]
    Listing.objects.bulk_create(rows)
    return org


def test_the_list_walks_every_listing_once_by_sku_with_the_same_queries_per_page(client, many):

    client.force_login(make_user("ada", many))
    rows, queries = walk(client, reverse("listings:listing_list"))
    expected = list(Listing.objects.filter(organization=many, removed_at__isnull=True).order_by("sku", "id"))
    assert rows == expected and len(queries) == 3 and len(set(queries)) == 1
    everything, _ = walk(client, reverse("listings:listing_list"), {"removed": "on"})
    assert len(everything) == len(set(everything)) == 130


@pytest.mark.parametrize("query", JUNK_CURSORS)
def test_a_junk_cursor_or_an_old_page_number_starts_at_the_top(client, many, query):
    client.force_login(make_user("ada", many))
    assert shows_the_top(client, reverse("listings:listing_list"), query)


def test_junk_filters_are_named_beside_their_field_and_ignored(client, many):
    client.force_login(make_user("ada", many))
    response = client.get(reverse("listings:listing_list"), {"publication_state": "2026-13-45", "q": "x" * 400})
    body = response.content.decode()
    assert response.status_code == 200 and len(response.context["page"].rows) == 50
    assert "Select a valid choice" in body and "Ensure this value has at most 120 characters" in body


def test_a_file_not_in_the_chosen_encoding_is_named_beside_the_encoding(client, many):
    from connections.models import Connection

    client.force_login(make_user("ada", many))
    upload = SimpleUploadedFile("latin.csv", "sku,comment\nA,caf\u00e9\n".encode("latin-1"), content_type="text/csv")
    response = client.post(reverse("listings:bulk_upload"), {"connection": Connection.objects.get(organization=many).pk,
                                                             "file": upload, "delimiter": ",", "quotechar": '"', "encoding": "utf-8"})
    assert response.status_code == 200 and "The file is not utf-8: invalid continuation byte" in response.content.decode()
    assert not BulkListingTask.objects.exists()
