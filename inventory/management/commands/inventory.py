"""``manage.py inventory check [--org SLUG]`` and ``manage.py inventory adjust ITEM_ID --delta N --reason TEXT``."""

from __future__ import annotations

import sys

from django.core.management.base import CommandError

from connections.management.cli import OpsCommand, record_id
from connections.selectors import organization_get
from inventory.selectors import inventory_check, inventory_item_get
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

    def handle(self, *args, action: str, **options):
        if action == "check":
            return self.check_ledger(options["org"])
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
