"""Junk into every merchant door: no answer is a 500.

Every URL pattern the tenant isolation test knows is requested by an owner of the organization the objects
belong to (so object pages answer, and parse), with every query parameter and form field the pages read set
to the same junk value, on GET and on POST. The organization's connections point at a closed loopback port,
so a write that gets past the checks fails fast as a marketplace error, never by reaching out.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from connections.models import Connection, Membership
from tests.factories import make_user
from tests.web import isolation_factories as iso
from tests.web.test_tenant_isolation import all_patterns

pytestmark = pytest.mark.django_db

JUNK = ["", "x" * 400, "2026-13-45", "2026-13-45T99:00:00+00:00", "-1", "99999999999999999999", "1e309", "\x00", "%%%",
        "<script>", "[]"]
FIELDS = [
    # lists and their pagers
    "after", "before", "page", "partial", "q", "status", "marketplace", "connection", "date_from", "date_to", "sort",
    "since", "items", "publication_state", "removed", "state", "instance", "category_type", "lang", "part", "color",
    "location", "drift", "outcome",
    # forms that POST
    "delta", "reason", "enabled", "organization", "next", "imei", "serial_number", "tracking_number", "tracking_url",
    "shipper", "price", "min_price", "quantity", "warranty_delay", "comment", "confirm", "wipe_credentials",
    "environment", "platform", "api_key", "delimiter", "quotechar", "encoding",
    # the admin's forms
    "options", "cursor", "base_url", "action", "_selected_action", "index", "select_across",
]


@pytest.fixture
def own(client):
    from tests.factories import make_organization

    shop = iso.Victim(organization=make_organization("shop", "Shop"))
    iso.populate(shop)
    targets = [(name, build(shop)) for name, build in iso.FACTORIES.items()] + [(n, b(shop)) for n, b in iso.EXTRA_TARGETS]
    Connection.objects.filter(organization=shop.organization).update(base_url="http://127.0.0.1:9/")
    user = make_user("owner", shop.organization, role="owner")
    assert Membership.objects.filter(user=user, role="owner").exists()
    client.force_login(user)
    lists = [
        (name, iso.PARAMETER_PAGES.get(name) or {}) for name, namespace, kwargs in all_patterns()
        if namespace not in iso.SKIP_NAMESPACES and name not in iso.SKIP and name not in iso.FACTORIES
        and (not kwargs or name in iso.PARAMETER_PAGES)
    ]
    return targets + lists


@pytest.mark.parametrize("junk", JUNK, ids=range(len(JUNK)))
def test_no_door_answers_junk_with_a_500(client, own, junk):
    data = dict.fromkeys(FIELDS, junk)
    failures = []
    for name, kwargs in own:
        url = reverse(name, kwargs=kwargs or None)
        for method in ("get", "post"):
            response = getattr(client, method)(url, data)
            if response.status_code >= 500:
                failures.append(f"{method.upper()} {url} ({name}) answered {response.status_code}")
    assert len(own) > 20 and not failures, "\n".join(failures)


@pytest.mark.parametrize("method, path, data, status", [
    ("post", "/connections/switch-organization/", {"organization": "abc"}, 404),
    ("get", "/inventory/", {"part": "\x00"}, 200),
    ("get", "/backship/deliveries/", {"q": "\x00"}, 200),
    ("get", "/orders/", {"date_to": "9999-12-31"}, 200),
    ("get", "/orders/export.csv", {"date_to": "9999-12-31"}, 200),
])
def test_the_junk_seen_in_production_answers_a_page_or_a_404(client, method, path, data, status):
    # The requests behind most of the 500s the outside run saw (issue 10), by an owner; also swept in test_door_sweep.
    from tests.factories import make_organization

    client.force_login(make_user("owner", make_organization("shop", "Shop"), role="owner"))
    assert getattr(client, method)(path, data).status_code == status
