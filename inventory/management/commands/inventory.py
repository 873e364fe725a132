"""``manage.py inventory check [--org SLUG]``, ``manage.py inventory adjust ITEM_ID --delta N --reason TEXT``,
``manage.py inventory unmapped --org SLUG [--json]``, ``manage.py inventory catalog-refresh [--lookups N]``, and
owners' link changes: ``inventory link --connection ID --external-id X (--item ITEM_ID | --new-item [--sku SKU])``,
``inventory unlink --connection ID --external-id X``, ``inventory unlinked --org SLUG``; the stock push:
``inventory reconcile --org SLUG [--json] [--apply]`` and ``inventory push --org SLUG``."""

from __future__ import annotations

import json
import sys

from django.core.management.base import CommandError

from connections.management.cli import OpsCommand, connection_or_error, organization_or_error, record_id
from inventory.catalog_sync import catalog_refresh
from inventory.push import reconcile_apply, stock_push_drain
from inventory.selectors import LINK_KINDS, inventory_check, inventory_item_get, reconcile_rows, unlinked_page, unmapped_list
from inventory.services import StockLinkError, inventory_adjust, stock_item_create_from_listing, stock_link_set, stock_unlink


class Command(OpsCommand):
    help = ("Check stock against its reservations and ledger, adjust an item's on-hand quantity, change which stock "
            "item a lot, listing or offer sells, or list and refresh Brick Owl's catalog translation.")

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
        link = sub.add_parser("link", help="Link a lot, listing or offer to a stock item (imports then leave the link).")
        unlink = sub.add_parser("unlink", help="Unlink a lot, listing or offer: its stock is no longer tracked.")
        for parser in (link, unlink):
            parser.add_argument("--connection", type=record_id, required=True, help="The connection's id.")
            parser.add_argument("--external-id", required=True, help="The marketplace's id of the lot, listing or offer.")
        target = link.add_mutually_exclusive_group(required=True)
        target.add_argument("--item", type=record_id, help="The stock item's id.")
        target.add_argument("--new-item", action="store_true", help="Create a SKU stock item from the listing or offer.")
        link.add_argument("--sku", default="", help="With --new-item: the new item's SKU (default: the listing's own).")
        unlinked = sub.add_parser("unlinked", help="List the lots, listings and offers no stock item sells.")
        unlinked.add_argument("--org", required=True, help="Organization slug.")
        reconcile = sub.add_parser("reconcile", help="List linked listings whose marketplace quantity differs from local "
                                   "available, and the unlinked ones; --apply pushes the differences.")
        reconcile.add_argument("--org", required=True, help="Organization slug.")
        reconcile.add_argument("--json", action="store_true", help="One JSON object per line.")
        reconcile.add_argument("--apply", action="store_true", help="Push local available to every listed difference.")
        push = sub.add_parser("push", help="Send the waiting stock pushes now, with progress; exit 1 if any failed.")
        push.add_argument("--org", required=True, help="Organization slug.")

    def handle(self, *args, action: str, **options):
        if action == "check":
            return self.check_ledger(options["org"])
        if action == "unmapped":
            return self.unmapped(options["org"], as_json=options["json"])
        if action == "catalog-refresh":
            return self.catalog_refresh(options["lookups"])
        if action in ("link", "unlink"):
            return self.change_link(action, options)
        if action == "unlinked":
            return self.list_unlinked(options["org"])
        if action == "reconcile":
            return self.reconcile(options["org"], as_json=options["json"], apply=options["apply"])
        if action == "push":
            return self.push(options["org"])
        return self.adjust(options["item_id"], options["delta"], options["reason"])

    def change_link(self, action: str, options: dict) -> None:
        connection = connection_or_error(options["connection"])
        where = {"organization": connection.organization, "connection_id": connection.pk,
                 "external_id": options["external_id"], "actor": "command", "source": "command"}
        try:
            if action == "unlink":
                row = stock_unlink(**where)
                self.stdout.write(f"{connection.marketplace_label} {row.external_id} unlinked: its stock is not tracked.")
            elif options["new_item"]:
                item = stock_item_create_from_listing(sku=options["sku"], **where)
                self.stdout.write(f"Created stock item {item.pk} ({item}), on hand {item.quantity_on_hand}, linked to "
                                  f"{connection.marketplace_label} {options['external_id']}.")
            else:
                row = stock_link_set(item_id=options["item"], **where)
                self.stdout.write(f"{connection.marketplace_label} {row.external_id} now sells stock item {options['item']}.")
        except StockLinkError as exc:
            raise CommandError(str(exc)) from exc

    def reconcile(self, slug: str, *, as_json: bool, apply: bool) -> None:
        organization = organization_or_error(slug)
        rows = reconcile_rows(organization=organization)
        for row in rows:
            link = row.link
            if as_json:
                self.stdout.write(json.dumps({
                    "kind": link.kind, "marketplace": link.marketplace, "connection": link.connection.pk,
                    "id": link.external_id, "item": row.item.pk, "marketplace_quantity": link.marketplace_quantity,
                    "available": row.available, "pushed_quantity": link.pushed_quantity, "changed_by": link.changed_by,
                    "stock_push": link.connection.stock_push}))
            else:
                self.stdout.write(f"{link.marketplace_label}\tconnection {link.connection.pk}\t{link.kind} {link.external_id}\t"
                                  f"item {row.item.pk} ({row.item})\tmarketplace {link.marketplace_quantity}\t"
                                  f"available {row.available}\t{link.changed_by}")
        if not as_json:
            self.stdout.write(f"{len(rows)} linked listing(s) differ from local available.")
            self.list_unlinked(slug)
        if apply and rows:
            queued = reconcile_apply(organization=organization, rows=rows)
            self.stdout.write(f"Queued {queued} push(es).")
            self.push(slug)

    def push(self, slug: str) -> None:
        organization = organization_or_error(slug)

        def progress(push, outcome: str) -> None:
            self.stdout.write(f"{push.connection.marketplace_label} {push.target_kind} {push.external_id}: {outcome}"
                              + (f" ({push.quantity_before} -> {push.quantity_after})" if outcome in ("sent", "unchanged") else "")
                              + (f": {push.last_error}" if outcome in ("failed", "retrying", "waiting") and push.last_error else ""))

        total = {"sent": 0, "unchanged": 0, "failed": 0, "retrying": 0, "waiting": 0, "skipped": 0}
        while True:
            result = stock_push_drain(organization_id=organization.pk, progress=progress)
            for key in total:
                total[key] += getattr(result, key)
            if not (result.sent or result.unchanged or result.skipped):
                break  # nothing left that is due (what waits or retries has a later time)
        self.stdout.write(", ".join(f"{v} {k}" for k, v in total.items()) + ".")
        if total["failed"] or total["retrying"]:
            sys.exit(1)

    def list_unlinked(self, slug: str) -> None:
        organization = organization_or_error(slug)
        total = 0
        for kind in LINK_KINDS:
            after = ""
            while True:
                page = unlinked_page(organization=organization, kind=kind, after=after)
                for row in page.rows:
                    total += 1
                    self.stdout.write(f"{row.marketplace_label}\tconnection {row.connection.pk}\t{kind} {row.external_id}\t"
                                      f"sku {row.sku or '-'}\tqty {row.marketplace_quantity}\t{row.reason}")
                if not page.next_cursor:
                    break
                after = page.next_cursor
        self.stdout.write(f"{total} unlinked.")

    # Not ``check``: that is Django's system check, which every real command line runs first.
    def check_ledger(self, slug: str) -> None:
        organization = None
        if slug:
            organization = organization_or_error(slug)
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
        organization = organization_or_error(slug)
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
