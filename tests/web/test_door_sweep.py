"""Every URL pattern of the project, walked with junk: no answer is a 500.

The patterns come from Django's resolver, not from a list kept by hand, so a new page is swept the day it is
added. Each path argument is filled in turn with junk (a NUL, letters, a 40-digit number, -1, an absurd date, a
very long string, bytes that are not UTF-8) while the others keep a plausible value; each URL is requested with
GET and POST by an anonymous visitor, by an owner of an organization, and by a superuser who belongs to none.
The pages without path arguments (the lists, the admin's changelists) get junk in every query parameter and
form field the pages read. Every 500 is listed in the failure message.

The owner's connections point at a closed loopback port, so a write that gets past its checks fails fast as a
marketplace error, never by reaching out.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from connections.models import Connection
from marketsync.keyset import encode_cursor
from tests.factories import make_organization, make_user
from tests.web import isolation_factories as iso
from tests.web.test_junk_input import FIELDS

pytestmark = pytest.mark.django_db

# Junk for a path argument, already percent-encoded where a URL needs it.
PATH_JUNK = ["%00", "abc", "9" * 40, "-1", "9999-12-31", "x" * 1500, "%ff%fe", "%01%1b"]
# The admin's object pages all go through the same ModelAdmin.get_object: fewer kinds of junk there, GET only.
ADMIN_PATH_JUNK = ["%00", "9" * 40, "x" * 1500, "%ff%fe"]
# Junk for every query parameter and form field (the client encodes it).
QUERY_JUNK = ["\x00", "9" * 40, "-1", "9999-12-31", "0001-01-01", "9999-12-31T23:59:59-12:00", "x" * 1500, "1e309",
              "[" * 1500,  # JSON nested past what the parser follows
              # pager cursors of the right shape holding the wrong things: a text, a moment out of range, a huge id
              encode_cursor("abc", 1), encode_cursor(("abc", "abc"), 1), encode_cursor(1e308, 10**40),
              encode_cursor(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), 1)]
# The admin's changelists all read their query through the same ChangeList: fewer kinds of junk there, GET only.
ADMIN_QUERY_JUNK = {"\x00", "9" * 40, "x" * 1500, "9999-12-31", "[" * 1500}
# A plausible value for each path argument, so the junk in another argument is what the view meets.
PLAUSIBLE = {"kind": "delivery", "entity": "orders", "marketplace": "refurbed", "token": "abc", "rest": ""}
# Logging out ends the session the sweep goes on with; its view reads nothing.
NOT_SWEPT = {"logout"}

_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>")
_ROUTE_ARGUMENT = re.compile(r"<(?:\w+:)?(\w+)>")


def _regex_route(regex: str) -> str:
    """A regex pattern as a route with ``<name>`` for each named group (enough for the few re_path patterns)."""
    out, at = [], 0
    for match in _NAMED_GROUP.finditer(regex):
        if match.start() < at:
            continue
        depth, end = 1, match.end()
        while end < len(regex) and depth:
            depth += {"(": 1, ")": -1}.get(regex[end], 0) if regex[end - 1] != "\\" else 0
            end += 1
        out += [regex[at:match.start()], f"<{match.group(1)}>"]
        at = end
    out.append(regex[at:])
    return "".join(out).lstrip("^").rstrip("$").replace("\\Z", "").replace("\\", "")


def _routes(resolver=None, prefix: str = "", namespace: str = ""):
    """(name, route) for every URL pattern; a route's arguments are written ``<name>``."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        pattern = entry.pattern
        piece = _regex_route(pattern.regex.pattern) if not hasattr(pattern, "_route") else str(pattern._route)
        if isinstance(entry, URLResolver):
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from _routes(entry, prefix + piece, inner)
        elif isinstance(entry, URLPattern):
            yield namespace + (entry.name or f"<unnamed {prefix + piece}>"), _ROUTE_ARGUMENT.sub(r"<\1>", prefix + piece)


def _fill(route: str, values: dict[str, str]) -> str:
    return "/" + _ROUTE_ARGUMENT.sub(lambda m: values[m.group(1)], route)


def junk_paths() -> list[tuple[str, str]]:
    """(name, path) with each argument of each pattern set to each junk value in turn."""
    paths = []
    for name, route in _routes():
        if name in NOT_SWEPT:
            continue
        arguments = _ROUTE_ARGUMENT.findall(route)
        for argument in arguments:
            for junk in ADMIN_PATH_JUNK if name.startswith("admin:") else PATH_JUNK:
                values = {a: PLAUSIBLE.get(a, "1") for a in arguments}
                values[argument] = junk
                paths.append((name, _fill(route, values)))
    return paths


