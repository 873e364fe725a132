"""manage.py export orders --org SLUG [--marketplace M] [--status S] [--since DATE] [--items] [--format csv|json]

Streams the same rows as the order book's CSV export to stdout, walking the orders by keyset so memory
stays flat however many there are.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from connections.management.cli import OpsCommand, organization_or_error
from marketsync.forms import MomentField
from marketsync.marketplaces import Marketplace
from orders.export import csv_stream, json_stream
from orders.selectors import OrderFilterError, OrderFilters, export_columns, order_export_rows


def _since(value: str) -> datetime:
    try:
        return MomentField(local=True).clean(value)
    except ValidationError as exc:
        raise CommandError(f"--since '{value[:40]}': {' '.join(exc.messages)}") from None


class Command(OpsCommand):
    help = "Export an organization's orders (or their items) as CSV or JSON on stdout."

    def add_arguments(self, parser):
        parser.add_argument("what", choices=["orders"], help="What to export.")
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument("--marketplace", choices=[m.value for m in Marketplace])
        parser.add_argument("--status", help="A tab (ready, returned, …) or a unified status (new, refunded, …).")
        parser.add_argument("--since", help="Orders placed on or after this date (YYYY-MM-DD, in TIME_ZONE) or ISO date-time.")
        parser.add_argument("--items", action="store_true", help="One row per order item instead of per order.")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args, **options):
        organization = organization_or_error(options["org"])
        filters = OrderFilters(
            marketplace=options.get("marketplace") or "",
            status=options.get("status") or "",
            since=_since(options["since"]) if options.get("since") else None,
        )
        try:
            filters.statuses()
        except OrderFilterError as exc:
            raise CommandError(str(exc)) from None
        items = options["items"]
        rows = order_export_rows(organization=organization, filters=filters, items=items)
        stream = (json_stream if options["format"] == "json" else csv_stream)(rows, export_columns(items=items))
        for chunk in stream:
            self.stdout.write(chunk, ending="")
        self.stdout.flush()
