"""``manage.py orders picklist ORDER_ID``: a brick order's pick list, sorted by location, as plain text."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import pick_list_rows
from orders.models import Order


class Command(BaseCommand):
    help = "Order tools. picklist ORDER_ID: print the pick list (location, part, colour, condition, quantity) of an order."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        picklist = sub.add_parser("picklist", help="Print an order's pick list sorted by location.")
        picklist.add_argument("order_id", help="The local order id, or the marketplace's order number.")

    def handle(self, *args, action: str, order_id: str, **options):
        order = Order.objects.filter(pk=int(order_id)).first() if order_id.isdigit() else None
        if order is None:
            matches = list(Order.objects.filter(external_id=order_id)[:2])
            if len(matches) > 1:
                raise CommandError(f"Order number {order_id} exists on several connections: use the local id.")
            order = matches[0] if matches else None
        if order is None:
            raise CommandError(f"No order {order_id}.")
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
