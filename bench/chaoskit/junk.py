"""Junk web requests: a seeded sample over every URL pattern of the project, anonymous and logged in.

Path values are junk (NUL bytes, 20-digit numbers, 300 characters, ``..``) or real ids — of the user's own
organization and of another one; query strings and form fields carry junk dates, numbers, NUL bytes and
over-long text; requests are GET or POST, by an anonymous visitor, an owner of an organization that has
synced data on all four marketplaces, or a superuser who belongs to no organization. Any answer of 500 or
more is a finding, with the request that caused it. The organization's connections point at a closed
loopback port, so a write that gets past the checks fails fast as a marketplace error, never by reaching out;
tasks run inline, so nothing is left on a broker.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from django.urls import URLPattern, URLResolver, get_resolver

from bench.chaoskit.markets import DRIVERS
from bench.chaoskit.world import IN_PROCESS_HOST, TracebackLog

CLOSED_PORT = "http://127.0.0.1:9"
REAL_IDS = 12
INT_JUNK = ["0", "1", "99999999999999999999", "2147483648", "9223372036854775808"]
STR_JUNK = ["%00", "abc", "x" * 300, "..", "%27%22", "-1", "1e400", "%ff%fe", "99999999999999999999"]
DOMAIN_WORDS = ["refurbed", "backmarket", "bricklink", "brickowl", "orders", "inventory", "deliveries", "returns", "delivery",
                "return", "offers", "listings"]
QUERY_JUNK = [
    "", "page=-1", "page=abc", "after=%00", "before=zzzz", "after=99999999999999999999", "q=%00", "q=" + "x" * 3000,
    "part=%00", "color=%00", "status=WIBBLE", "marketplace=..%2F..", "date_from=2026-13-45", "date_to=9999-12-31",
    "date_from=0001-01-01&date_to=9999-12-31", "organization=abc", "connection=abc", "connection=99999999999999999999",
    "since=2026-13-45T99:00:00%2B00:00", "since=%00", "sort=-%00", "order_id=1", "order_id=%00", "store_id=%00",
    "items=%00", "partial=%00", "removed=2", "state=-1", "publication_state=%00", "lang=%00", "category_type=%00",
    "location=%00", "drift=1e309", "outcome=%00", "o=%00", "p=-1", "q=%25%25%25", "next=//evil.example/",
]
FORM_JUNK = [
    {}, {"organization": "abc"}, {"organization": "99999999999999999999"}, {"delta": "99999999999999999999", "reason": "x"},
    {"delta": "1", "reason": "a\x00b"}, {"delta": "1e309", "reason": ""}, {"imei": "\x00", "serial_number": "a\x00b"},
    {"imei": "9" * 40, "serial_number": "x" * 400},
    {"tracking_number": "x" * 500, "tracking_url": "javascript:alert(1)", "shipper": "\x00"},
    {"price": "1e308", "min_price": "-1", "quantity": "1e23", "warranty_delay": "99999999999999999999", "comment": "\x00"},
    {"api_key": "\x00", "environment": "%00", "platform": "..", "confirm": "\x00"}, {"enabled": "maybe", "next": "//evil.example"},
    {"delimiter": "\x00", "quotechar": "", "encoding": "utf-1024"}, {"status": "99", "order_id": "%00"},
]


@dataclass
class JunkResult:
    requests: int = 0
    by_identity: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # 5xx answers
    tracebacks: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def five_hundreds(self) -> int:
        return len(self.errors)


def _templates() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every URL pattern as a path template with ``{name}`` slots and each slot's converter."""
    found: list[tuple[str, list[tuple[str, str]]]] = []

    def walk(patterns, prefix: str, slots: list[tuple[str, str]]) -> None:
        for entry in patterns:
            text, more = _template_of(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + text, slots + more)
            elif isinstance(entry, URLPattern):
                found.append(("/" + prefix + text, slots + more))

    walk(get_resolver().url_patterns, "", [])
    unique: dict[str, list[tuple[str, str]]] = {}
    for template, slots in found:
        unique.setdefault(template, slots)
    return sorted(unique.items())


def _template_of(pattern) -> tuple[str, list[tuple[str, str]]]:
    regex = getattr(pattern, "_regex", None)
    route = getattr(pattern, "_route", None)
    slots: list[tuple[str, str]] = []
    if route is not None:
        def slot(match: re.Match) -> str:
            converter, name = (match.group(1) or "str"), match.group(2)
            slots.append((name, converter))
            return "{" + name + "}"

        return re.sub(r"<(?:(\w+):)?(\w+)>", slot, route), slots
    text = str(regex or "")
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: slots.append((m.group(1), "regex")) or "{" + m.group(1) + "}", text)
    text = text.lstrip("^").rstrip("$").replace("\\", "")
    text = re.sub(r"[()?*+|\[\]]", "", text)
    return text, slots


