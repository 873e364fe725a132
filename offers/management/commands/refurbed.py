"""``manage.py refurbed <what> --connection ID``: Refurbed's live reference data as JSON."""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from connections.management.cli import OpsCommand, connection_or_error, record_id
from marketsync.marketplaces import Marketplace
from marketsync.sync.errors import MarketplaceError
from offers import reference

WHAT = ("markets", "market", "currencies", "currency", "instance", "shipping-profiles", "catalog-templates")
NEEDS_ARG = {"market": "CODE", "currency": "CODE", "instance": "ID"}


class Command(OpsCommand):
    help = "Print Refurbed reference data (markets, currencies, an instance, shipping profiles, catalog templates) as JSON."

    def add_arguments(self, parser):
        parser.add_argument("what", choices=WHAT)
        parser.add_argument("value", nargs="?", help="CODE for market/currency, ID for instance")
        parser.add_argument("--connection", type=record_id, required=True, help="id of a Refurbed connection")
        parser.add_argument("--category-type", default="ELECTRONICS", help="catalog-templates: ELECTRONICS, SPORTS or KIDS")
        parser.add_argument("--lang", default="EN", help="catalog-templates: EN or DE")

    def handle(self, *args, what: str, value: str | None, connection: int, **options):
        conn = connection_or_error(connection)
        if conn.marketplace != Marketplace.REFURBED:
            raise CommandError(f"Connection {connection} is {conn.marketplace_label}, not Refurbed.")
        if what in NEEDS_ARG and not value:
            raise CommandError(f"'{what}' needs a {NEEDS_ARG[what]}: manage.py refurbed {what} {NEEDS_ARG[what]} --connection ID")
        calls = {
            "markets": lambda: reference.reference_market_list(connection=conn),
            "market": lambda: reference.reference_market_get(connection=conn, code=value),
            "currencies": lambda: reference.reference_currency_list(connection=conn),
            "currency": lambda: reference.reference_currency_get(connection=conn, code=value),
            "instance": lambda: reference.reference_instance_get(connection=conn, instance_id=value),
            "shipping-profiles": lambda: reference.reference_shipping_profile_list(connection=conn),
            "catalog-templates": lambda: reference.reference_catalog_template_list(
                connection=conn, category_type=options["category_type"], lang_code=options["lang"]),
        }
        try:
            data = calls[what]()
        except MarketplaceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
