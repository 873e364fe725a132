"""``manage.py backmarket``: Back Market listing writes from the command line.

    manage.py backmarket listing-update LISTING --connection ID [--price P] [--min-price M] [--quantity Q]
                                        [--comment C] [--warranty W]
    manage.py backmarket bulk-listings FILE.csv --connection ID [--delimiter ;] [--quotechar "'"] [--encoding E] [--wait]

``orderline-identifiers``, ``ship`` and ``invoice`` are ``manage.py orders`` subcommands; they stay here too, for
existing scripts, running the very same code. Each prints the outcome and exits non-zero on failure.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import CommandError

from connections.management.cli import OpsCommand, file_bytes, record_id
from listings import selectors, writes
from listings.models import BulkListingTask
from marketsync.sync.errors import MarketplaceError
from marketsync.sync.writes import WriteRefused
from orders.management.commands.orders import ORDER_WRITES, add_order_write_parsers, backmarket_connection, order_write_run


class Command(OpsCommand):
    help = "Back Market writes: listing-update, bulk-listings (and orderline-identifiers, ship, invoice, as manage.py orders)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add_order_write_parsers(sub)
        p = sub.add_parser("listing-update", help="Update one listing (price, quantity, ...).")
        p.add_argument("listing", help="listing UUID, legacy id or SKU")
        p.add_argument("--connection", type=record_id, required=True)
        p.add_argument("--price")
        p.add_argument("--min-price")
        p.add_argument("--quantity")
        p.add_argument("--comment")
        p.add_argument("--warranty")
        p = sub.add_parser("bulk-listings", help="Send a bulk listing CSV.")
        p.add_argument("file", help="the CSV file")
        p.add_argument("--connection", type=record_id, required=True)
        p.add_argument("--delimiter", default=",")
        p.add_argument("--quotechar", default='"')
        p.add_argument("--encoding", default="utf-8")
        p.add_argument("--wait", action="store_true", help="poll the task here until it ends")

    def handle(self, *args, **options):
        if options["action"] in ORDER_WRITES:
            order_write_run(self, options)
            return
        connection = backmarket_connection(options["connection"])
        try:
            getattr(self, options["action"].replace("-", "_"))(connection, options)
        except WriteRefused as exc:
            raise CommandError(exc.message) from exc

    def listing_update(self, connection, options):
        ref, scope = options["listing"], {"organization": connection.organization, "connection": connection}
        listing = selectors.listing_get_by_external_id(external_id=ref, **scope) or selectors.listing_get_by_sku(sku=ref, **scope)
        if listing is None:
            raise CommandError(f"Listing {ref} is not stored for connection {connection.pk}; sync listings first.")
        listing = writes.listing_update(
            listing=listing, price=options["price"], min_price=options["min_price"], quantity=options["quantity"],
            comment=options["comment"], warranty_delay=options["warranty"], actor="command",
        )
        self.stdout.write(
            f"Listing {listing.sku}: price {listing.price} {listing.currency}, quantity {listing.quantity}, "
            f"publication state {listing.publication_state}."
        )

    def bulk_listings(self, connection, options):
        path = Path(options["file"])
        try:
            content = file_bytes(options["file"]).decode(options["encoding"])
        except (UnicodeDecodeError, LookupError) as exc:
            raise CommandError(f"{path} cannot be read as {options['encoding']}: {exc}") from exc
        try:
            task = writes.bulk_listing_submit(
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
        deadline = time.monotonic() + writes.bulk_timeout().total_seconds()
        while task.status in (BulkListingTask.Status.SUBMITTED, BulkListingTask.Status.PENDING):
            if time.monotonic() > deadline:
                raise CommandError(f"Task {task.marketplace_task_id} did not finish in time.")
            time.sleep(min(writes.bulk_poll_seconds(), 2.0) if task.polls else 0)
            try:
                task = writes.bulk_listing_poll(task=task)
            except MarketplaceError as exc:  # a failed read of the task: it may still run at Back Market
                raise CommandError(f"Task {task.marketplace_task_id}: {exc}; see the bulk task page later.") from exc
            self.stdout.write(f"  {task.get_status_display()} (poll {task.polls})")
        for result in selectors.bulk_task_result_list(task=task):
            self.stdout.write(f"  {result.sku}: {'ok' if result.success else result.message}")
        if task.status != BulkListingTask.Status.SUCCESS:
            raise CommandError(f"Task {task.marketplace_task_id} ended {task.get_status_display().lower()}: {task.error}")
        self.stdout.write(f"Task {task.marketplace_task_id} succeeded.")
