"""The order list's selection: ship the ticked orders from one form or a CSV, follow the batch's progress, and print
packing slips and one pick list for the packer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from orders import bulk_ship
from orders.models import Order, OrderItem, ShipBatch
from tests.factories import make_connection, make_organization, make_user
from tests.orders.test_bulk_ship import Shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return Shop()


@pytest.fixture
def packer(shop, client):
    user = make_user("packer", shop.organization)
    client.force_login(user)
    return user


def test_the_order_list_offers_selection_and_the_ship_page_ships_three_marketplaces(shop, packer, client,
                                                                                   django_capture_on_commit_callbacks):
    orders = [shop.refurbed_ready(), shop.bricklink_paid(), shop.brickowl_paid()]
    listing = client.get(reverse("orders:order_list") + "?status=ready").content.decode()
    assert 'form="order-selection"' in listing and f'value="{orders[0].pk}"' in listing and 'id="ship-whole-tab"' in listing

    query = "&".join(f"ids={o.pk}" for o in orders)
    page = client.get(reverse("orders:orders_ship") + "?" + query).content.decode()
    assert all(f'name="tracking_number_{o.pk}"' in page for o in orders)
    assert f'name="carrier_{orders[0].pk}"' in page and f'name="carrier_{orders[1].pk}"' not in page  # BrickLink: none

    data = {"ids": [str(o.pk) for o in orders], f"carrier_{orders[0].pk}": "dhl",
            f"tracking_number_{orders[0].pk}": "00340434", f"tracking_number_{orders[1].pk}": "BL-1",
            f"tracking_number_{orders[2].pk}": "OWL-1"}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("orders:orders_ship"), data)
    batch = ShipBatch.objects.get()
    assert response.status_code == 302 and response.url == reverse("orders:ship_batch", args=[batch.pk])
    assert len(callbacks) == 1  # the background job, enqueued once the batch is stored

    progress = client.get(response.url).content.decode()
    assert '<meta http-equiv="refresh"' in progress and progress.count('data-state="queued"') == 3

    bulk_ship.ship_batch_run(batch=batch, transport=shop.transport)  # what the task does, on the simulators
    result = client.get(response.url).content.decode()
    assert '<meta http-equiv="refresh"' not in result and result.count('data-state="shipped"') == 3
    assert "3 shipped" in re.sub(r"<[^>]+>", "", result)
    assert {o.status for o in Order.objects.filter(pk__in=[o.pk for o in orders])} == {"shipped"}

    # The same form again: reported as not sent again, nothing reaches the marketplaces.
    shop.transport.requests.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        again = client.post(reverse("orders:orders_ship"), data)
    assert callbacks == []
    page = client.get(again.url).content.decode()
    assert page.count('data-state="skipped"') == 3 and shop.ship_writes() == []


def test_errors_are_named_and_nothing_is_kept(shop, packer, client):
    unpaid, paid = shop.bricklink_unpaid(), shop.brickowl_paid()
    response = client.post(reverse("orders:orders_ship"), {"ids": [unpaid.pk, paid.pk],
                                                           f"tracking_number_{unpaid.pk}": "X1",
                                                           f"tracking_url_{paid.pk}": "ftp://nope"})
    page = response.content.decode()
    assert response.status_code == 400 and "Nothing was sent" in page
    assert f"Order {unpaid.external_id} (BrickLink): order {unpaid.external_id} cannot be shipped now" in page
    assert f"Order {paid.external_id} (Brick Owl): Tracking URL must be an http(s) URL" in page
    assert 'value="X1"' in page  # what was typed stays

    upload = client.post(reverse("orders:orders_ship"), {"file": _file(b"marketplace,order_id,carrier,tracking_number\n"
                                                                         b"bricklink,1,,X\n")})
    assert upload.status_code == 400 and "Line 2: no BrickLink order 1 in this organization" in upload.content.decode()
    assert not ShipBatch.objects.exists()


def test_a_clean_csv_upload_starts_a_batch(shop, packer, client, django_capture_on_commit_callbacks):
    paid = shop.brickowl_paid()
    content = f"marketplace,order_id,carrier,tracking_number\nbrickowl,{paid.external_id},,OWL-7\n".encode()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("orders:orders_ship"), {"file": _file(content)})
    batch = ShipBatch.objects.get()
    assert response.status_code == 302 and batch.source == "csv" and batch.filename == "day.csv"
    assert [(r.line, r.state) for r in batch.orders.all()] == [(2, "queued")]


def test_another_organizations_orders_and_batches_are_not_reachable(shop, client):
    order = shop.brickowl_paid()
    batch = bulk_ship.ship_batch_create(organization=shop.organization, source="csv", plan=bulk_ship.ship_plan_from_csv(
        organization=shop.organization, content=f"marketplace,order_id,carrier,tracking_number\nbrickowl,"
                                                f"{order.external_id},,T\n".encode()))
    client.force_login(make_user("stranger", make_organization("strangers")))
    page = client.get(reverse("orders:orders_ship") + f"?ids={order.pk}").content.decode()
    assert f'tracking_number_{order.pk}' not in page
    assert client.get(reverse("orders:ship_batch", args=[batch.pk])).status_code == 404
    assert order.external_id not in client.get(reverse("orders:packing_slips") + f"?ids={order.pk}").content.decode()


def _file(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("day.csv", content, content_type="text/csv")


# --- printing -------------------------------------------------------------------------------------------------------


def _brick_order(connection, external_id: str, lines: list[tuple[str, str, str, str, int]]) -> Order:
    order = Order.objects.create(organization=connection.organization, connection=connection, marketplace=connection.marketplace,
                                 external_id=external_id, status="accepted", customer_name=f"Buyer {external_id}",
                                 shipping_address={"city": "Utrecht"})
    for n, (location, part, color, condition, quantity) in enumerate(lines):
        OrderItem.objects.create(organization=connection.organization, connection=connection, order=order,
                                 external_id=f"{external_id}-{n}", part_number=part, color_name=color, condition=condition,
                                 quantity=quantity, location=location, item_type="PART", title=f"Brick {part}")
    return order


def test_packing_slips_and_the_combined_pick_list(client):
    organization = make_organization("packers")
    client.force_login(make_user("packer", organization))
    bricklink = make_connection(organization, "bricklink")
    brickowl = make_connection(organization, "brickowl")
    refurbed = make_connection(organization, "refurbed")
    first = _brick_order(bricklink, "BL1", [("C-02", "3001", "Red", "N", 4), ("A-01", "3003", "Blue", "U", 2)])
    second = _brick_order(brickowl, "BO1", [("C-02", "3001", "Red", "N", 6), ("B-07", "3001", "Red", "N", 1),
                                            ("", "3622", "Black", "N", 3)])
    phone = Order.objects.create(organization=organization, connection=refurbed, marketplace="refurbed", external_id="R1",
                                 status="accepted", customer_name="Phone Buyer")
    OrderItem.objects.create(organization=organization, connection=refurbed, order=phone, external_id="R1-1",
                             title="iPhone 13", sku="IP13", serial_number="SN123")
    query = "?" + "&".join(f"ids={o.pk}" for o in (first, second, phone))

    slips = client.get(reverse("orders:packing_slips") + query).content.decode()
    assert slips.count('class="packing-slip"') == 3 and "iPhone 13" in slips and "SN123" in slips
    first_slip = slips[slips.index(f'data-order="{first.pk}"'):slips.index(f'data-order="{second.pk}"')]
    assert first_slip.index("A-01") < first_slip.index("C-02")  # the brick slip is its pick list, by location
    assert "Pick list (by location)" in first_slip and "Utrecht" in first_slip
    css = (Path(__file__).resolve().parents[2] / "static" / "marketsync.css").read_text()
    print_rules = "".join(css.split("@media print")[1:])
    assert re.search(r"\.packing-slip \{[^}]*break-after: page; page-break-after: always", print_rules)

    pick = client.get(reverse("orders:pick_list") + query).content.decode()
    rows = re.findall(r'<td class="loc">([^<]*)</td><td class="thumb">.*?</td><td>(\w+) .*?<td class="num">(\d+)</td><td>([^<]*)</td>',
                      pick)
    assert rows == [("A-01", "3003", "2", "BL1"), ("B-07", "3001", "1", "BO1"), ("C-02", "3001", "10", "BL1, BO1"),
                    ("—", "3622", "3", "BO1")]
    assert "iPhone" not in pick and "4 lines, 16 pieces" in pick