def list_paths() -> list[tuple[str, str]]:
    """(name, path) of the patterns without arguments, and of the merchant pages whose arguments name no object."""
    paths = [(name, _fill(route, {})) for name, route in _routes() if name not in NOT_SWEPT and not _ROUTE_ARGUMENT.search(route)]
    paths += [(name, _fill(route, PLAUSIBLE | kwargs)) for name, route in _routes() for page, kwargs in iso.PARAMETER_PAGES.items()
              if name == page]
    return paths


@pytest.fixture
def visitors():
    """An anonymous visitor, an owner of an organization with data, and a superuser in no organization."""
    shop = iso.Victim(organization=make_organization("shop", "Shop"))
    iso.populate(shop)
    for build in iso.FACTORIES.values():
        build(shop)
    Connection.objects.filter(organization=shop.organization).update(base_url="http://127.0.0.1:9/")
    owner, root = Client(raise_request_exception=False), Client(raise_request_exception=False)
    owner.force_login(make_user("owner", shop.organization, role="owner"))
    root.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    # Days at the ends of the calendar overflow once moved to UTC from the zones furthest from it.
    owner.cookies["tz"], root.cookies["tz"] = "Pacific/Kiritimati", "Etc/GMT+12"
    return {"anonymous": Client(raise_request_exception=False), "owner": owner, "superuser": root}


def _sweep(visitors: dict[str, Client], requests: list[tuple[str, str, dict]], *, admin_visitors=("anonymous", "owner", "superuser"),
           admin_methods=("get", "post")) -> tuple[int, list[str]]:
    count, failures = 0, []
    for who, client in visitors.items():
        for name, path, data in requests:
            if name.startswith("admin:") and who not in admin_visitors:
                continue
            admin = name.startswith("admin:") and not name.endswith(("_add", "_changelist"))  # forms and actions are POSTed too
            for method in admin_methods if admin else ("get", "post"):
                response = getattr(client, method)(path, data)
                count += 1
                if response.status_code >= 500:
                    shown = path if len(path) < 120 else f"{path[:100]}…({len(path)} characters)"
                    failures.append(f"{who}: {method.upper()} {shown} {_shown(data)} ({name}) answered {response.status_code}")
    return count, failures


def _shown(data: dict) -> str:
    if not data:
        return ""
    value = next(iter(data.values()))
    return f"with every field = {value[:30]!r}{'…' if len(value) > 30 else ''}"


def test_every_url_pattern_with_junk_in_its_path_arguments_answers_without_a_500(visitors):
    requests = [(name, path, {}) for name, path in junk_paths()]
    # The admin sends everyone but staff to its login before any of its views runs (tests/web/test_tenant_isolation.py
    # holds that): its object pages are swept as the superuser alone.
    count, failures = _sweep(visitors, requests, admin_visitors=("superuser",), admin_methods=("get",))
    assert len(requests) > 300 and count > 2 * len(requests)
    assert not failures, f"{len(failures)} of {count} requests answered a 500:\n" + "\n".join(failures)


@pytest.mark.parametrize("junk", QUERY_JUNK, ids=range(len(QUERY_JUNK)))
def test_every_page_with_junk_in_its_query_and_form_fields_answers_without_a_500(visitors, junk):
    requests = [(name, path, dict.fromkeys(FIELDS, junk)) for name, path in list_paths()
                if junk in ADMIN_QUERY_JUNK or not name.startswith("admin:")]
    count, failures = _sweep(visitors, requests, admin_methods=("get",))
    assert len(requests) >= 20
    assert not failures, f"{len(failures)} of {count} requests answered a 500:\n" + "\n".join(failures)


def test_the_sweep_finds_every_kind_of_pattern():
    names = {name for name, _path in junk_paths()} | {name for name, _path in list_paths()}
    for expected in ("orders:order_detail", "webhook_bricklink", "webhook_brickowl", "backship:shipment_detail",
                     "admin:connections_connection_change", "inventory_moved_from_listings", "orders:order_list",
                     "connections:connection_create_form"):
        assert expected in names
    assert ("webhook_bricklink", "/webhooks/bricklink/%00/") in junk_paths()
