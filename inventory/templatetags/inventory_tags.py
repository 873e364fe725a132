"""Stock on other apps' pages: pick list rows for a brick order's page, and the stock link box of a Back Market
listing's or a Refurbed offer's page."""

from django import template

from inventory.selectors import linked_listing, pick_list_rows

register = template.Library()


@register.simple_tag
def picklist(order):
    return pick_list_rows(order=order)


@register.inclusion_tag("inventory/_stock_link_box.html", takes_context=True)
def stock_link_box(context, row):
    """What stock item a listing or offer sells (with its drift), and owners' forms to change that."""
    request = context.get("request")
    item = row.stock_item
    return {
        "row": row,
        "item": item,
        "link": linked_listing(item=item, row=row) if item is not None else None,
        "can_write": bool(getattr(request, "is_org_owner", False)),
        "next": request.get_full_path() if request is not None else "",
        "csrf_token": context.get("csrf_token"),
    }
