"""Back Market writes from the command line; each prints the outcome and fails with a non-zero exit."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from connections.models import Connection
from listings import writes as listing_services
from listings.models import BulkListingTask, Listing
from marketsync.sync.errors import MarketplaceError
from marketsync.sync.writes import WriteRefused
from orders import writes as order_services
from orders.models import Order, OrderItem


class Command(BaseCommand):
    help = "Back Market writes: orderline-identifiers, ship, invoice, listing-update, bulk-listings."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("orderline-identifiers", help="Set the IMEI and/or serial number of an orderline.")
        p.add_argument("orderline", help="Back Market orderline id")
        p.add_argument("--connection", type=int, required=True)
        p.add_argument("--imei", default="")
        p.add_argument("--serial", default="")
        p = sub.add_parser("ship", help="Mark an order shipped.")
        p.add_argument("order", help="Back Market order id")
        p.add_argument("--connection", type=int, required=True)
        p.add_argument("--tracking-number", required=True)
        p.add_argument("--tracking-url", default="")
        p.add_argument("--shipper", default="")
        p = sub.add_parser("invoice", help="Upload an order's invoice PDF.")
        p.add_argument("order", help="Back Market order id")
        p.add_argument("file", help="the PDF file")
        p.add_argument("--connection", type=int, required=True)
        p = sub.add_parser("listing-update", help="Update one listing (price, quantity, ...).")
        p.add_argument("listing", help="listing UUID, legacy id or SKU")
        p.add_argument("--connection", type=int, required=True)
        p.add_argument("--price")
        p.add_argument("--min-price")
        p.add_argument("--quantity")
        p.add_argument("--comment")
        p.add_argument("--warranty")
        p = sub.add_parser("bulk-listings", help="Send a bulk listing CSV.")
        p.add_argument("file", help="the CSV file")
        p.add_argument("--connection", type=int, required=True)
        p.add_argument("--delimiter", default=",")
        p.add_argument("--quotechar", default='"')
        p.add_argument("--encoding", default="utf-8")
        p.add_argument("--wait", action="store_true", help="poll the task here until it ends")

    def handle(self, *args, **options):
        connection = Connection.objects.filter(pk=options["connection"], marketplace="backmarket").select_related("organization").first()
        if connection is None:
            raise CommandError(f"No Back Market connection with id {options['connection']}.")
        action = options["action"].replace("-", "_")
        try:
            getattr(self, action)(connection, options)
        except WriteRefused as exc:
            raise CommandError(exc.message) from exc

    def _order(self, connection, external_id) -> Order:
        order = Order.objects.filter(connection=connection, external_id=str(external_id)).first()
        if order is None:
            raise CommandError(f"Order {external_id} is not stored for connection {connection.pk}; sync orders first.")
        return order

    def orderline_identifiers(self, connection, options):
        item = OrderItem.objects.filter(connection=connection, external_id=str(options["orderline"])).select_related("order").first()
        if item is None:
            raise CommandError(f"Orderline {options['orderline']} is not stored for connection {connection.pk}; sync orders first.")
        item = order_services.orderline_identifiers_set(item=item, imei=options["imei"], serial_number=options["serial"],
                                                        actor="command")
        self.stdout.write(f"Orderline {item.external_id}: IMEI {item.imei or '—'}, serial {item.serial_number or '—'}.")

    def ship(self, connection, options):
        order = order_services.order_ship(
            order=self._order(connection, options["order"]), tracking_number=options["tracking_number"],
            tracking_url=options["tracking_url"], shipper=options["shipper"], actor="command",
        )
        self.stdout.write(f"Order {order.external_id} shipped: state {order.marketplace_status}, tracking {order.tracking_number}.")

    def invoice(self, connection, options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        order = order_services.order_invoice_upload(
            order=self._order(connection, options["order"]), filename=path.name, content=path.read_bytes(), actor="command",
        )
        self.stdout.write(f"Invoice {path.name} uploaded for order {order.external_id}.")

    def listing_update(self, connection, options):
        ref = options["listing"]
        qs = Listing.objects.filter(connection=connection)
        listing = qs.filter(external_id=ref).first() or qs.filter(legacy_id=ref).first() or qs.filter(sku__iexact=ref).first()
        if listing is None:
            raise CommandError(f"Listing {ref} is not stored for connection {connection.pk}; sync listings first.")
        listing = listing_services.listing_update(
            listing=listing, price=options["price"], min_price=options["min_price"], quantity=options["quantity"],
            comment=options["comment"], warranty_delay=options["warranty"], actor="command",
        )
        self.stdout.write(
            f"Listing {listing.sku}: price {listing.price} {listing.currency}, quantity {listing.quantity}, "
            f"publication state {listing.publication_state}."
        )

    def bulk_listings(self, connection, options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            content = path.read_bytes().decode(options["encoding"])
        except (UnicodeDecodeError, LookupError) as exc:
            raise CommandError(f"{path} cannot be read as {options['encoding']}: {exc}") from exc
        try:
            task = listing_services.bulk_listing_submit(
                connection=connection, content=content, file_name=path.name, delimiter=options["delimiter"],
                quotechar=options["quotechar"], encoding=options["encoding"], actor="command", enqueue=not options["wait"],
            )
        except WriteRefused as exc:
            if not exc.errors:
                raise
            raise CommandError("The CSV was not sent:\n  " + "\n  ".join(exc.errors)) from exc
        self.stdout.write(f"Sent {task.line_count} line(s): Back Market task {task.marketplace_task_id}.")
        if not options["wait"]:
            self.stdout.write("A worker follows the task; see the bulk task page for its results.")
            return
        deadline = time.monotonic() + listing_services.bulk_timeout().total_seconds()
        while task.status in (BulkListingTask.Status.SUBMITTED, BulkListingTask.Status.PENDING):
            if time.monotonic() > deadline:
                raise CommandError(f"Task {task.marketplace_task_id} did not finish in time.")
            time.sleep(min(listing_services.bulk_poll_seconds(), 2.0) if task.polls else 0)
            try:
                task = listing_services.bulk_listing_poll(task=task)
            except MarketplaceError as exc:  # a failed read of the task: it may still run at Back Market
                raise CommandError(f"Task {task.marketplace_task_id}: {exc}; see the bulk task page later.") from exc
            self.stdout.write(f"  {task.get_status_display()} (poll {task.polls})")
        for result in task.results.all():
            self.stdout.write(f"  {result.sku}: {'ok' if result.success else result.message}")
        if task.status != BulkListingTask.Status.SUCCESS:
            raise CommandError(f"Task {task.marketplace_task_id} ended {task.get_status_display().lower()}: {task.error}")
        self.stdout.write(f"Task {task.marketplace_task_id} succeeded.")
