"""``manage.py inventory check [--org SLUG]``, ``manage.py inventory adjust ITEM_ID --delta N --reason TEXT``,
``manage.py inventory unmapped --org SLUG [--json]`` and ``manage.py inventory catalog-refresh [--lookups N]``."""

from __future__ import annotations

import json
import sys

from django.core.management.base import CommandError

from connections.management.cli import OpsCommand, record_id
from connections.selectors import organization_get
from inventory.catalog_sync import catalog_refresh
from inventory.selectors import inventory_check, inventory_item_get, unmapped_list
from inventory.services import inventory_adjust


class Command(OpsCommand):
    help = "Check brick inventory against its reservations and ledger, or adjust an item's on-hand quantity."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="Verify reserved = open reservations and on-hand/reserved = the ledger.")
        check.add_argument("--org", default="", help="Organization slug (default: all).")
        adjust = sub.add_parser("adjust", help="Correct an item's on-hand quantity through the ledger.")
        adjust.add_argument("item_id", type=record_id)
        adjust.add_argument("--delta", type=int, required=True, help="Signed change, e.g. -3 or 5.")
        adjust.add_argument("--reason", required=True)
        unmapped = sub.add_parser("unmapped", help="List Brick Owl lots and order items not translated to BrickLink's catalog.")
        unmapped.add_argument("--org", required=True, help="Organization slug.")
        unmapped.add_argument("--json", action="store_true", help="One JSON object per line.")
        catalog = sub.add_parser("catalog-refresh", help="Run Brick Owl's catalog refresh now (colours, BOID lookups).")
        catalog.add_argument("--lookups", type=int, default=None, help="Most id lookups this run (default: the setting).")

    def handle(self, *args, action: str, **options):
        if action == "check":
            return self.check_ledger(options["org"])
        if action == "unmapped":
            return self.unmapped(options["org"], as_json=options["json"])
        if action == "catalog-refresh":
            return self.catalog_refresh(options["lookups"])
        return self.adjust(options["item_id"], options["delta"], options["reason"])

    # Not ``check``: that is Django's system check, which every real command line runs first.
    def check_ledger(self, slug: str) -> None:
        organization = None
        if slug:
            organization = organization_get(slug=slug)
            if organization is None:
                raise CommandError(f"No organization with slug {slug!r}.")
        problems = inventory_check(organization=organization)
        if not problems:
            self.stdout.write("Inventory OK: reserved quantities match open reservations and the ledger.")
            return
        for problem in problems:
            self.stderr.write(str(problem))
        self.stderr.write(f"{len(problems)} mismatch(es) found.")
        sys.exit(1)

    def adjust(self, item_id: int, delta: int, reason: str) -> None:
        item = inventory_item_get(organization=None, item_id=item_id)
        if item is None:
            raise CommandError(f"No inventory item {item_id}.")
        try:
            movement = inventory_adjust(organization=item.organization, item_id=item.pk, delta=delta, reason=reason, actor="command",
                                        source="command")
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Item {item.pk} ({item}): on hand {movement.on_hand_before} -> {movement.on_hand_after}, "
            f"reserved {movement.reserved_after}, available {movement.on_hand_after - movement.reserved_after}."
        )

    def unmapped(self, slug: str, *, as_json: bool) -> None:
        organization = organization_get(slug=slug)
        if organization is None:
            raise CommandError(f"No organization with slug {slug!r}.")
        rows = unmapped_list(organization=organization)
        if as_json:
            for row in rows:
                self.stdout.write(json.dumps({
                    "kind": row.kind, "connection": row.connection.pk, "id": row.external_id,
                    "order": row.order.external_id if row.order else None, "boid": row.brickowl_boid,
                    "color_id": row.brickowl_color_id, "type": row.brickowl_type, "bricklink_part": row.part_number,
                    "name": row.name, "quantity": row.quantity, "reason": row.reason,
                }))
            return
        if not rows:
            self.stdout.write("Nothing unmapped: every Brick Owl lot and order item is in BrickLink's terms.")
            return
        for row in rows:
            where = f"order {row.order.external_id} item {row.external_id}" if row.order else f"lot {row.external_id}"
            self.stdout.write(
                f"{row.kind:<10} {where}: BOID {row.brickowl_boid} ({row.brickowl_type or '?'}, colour "
                f"{row.brickowl_color_id or '-'}) x{row.quantity} {row.name} - {row.reason}"
            )
        self.stdout.write(f"{len(rows)} unmapped.")

    def catalog_refresh(self, lookups: int | None) -> None:
        if lookups is not None and lookups < 0:
            raise CommandError("--lookups must be 0 or more.")
        result = catalog_refresh(lookups=lookups)
        self.stdout.write(f"Brick Owl catalog: {result.summary()}.")
        if result.error:
            self.stderr.write(f"Brick Owl catalog run stopped: {result.error}")
            sys.exit(1)