def junk_world(seed: int):
    """An organization with synced data on every marketplace (then pointed at a closed port), its owner, a
    superuser of no organization, and another organization's ids to try."""
    import httpx
    from django.contrib.auth import get_user_model

    from connections.models import Connection, EntitySync, Membership
    from connections.services import connection_create, organization_create
    from marketsync.simulator.core import SimulatorConfig, build_simulator
    from marketsync.sync.runner import run_entity_sync

    user_model = get_user_model()
    stamp = f"{seed}-{int(time.time() * 1000) % 10**8}"
    organizations = []
    app = build_simulator(SimulatorConfig(seed=seed, orders=12, speed=0, new_order_every_seconds=0))
    transport = httpx.WSGITransport(app=app)
    for role, entities in (("junk", None), ("other", ("orders",))):  # the other organization only lends its ids
        organization = organization_create(slug=f"chaos-{role}-{stamp}", name=f"Chaos {role}")
        for driver in DRIVERS.values():
            connection = connection_create(organization=organization, marketplace=driver.name, credentials=driver.credentials(seed),
                                           platform=driver.platform, options=dict(driver.options),
                                           base_url=driver.base_url(IN_PROCESS_HOST), ops=True)
            syncs = EntitySync.objects.filter(connection=connection)
            for entity_sync_id in (syncs.filter(entity__in=entities) if entities else syncs).values_list("pk", flat=True):
                run_entity_sync(entity_sync_id, transport=transport)
            Connection.objects.filter(pk=connection.pk).update(base_url=driver.base_url(CLOSED_PORT))
        organizations.append(organization)
    owner = user_model.objects.create_user(username=f"chaos-owner-{stamp}", password="x")
    Membership.objects.create(user=owner, organization=organizations[0], role=Membership.Role.OWNER)
    superuser = user_model.objects.create_superuser(username=f"chaos-root-{stamp}", password="x", email="")
    return organizations, owner, superuser


def _ids(organizations) -> list[str]:
    from backship.models import Delivery
    from connections.models import Connection
    from inventory.models import InventoryItem
    from offers.models import Offer
    from orders.models import Order, OrderItem

    ids: set[int] = set()
    for organization in organizations:
        for model in (Order, OrderItem, InventoryItem, Offer, Delivery, Connection):
            ids.update(model.objects.filter(organization=organization).values_list("pk", flat=True)[:5])
    return [str(i) for i in sorted(ids)]


@dataclass
class JunkRequest:
    method: str
    url: str
    identity: str
    data: dict | None = None

    def __str__(self) -> str:
        form = f" form {self.data!r}"[:160] if self.data else ""
        return f"{self.method.upper()} {quote(self.url[:160], safe='/?=&%')} as {self.identity}{form}"


def junk_requests(count: int, *, seed: int, real_ids: list[str]) -> list[JunkRequest]:
    """The seeded sample: the merchant's doors and the webhooks weigh three times an admin page, and each
    round walks every pattern once before any is drawn again."""
    rng = random.Random(f"chaos-junk:{seed}")
    real_ids = ((real_ids or ["1"]) * REAL_IDS)[:REAL_IDS]  # a fixed count: the same seed draws the same requests on any database
    templates = _templates()
    weighted = [t for t in templates if not t[0].startswith("/admin/")] * 3 + [t for t in templates if t[0].startswith("/admin/")]
    order: list = []
    drawn = []
    for _ in range(count):
        if not order:
            order = rng.sample(weighted, len(weighted))
        template, slots = order.pop()
        destructive = any(w in template for w in ("delete", "disconnect", "rotate"))
        values = {}
        for name, converter in slots:
            if converter == "int":
                pool = INT_JUNK + ([] if destructive else real_ids)
            else:
                pool = STR_JUNK if rng.random() < 0.6 else DOMAIN_WORDS
            values[name] = rng.choice(pool)
        query = rng.choice(QUERY_JUNK)
        method = "post" if rng.random() < 0.3 else "get"
        identity = rng.choice(("anonymous", "owner", "owner", "superuser without organization"))
        url = template.format(**values) + (f"?{query}" if query else "")
        drawn.append(JunkRequest(method, url, identity, rng.choice(FORM_JUNK) if method == "post" else None))
    return drawn


def run_junk(count: int, *, seed: int) -> JunkResult:
    from django.test import Client

    from marketsync.celery import app as celery_app

    started = time.monotonic()
    result = JunkResult()
    organizations, owner, superuser = junk_world(seed)
    clients = {"anonymous": Client(raise_request_exception=False), "owner": Client(raise_request_exception=False),
               "superuser without organization": Client(raise_request_exception=False)}
    clients["owner"].force_login(owner)
    clients["superuser without organization"].force_login(superuser)
    eager = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = True, False
    try:
        with TracebackLog() as log:
            for request in junk_requests(count, seed=seed, real_ids=_ids(organizations)):
                client = clients[request.identity]
                try:
                    if request.method == "post":
                        status = client.post(request.url, request.data).status_code
                    else:
                        status = client.get(request.url).status_code
                except Exception as exc:  # the test client raised instead of answering: a 500 all the same
                    status = 599
                    result.tracebacks.append(f"{request}: {type(exc).__name__}: {exc}")
                result.requests += 1
                result.by_identity[request.identity] = result.by_identity.get(request.identity, 0) + 1
                if status >= 500:
                    result.errors.append(f"{status} {request}")
        result.tracebacks += log.records
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = eager
        for organization in organizations:
            organization.delete()
        owner.delete()
        superuser.delete()
    result.seconds = time.monotonic() - started
    return result
