"""Tenant isolation, proven: every URL pattern of the project, walked with a user of another organization.

Object-bearing patterns must answer 404 for the victim's objects (never 403, which would confirm they
exist); list pages and exports must show none of the victim's rows. A pattern nobody taught this test
about fails it, by name — see ``tests/web/isolation_factories.py``.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.html import escape

from tests.factories import make_connection, make_organization, make_user
from tests.web import isolation_factories as iso
from tests.web.builders import make_orders

pytestmark = pytest.mark.django_db

# Extra query strings for list pages, so filters, searches and exports are walked too.
LIST_QUERIES: dict[str, list[dict]] = {
    "orders:order_list": [
        {}, {"q": f"{iso.MARKER}-RE-0"}, {"q": f"{iso.MARKER} Customer"}, {"status": "ready"}, {"marketplace": "backmarket"},
    ],
    "orders:order_export": [{}, {"items": "1"}, {"q": f"{iso.MARKER}-RE-0"}],
    "orders:order_poll": [{"since": "2000-01-01T00:00:00+00:00"}],
}


def _walk(resolver, prefix_ns: str = "", kwargs: set | None = None):
    kwargs = set(kwargs or ())
    for entry in resolver.url_patterns:
        names = set(_pattern_kwargs(entry.pattern))
        if isinstance(entry, URLResolver):
            ns = prefix_ns + (f"{entry.namespace}:" if entry.namespace else "")
            yield from _walk(entry, ns, kwargs | names)
        elif isinstance(entry, URLPattern):
            name = prefix_ns + (entry.name or f"<unnamed {entry.pattern}>")
            yield name, prefix_ns.split(":")[0] if prefix_ns else "", kwargs | names


def _pattern_kwargs(pattern) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters:
        return list(converters)
    regex = getattr(pattern, "regex", None)
    return list(regex.groupindex) if regex is not None else []


def all_patterns() -> list[tuple[str, str, set]]:
    seen, result = set(), []
    for name, namespace, kwargs in _walk(get_resolver()):
        if name not in seen:
            seen.add(name)
            result.append((name, namespace, kwargs))
    return result


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


@pytest.fixture
def world(client):
    victim_org = make_organization("victim", "Victim Org")
    make_user("victim-owner", victim_org)
    victim = iso.Victim(organization=victim_org)
    iso.populate(victim)
    attacker_org = make_organization("attacker", "Attacker Org")
    attacker = make_user("attacker", attacker_org, role="owner")
    for marketplace in ("refurbed", "backmarket", "bricklink", "brickowl"):
        make_orders(make_connection(attacker_org, marketplace), 2, prefix=f"OWN-{marketplace[:2].upper()}-")
    client.force_login(attacker)
    return victim


def test_every_url_pattern_is_known_to_the_isolation_test():
    unknown = [
        name for name, namespace, kwargs in all_patterns()
        if kwargs and namespace not in iso.SKIP_NAMESPACES and name not in iso.SKIP
        and name not in iso.FACTORIES and name not in iso.PARAMETER_PAGES
    ]
    assert not unknown, (
        "URL patterns with arguments that the tenant isolation test cannot build an object for: "
        f"{', '.join(unknown)}. Add a factory for each to tests/web/isolation_factories.py (FACTORIES, keyed by URL name)."
    )


def test_another_organizations_objects_are_404_on_every_object_url(client, world):
    targets = []
    for name, namespace, kwargs in all_patterns():
        if namespace in iso.SKIP_NAMESPACES or name in iso.SKIP or name not in iso.FACTORIES:
            continue
        targets.append((name, iso.FACTORIES[name](world)))
    targets += [(name, build(world)) for name, build in iso.EXTRA_TARGETS]
    assert targets, "no object-bearing pattern found"
    failures = []
    for name, kwargs in targets:
        url = reverse(name, kwargs=kwargs)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if response.status_code == 405:
                continue
            if response.status_code != 404:
                failures.append(f"{method.upper()} {url} ({name}) answered {response.status_code}, not 404")
            elif iso.MARKER in _body(response):
                failures.append(f"{method.upper()} {url} ({name}) 404 page shows the victim's data")
    assert not failures, "\n".join(failures)


def test_list_pages_and_exports_show_none_of_another_organizations_rows(client, world):
    # Build every object first, so each list page has the victim's rows to leak.
    for build in iso.FACTORIES.values():
        try:
            build(world)
        except Exception as exc:  # noqa: BLE001 - reported with the factory's name
            pytest.fail(f"isolation factory {build.__name__} failed: {exc!r}")
    checked, failures = 0, []
    for name, namespace, kwargs in all_patterns():
        if namespace in iso.SKIP_NAMESPACES or name in iso.SKIP or name in iso.FACTORIES:
            continue
        if kwargs and name not in iso.PARAMETER_PAGES:
            continue  # reported by test_every_url_pattern_is_known_to_the_isolation_test
        url = reverse(name, kwargs=iso.PARAMETER_PAGES.get(name) or None)
        for query in LIST_QUERIES.get(name, [{}]):
            response = client.get(url, query)
            checked += 1
            if response.status_code >= 500:
                failures.append(f"GET {url} {query} ({name}) answered {response.status_code}")
            body = _body(response)
            for value in query.values():  # the search box echoes the term: that is not a leak
                for echoed in (value, quote_plus(value), quote(value), escape(value)):
                    body = body.replace(echoed, "")
            if iso.MARKER in body:
                at = body.index(iso.MARKER)
                failures.append(f"GET {url} {query} ({name}) shows the victim's data: …{body[max(0, at - 60):at + 60]}…")
    assert checked >= 5
    assert not failures, "\n".join(failures)


def test_order_book_and_poll_count_only_own_orders(client, world):
    body = client.get(reverse("orders:order_list")).content.decode()
    assert re.search(r'>All <span class="count">8</span>', body)
    poll = client.get(reverse("orders:order_poll"), {"since": "2000-01-01T00:00:00+00:00"}).content.decode()
    assert "8 new orders" in poll


def test_admin_is_closed_to_merchants(client, world):
    for url in (reverse("admin:index"), reverse("admin:connections_connection_changelist"),
                reverse("admin:connections_connection_change", args=[world.connection().pk]), reverse("admin_sync_health")):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
