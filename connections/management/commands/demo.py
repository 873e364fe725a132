"""``manage.py demo --simulator-url URL [--seed 42]``: the demo organization, its login and one connection per
marketplace pointing at the local simulator. Safe to run again: it converges to the same state and prints a
fresh password for the ``demo`` login each time."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.validators import URLValidator
from django.db import transaction

from connections import selectors, services
from connections.management.cli import OpsCommand
from connections.models import Connection, Membership, Organization
from marketsync.marketplaces import CREDENTIAL_FIELDS, Marketplace
from marketsync.simulator.core import simulator_token
from marketsync.sync.services import trigger_sync

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Store"
DEMO_USERNAME = "demo"

SETTINGS = {
    Marketplace.REFURBED: {"platform": "", "options": {}},
    Marketplace.BACKMARKET: {"platform": "eu", "options": {"locale": "fr-fr"}},
    Marketplace.BRICKLINK: {"platform": "", "options": {}},
    Marketplace.BRICKOWL: {"platform": "", "options": {"store_id": "1"}},
}


# The simulator serves each marketplace under its name, followed by the real API's own root path.
API_ROOTS = {Marketplace.BRICKLINK: "/api/store/v1", Marketplace.BRICKOWL: "/v1"}


class Command(OpsCommand):
    help = "Create (or refresh) the demo organization, its login and connections to the local simulator."

    def add_arguments(self, parser):
        parser.add_argument("--simulator-url", required=True, help="Where the simulator listens, e.g. http://127.0.0.1:8765")
        parser.add_argument("--seed", type=int, default=42, help="The simulator's seed (its accepted credentials follow it).")
        parser.add_argument("--site-url", default=settings.SITE_URL, help="The address printed for the web app.")

    def handle(self, *args, **options):
        simulator_url = options["simulator_url"].rstrip("/")
        for option, url in (("--simulator-url", simulator_url), ("--site-url", options["site_url"])):
            try:  # before anything is created
                URLValidator(schemes=["http", "https"])(url)
            except ValidationError:
                raise CommandError(f"{option} {url[:60]!r} is not an http(s) URL.") from None
        seed = options["seed"]
        password = secrets.token_urlsafe(12)
        try:
            with transaction.atomic():
                organization = selectors.organization_get(slug=DEMO_SLUG) or services.organization_create(
                    slug=DEMO_SLUG, name=DEMO_NAME
                )
                user = services.user_login_reset(username=DEMO_USERNAME, password=password)
                services.membership_add(organization=organization, user=user, role=Membership.Role.OWNER)
                connections = [self._connection(organization, market, simulator_url, seed) for market in Marketplace]
                # A first sync of everything as soon as the worker starts, rather than at the next beat tick.
                for connection in connections:
                    trigger_sync(connection=connection)
        except services.LifecycleError as exc:
            raise CommandError(str(exc)) from None

        site_url = options["site_url"].rstrip("/") + "/"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("marketsync demo is ready"))
        self.stdout.write(f"  Open      {site_url}")
        self.stdout.write(f"  Username  {DEMO_USERNAME}")
        self.stdout.write(f"  Password  {password}   (a new one is set each time `make run` starts)")
        self.stdout.write(f"  Organization {organization.name}, connected to the simulator at {simulator_url}:")
        for connection in connections:
            self.stdout.write(f"    {connection.marketplace_label:<12} {connection.base_url}")
        self.stdout.write("")

    def _connection(self, organization: Organization, market: Marketplace, simulator_url: str, seed: int) -> Connection:
        base_url = f"{simulator_url}/{market.value}{API_ROOTS.get(market, '')}"
        credentials = {purpose: simulator_token(market.value, seed, purpose) for purpose in CREDENTIAL_FIELDS[market]}
        extra = SETTINGS[market]
        connection = selectors.connection_get(organization=organization, marketplace=market.value)
        if connection is None:
            return services.connection_create(
                organization=organization,
                marketplace=market.value,
                credentials=credentials,
                environment=Connection.Environment.PRODUCTION,
                base_url=base_url,
                platform=extra["platform"],
                options=extra["options"],
                ops=True,
            )
        services.connection_update_settings(
            connection=connection,
            environment=Connection.Environment.PRODUCTION,
            base_url=base_url,
            platform=extra["platform"],
            options={**connection.options, **extra["options"]},
            ops=True,
        )
        services.connection_rotate_credentials(connection=connection, credentials=credentials)
        if not connection.enabled:
            services.connection_enable(connection=connection)
        return connection
