"""Pick list rows for a brick order's page."""

from django import template

from inventory.selectors import pick_list_rows

register = template.Library()


@register.simple_tag
def picklist(order):
    return pick_list_rows(order=order)
