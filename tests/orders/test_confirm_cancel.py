"""Refusing (cancelling) a Back Market orderline cannot be undone: the first POST only asks, saying so."""

import pytest
from django.urls import reverse

from connections.models import AuditEntry, EntitySync
from marketsync.sync.runner import run_entity_sync
from orders.models import OrderItem
from tests.marketplaces.backmarket.fixtures import *  # noqa: F403  (the Back Market fixtures)

pytestmark = pytest.mark.django_db


def test_refusing_an_orderline_asks_first_and_sends_only_once_confirmed(client, owner, live_connection, live_sim):
    app, _ = live_sim
    run_entity_sync(EntitySync.objects.get(connection=live_connection, entity="orders").pk)
    item = OrderItem.objects.filter(marketplace_status="1", order__marketplace_status="1").first()
    url = reverse("orders:orderline_cancel", args=[item.order.pk, item.pk])
    client.force_login(owner)
    before = len(app["backmarket"].request_log)

    asked = client.post(url)
    page = asked.content.decode()
    assert asked.status_code == 200 and "This cannot be undone." in page and 'name="confirm" value="yes"' in page
    assert reverse("orders:order_detail", args=[item.order.pk]) in page  # the way back, keeping the line
    assert len(app["backmarket"].request_log) == before and not AuditEntry.objects.exists()
    assert app["backmarket"].lines[int(item.external_id)]["state"] == 1

    done = client.post(url, {"confirm": "yes"})
    assert done.status_code == 302 and done["Location"] == reverse("orders:order_detail", args=[item.order.pk])
    assert app["backmarket"].lines[int(item.external_id)]["state"] == 4
    assert AuditEntry.objects.filter(outcome="success", target_id=item.external_id).count() == 1


def test_accepting_an_orderline_needs_no_confirmation(client, owner, live_connection, live_sim):
    app, _ = live_sim
    run_entity_sync(EntitySync.objects.get(connection=live_connection, entity="orders").pk)
    item = OrderItem.objects.filter(marketplace_status="1", order__marketplace_status="1").first()
    client.force_login(owner)
    assert client.post(reverse("orders:orderline_accept", args=[item.order.pk, item.pk])).status_code == 302
    assert app["backmarket"].lines[int(item.external_id)]["state"] == 2
