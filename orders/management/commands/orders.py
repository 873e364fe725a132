"""``manage.py orders``: order tools.

    manage.py orders picklist ORDER_ID
    manage.py orders orderline-identifiers ORDERLINE --connection ID [--imei X] [--serial Y]
    manage.py orders ship ORDER --connection ID [--carrier C] [--tracking-number N] [--tracking-url U] [--drive-thru]
    manage.py orders ship --org SLUG FILE.csv [--dry-run]
    manage.py orders invoice ORDER FILE.pdf --connection ID

``picklist`` prints a brick order's pick list, sorted by location. ``ship`` ships an order of any marketplace
(through ``orders.fulfilment``); with ``--org`` it ships a CSV
file of orders (``orders.bulk_ship``: checked whole first, then sent in the foreground, one outcome line per order,
exit 1 when any failed); the others are Back Market writes (through ``orders.writes``): each prints the
outcome and exits non-zero when it is refused. ``manage.py backmarket``
keeps the same three for existing scripts, through the functions below.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from connections.management.cli import OpsCommand, connection_or_error, file_bytes, organization_or_error, record_id
from connections.models import Connection
from inventory.selectors import pick_list_rows
from marketsync.marketplaces import Marketplace
from marketsync.sync.writes import WriteRefused
from orders import bulk_ship, fulfilment, writes
from orders.selectors import order_get, order_item_get, order_list_by_reference

ORDER_WRITES = ("orderline-identifiers", "ship", "invoice")


def add_order_write_parsers(sub, *, bulk_ship: bool = False) -> None:
    """The Back Market order write subcommands, on ``manage.py orders`` and ``manage.py backmarket``; ``bulk_ship``:
    ``ship`` also takes ``--org SLUG FILE.csv`` (``manage.py orders``)."""
    p = sub.add_parser("orderline-identifiers", help="Set the IMEI and/or serial number of a Back Market orderline.")
    p.add_argument("orderline", help="Back Market orderline id")
    p.add_argument("--connection", type=record_id, required=True)
    p.add_argument("--imei", default="")
    p.add_argument("--serial", default="")
    p = sub.add_parser("ship", help="Mark an order shipped on its marketplace, with carrier and tracking.")
    p.add_argument("order", help="the marketplace's order id" + (" (with --org: the CSV file)" if bulk_ship else ""))
    p.add_argument("--connection", type=record_id, required=not bulk_ship)
    if bulk_ship:
        p.add_argument("--org", default="", help="ship the CSV file's orders (marketplace,order_id,carrier,"
                                                 "tracking_number[,tracking_url]) for this organization")
        p.add_argument("--dry-run", action="store_true", help="with --org: check the file, send nothing")
    p.add_argument("--carrier", "--shipper", dest="carrier", default="",
                   help="Refurbed's carrier slug, Back Market's shipper (BrickLink and Brick Owl take none)")
    p.add_argument("--tracking-number", default="")
    p.add_argument("--tracking-url", default="")
    p.add_argument("--drive-thru", action="store_true", help="BrickLink: send the drive-thru message too")
    p = sub.add_parser("invoice", help="Upload a Back Market order's invoice PDF.")
    p.add_argument("order", help="Back Market order id")
    p.add_argument("file", help="the PDF file")
    p.add_argument("--connection", type=record_id, required=True)


def backmarket_connection(connection_id: int) -> Connection:
    return connection_or_error(connection_id, marketplace=Marketplace.BACKMARKET)


def _stored(get, connection: Connection, external_id: str, what: str):
    """The order or orderline ``external_id`` of the connection (``get``: order_get or order_item_get)."""
    row = get(organization=connection.organization, external_id=external_id, marketplace=connection.marketplace)
    if row is None:
        raise CommandError(f"{what} {external_id} is not stored for connection {connection.pk}; sync orders first.")
    return row


def order_write_run(command: BaseCommand, options: dict, *, any_marketplace_ship: bool = False) -> None:
    """Run one of ``ORDER_WRITES`` (``options["action"]``) and print its outcome on ``command``'s stdout.
    ``any_marketplace_ship``: ``ship`` takes a connection of any marketplace (``manage.py orders``)."""
    action, out = options["action"], command.stdout
    if action == "ship" and any_marketplace_ship:
        connection = connection_or_error(options["connection"])
    else:
        connection = backmarket_connection(options["connection"])
    try:
        if action == "orderline-identifiers":
            item = _stored(order_item_get, connection, options["orderline"], "Orderline")
            item = writes.orderline_identifiers_set(item=item, imei=options["imei"], serial_number=options["serial"],
                                                    actor="command")
            out.write(f"Orderline {item.external_id}: IMEI {item.imei or '—'}, serial {item.serial_number or '—'}.")
        elif action == "ship":
            order = fulfilment.order_ship(
                order=_stored(order_get, connection, options["order"], "Order"), carrier=options["carrier"],
                tracking_number=options["tracking_number"], tracking_url=options["tracking_url"],
                drive_thru=options["drive_thru"], actor="command",
            )
            out.write(f"Order {order.external_id} shipped: state {order.marketplace_status}, tracking {order.tracking_number}.")
        else:
            path = Path(options["file"])
            content = file_bytes(options["file"])
            order = writes.order_invoice_upload(
                order=_stored(order_get, connection, options["order"], "Order"), filename=path.name, content=content,
                actor="command",
            )
            out.write(f"Invoice {path.name} uploaded for order {order.external_id}.")
    except fulfilment.WritePending as exc:  # kept and retried by the worker: not a failure of the command
        out.write(exc.message)
    except WriteRefused as exc:
        raise CommandError(exc.message) from exc


class Command(OpsCommand):
    help = (
        "Order tools. picklist ORDER_ID: print the pick list (location, part, colour, condition, quantity) of an order. "
        "ship: mark an order shipped on any marketplace. orderline-identifiers, invoice: Back Market order writes."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        picklist = sub.add_parser("picklist", help="Print an order's pick list sorted by location.")
        picklist.add_argument("order_id", help="The local order id, or the marketplace's order number.")
        add_order_write_parsers(sub, bulk_ship=True)

    def handle(self, *args, action: str, **options):
        if action == "ship" and options.get("org"):
            self._ship_file(options)
            return
        if action == "ship" and options.get("connection") is None:
            raise CommandError("ship needs --connection ID (one order) or --org SLUG FILE.csv (a file of orders).")
        if action in ORDER_WRITES:
            order_write_run(self, {"action": action, **options}, any_marketplace_ship=True)
            return
        order_id = options["order_id"]
        matches = order_list_by_reference(organization=None, reference=order_id)
        if len(matches) > 1:
            raise CommandError(f"Order number {order_id} exists on several connections: use the local id.")
        if not matches:
            raise CommandError(f"No order {order_id}.")
        order = matches[0]
        rows = pick_list_rows(order=order)
        self.stdout.write(f"Pick list: {order.get_marketplace_display()} order {order.external_id} ({order.customer_name})")
        self.stdout.write(f"{'LOCATION':<12} {'PART':<12} {'COLOUR':<22} {'COND':<6} {'QTY':>5}  NAME")
        for row in rows:
            item = row.item
            flag = "" if row.inventory_item_id else "  [unmatched]"
            self.stdout.write(
                f"{(item.location or '-'):<12} {item.part_number:<12} {(item.color_name or item.color_id):<22} "
                f"{item.condition:<6} {item.quantity:>5}  {item.title}{flag}"
            )
        self.stdout.write(f"{len(rows)} line(s), {sum(r.item.quantity for r in rows)} piece(s).")

    def _ship_file(self, options: dict) -> None:
        organization = organization_or_error(options["org"])
        path = options["order"]
        plan = bulk_ship.ship_plan_from_csv(organization=organization, content=file_bytes(path))
        if plan.errors:
            for error in plan.errors:
                self.stderr.write(error)
            raise CommandError(f"{Path(path).name}: {len(plan.errors)} line(s) to fix; nothing was sent.")
        for planned in plan.skipped:
            self.stdout.write(f"{_named(planned.request, planned.order)}: not sent again, {planned.skip_reason}.")
        if options["dry_run"]:
            for planned in plan.to_send:
                self.stdout.write(f"{_named(planned.request, planned.order)}: would ship.")
            self.stdout.write(f"Dry run: {len(plan.to_send)} order(s) would ship, {len(plan.skipped)} not sent again.")
            return
        batch = bulk_ship.ship_batch_create(organization=organization, plan=plan, source="cli", filename=Path(path).name)
        total = batch.orders.filter(state="queued").count()
        done = 0

        def progress(row) -> None:
            nonlocal done
            done += 1
            where = f"Line {row.line}" if row.line else "Order"
            self.stdout.write(f"[{done}/{total}] {where} {row.order.get_marketplace_display()} order "
                              f"{row.order.external_id}: {row.get_state_display().lower()}: {row.message}")

        bulk_ship.ship_batch_run(batch=batch, progress=progress)
        counts = bulk_ship.ship_batch_counts(bulk_ship.ship_batch_rows(batch=batch))
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        self.stdout.write(f"Ship batch {batch.pk}: {summary}.")
        if counts.get("failed"):
            raise CommandError(f"{counts['failed']} order(s) failed; see above.")


def _named(request, order) -> str:
    return f"{request.where} {order.get_marketplace_display()} order {order.external_id}"
