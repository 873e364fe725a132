"""Template filters onto ``orders.presentation`` for pages that show order and stock rows without a view model
(packing slips, pick lists, inventory rows): the same words, colours, images and address labels everywhere."""

from __future__ import annotations

from django import template

from orders import presentation

register = template.Library()


@register.filter
def address_label(address):
    """``{% with label=order.shipping_address|address_label %}``: the address as a label prints it, or None."""
    return presentation.address_label(address)


@register.filter
def colour(row):
    """A LEGO item's colour (an order item, a stock item, a pick line): ``.words`` and ``.code``."""
    return presentation.colour(row)


@register.filter
def condition(row, marketplace=""):
    """An order item's condition in words (``marketplace``: its order's), or a stock item's new/used."""
    market = marketplace or getattr(getattr(row, "order", None), "marketplace", "") or "bricklink"
    if hasattr(row, "details") and hasattr(row, "marketplace_status"):
        return presentation.item_condition(row, marketplace=market)
    return presentation.brick_condition(getattr(row, "condition", ""), getattr(row, "completeness", ""), marketplace=market)


@register.filter
def item_image(row):
    return presentation.item_image(row)


@register.filter
def moment(value):
    """A payload's ISO time as an aware datetime (shown in the viewer's zone by ``|date``), or None."""
    return presentation.moment(value)


@register.filter
def code_words(code, table):
    """``{% with w=listing.grade|code_words:"backmarket_grade" %}``: ``w.words``, ``w.code`` for the tooltip."""
    return presentation.coded(table, code)
