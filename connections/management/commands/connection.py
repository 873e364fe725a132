"""Ops CLI for connections: a thin door onto connections.services.

    manage.py connection create --org SLUG --marketplace NAME [--environment sandbox] [--base-url URL] < creds.json
    manage.py connection list [--org SLUG] [--json]
    manage.py connection rotate ID < creds.json
    manage.py connection disable ID [--wipe-credentials]
    manage.py connection enable ID
    manage.py connection delete ID --yes
    manage.py connection toggles (ID | --all) [--org SLUG] [--enable ENTITY ...] [--disable ENTITY ...]
    manage.py connection test ID

Credentials are read as a JSON object on stdin (one prompt per field, without echo, on a terminal) and never
from arguments, so they stay out of shell history and process lists.
"""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from connections import selectors, services
from connections.management.cli import (
    OpsCommand,
    connection_or_error,
    json_argument,
    one_line_errors,
    organization_or_error,
    read_credentials,
)


class Command(OpsCommand):
    help = "Create, list, rotate, disable, enable, delete, test connections and toggle their entity syncs."
    stealth_options = ("stdin",)

    def create_parser(self, prog_name, subcommand, **kwargs):
        return one_line_errors(super().create_parser(prog_name, subcommand, **kwargs))

    def add_arguments(self, parser):
        one_line_errors(parser)
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        create = sub.add_parser("create", help="Connect an organization to a marketplace (credentials JSON on stdin).")
        create.add_argument("--org", required=True, help="Organization slug.")
        create.add_argument("--marketplace", required=True, help="refurbed | backmarket | bricklink | brickowl")
        create.add_argument("--environment", default="production", help="production (default) | sandbox")
        create.add_argument("--base-url", default="", help="Override the API base URL (sandbox, proxy, simulator).")
        create.add_argument("--platform", default="", help="Back Market platform: eu (default) | us | ap.")
        create.add_argument("--options", default="", help='Non-secret settings as JSON, e.g. \'{"store_id": "1"}\'.')

        listing = sub.add_parser("list", help="List connections and their sync state (never credentials).")
        listing.add_argument("--org", help="Only this organization's connections.")
        listing.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

        rotate = sub.add_parser("rotate", help="Replace a connection's credentials (JSON on stdin); clears auth errors.")
        rotate.add_argument("id", type=int)

        disable = sub.add_parser("disable", help="Stop syncing a connection.")
        disable.add_argument("id", type=int)
        disable.add_argument("--wipe-credentials", action="store_true", help="Erase its credentials for good.")

        enable = sub.add_parser("enable", help="Resume syncing a connection (refused if its credentials were wiped).")
        enable.add_argument("id", type=int)

        delete = sub.add_parser("delete", help="Delete a connection and every row synced through it.")
        delete.add_argument("id", type=int)
        delete.add_argument("--yes", action="store_true", help="Confirm the deletion.")

        toggles = sub.add_parser("toggles", help="Show or change which entities sync, for one connection or all.")
        toggles.add_argument("id", type=int, nargs="?")
        toggles.add_argument("--all", action="store_true", help="Every connection (of --org when given).")
        toggles.add_argument("--org", help="With --all: only this organization's connections.")
        toggles.add_argument("--enable", nargs="+", default=[], metavar="ENTITY",
                             help="Entities to turn on ('all' for every one; 'stock_push': the stock push).")
        toggles.add_argument("--disable", nargs="+", default=[], metavar="ENTITY", help="Entities to turn off ('all' for every one).")

        test = sub.add_parser("test", help="One cheap call to the marketplace; on success lifts a refused-key or refused-call stop.")
        test.add_argument("id", type=int)

    def handle(self, *args, **options):
        handler = getattr(self, f"do_{options['action']}")
        try:
            handler(options)
        except services.LifecycleError as exc:
            raise CommandError(str(exc)) from None

    # --- helpers -------------------------------------------------------------------------------------

    def _credentials(self, options, marketplace: str) -> dict:
        return read_credentials(options.get("stdin"), marketplace, prompt_out=self.stderr._out)

    # --- actions -------------------------------------------------------------------------------------

    def do_create(self, options) -> None:
        organization = organization_or_error(options["org"])
        marketplace = options["marketplace"]
        # Check the cheap things before asking for secrets.
        market = services._marketplace(marketplace)
        extra = json_argument(options["options"], "--options") if options["options"] else {}
        existing = selectors.connection_get(organization=organization, marketplace=market.value)
        if existing is not None:
            raise CommandError(services._duplicate_message(organization, market, existing.pk))
        credentials = self._credentials(options, marketplace)
        connection = services.connection_create(
            organization=organization,
            marketplace=marketplace,
            credentials=credentials,
            environment=options["environment"],
            base_url=options["base_url"],
            platform=options["platform"],
            options=extra,
            ops=True,
        )
        entities = ", ".join(connection.entity_syncs.values_list("entity", flat=True))
        self.stdout.write(
            f"Created connection {connection.pk}: {connection} ({connection.environment}), "
            f"credentials {connection.credentials_hint or 'stored'}; syncing {entities}."
        )

    def do_list(self, options) -> None:
        organization = organization_or_error(options["org"]) if options.get("org") else None
        rows = services.connection_list(organization=organization)
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        if not rows:
            self.stdout.write("No connections.")
            return
        self.stdout.write(f"{'ID':>4}  {'ORG':<16} {'MARKETPLACE':<11} {'ENV':<10} {'ON':<3} {'KEY':<6} ENTITIES")
        for row in rows:
            entities = " ".join(_entity_cell(e) for e in row["entities"])
            key = "wiped" if row["credentials_wiped"] else row["credentials_hint"]
            self.stdout.write(
                f"{row['id']:>4}  {row['organization']:<16} {row['marketplace']:<11} {row['environment']:<10} "
                f"{'yes' if row['enabled'] else 'no':<3} {key:<6} {entities}"
            )

    def do_rotate(self, options) -> None:
        connection = connection_or_error(options["id"])
        credentials = self._credentials(options, connection.marketplace)
        services.connection_rotate_credentials(connection=connection, credentials=credentials)
        self.stdout.write(f"Rotated the credentials of connection {connection.pk} ({connection}), now {connection.credentials_hint}.")

    def do_disable(self, options) -> None:
        connection = connection_or_error(options["id"])
        services.connection_disable(connection=connection, wipe_credentials=options["wipe_credentials"])
        wiped = "; its credentials were wiped" if options["wipe_credentials"] else ""
        self.stdout.write(f"Disabled connection {connection.pk} ({connection}){wiped}.")

    def do_enable(self, options) -> None:
        connection = connection_or_error(options["id"])
        services.connection_enable(connection=connection)
        self.stdout.write(f"Enabled connection {connection.pk} ({connection}).")

    def do_delete(self, options) -> None:
        connection = connection_or_error(options["id"])
        if not options["yes"]:
            raise CommandError(
                f"Deleting connection {connection.pk} ({connection}) removes every row synced through it; "
                "add --yes to confirm."
            )
        label = str(connection)
        per_model = services.connection_delete(connection=connection)
        counts = ", ".join(f"{n} {model.rsplit('.', 1)[-1]}" for model, n in sorted(per_model.items()) if n)
        self.stdout.write(f"Deleted connection {options['id']} ({label}): {counts}.")

    def do_test(self, options) -> None:
        from marketsync.sync.services import trigger_sync

        connection = connection_or_error(options["id"])
        result = services.connection_test(connection=connection)
        if not result.ok:
            raise CommandError(f"Connection {connection.pk} ({connection}): {result.message}")
        if result.resumed and connection.enabled:
            trigger_sync(connection=connection, entities=list(result.resumed))
        self.stdout.write(f"Connection {connection.pk} ({connection}): {result.message}")

    def do_toggles(self, options) -> None:
        if options["all"] == (options["id"] is not None):
            raise CommandError("Give either a connection ID or --all.")
        if options.get("org") and not options["all"]:
            raise CommandError("--org applies only with --all.")
        connection = connection_or_error(options["id"]) if options["id"] is not None else None
        organization = organization_or_error(options["org"]) if options.get("org") else None
        changed = 0
        if options["enable"] or options["disable"]:
            changed = services.entity_sync_toggle(
                connection=connection, organization=organization, enable=options["enable"], disable=options["disable"]
            )
            self.stdout.write(f"Changed {changed} entity sync(s).")
        for sync in selectors.entity_sync_list(organization=organization, connection=connection):
            self.stdout.write(f"{sync.connection_id:>4}  {sync.connection}  {sync.entity:<14} {'on' if sync.enabled else 'off'}")
        for target in ([connection] if connection is not None else selectors.connection_list(organization=organization)):
            target.refresh_from_db(fields=["stock_push"])
            self.stdout.write(f"{target.pk:>4}  {target}  {'stock_push':<14} {'on' if target.stock_push else 'off'}")


def _entity_cell(entity: dict) -> str:
    state = "on" if entity["enabled"] else "off"
    if entity["error_kind"]:
        state += f"!{entity['error_kind']}"
    return f"{entity['entity']}={state}"
