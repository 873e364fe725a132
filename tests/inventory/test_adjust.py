"""A manual stock adjustment is bounded in the service, so the item page and ``manage.py inventory adjust`` share
one check: a change of 10^20 pieces, a reason with a control character or a count past the column are refused,
named, and nothing is written (the command had no bound of its own: a traceback, issue 10)."""

from __future__ import annotations

import pytest

from connections.models import AuditEntry
from inventory.models import InventoryItem, StockMovement
from inventory.services import ADJUST_LIMIT, inventory_adjust
from tests.factories import make_organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def item():
    return InventoryItem.objects.create(organization=make_organization("bins"), part_number="3001", color_id="5",
                                        condition="new", name="Brick 2 x 4", quantity_on_hand=10, version=1)


@pytest.mark.parametrize("delta, reason, says", [
    (10**20, "recount", "at most 1,000,000 pieces either way"),
    (-(10**20), "recount", "at most 1,000,000 pieces either way"),
    (ADJUST_LIMIT + 1, "recount", "at most 1,000,000 pieces either way"),
    (1, "found\x00one", "control character"),
    (1, "found\x1b[31mone", "control character"),
    (1, "r" * 256, "at most 255 characters"),
    (1.5, "half a brick", "whole number"),
    (True, "yes", "whole number"),
])
def test_a_junk_adjustment_is_refused_by_the_service_and_writes_nothing(item, delta, reason, says):
    with pytest.raises(ValueError, match=says):
        inventory_adjust(organization=item.organization, item_id=item.pk, delta=delta, reason=reason, actor="test")
    item.refresh_from_db()
    assert item.quantity_on_hand == 10 and item.version == 1
    assert not StockMovement.objects.exists() and not AuditEntry.objects.exists()


def test_a_count_past_what_the_column_holds_is_refused(item):
    InventoryItem.objects.filter(pk=item.pk).update(quantity_on_hand=2**31 - 10)
    with pytest.raises(ValueError, match="more than can be counted"):
        inventory_adjust(organization=item.organization, item_id=item.pk, delta=ADJUST_LIMIT, reason="recount")
    assert not StockMovement.objects.exists()


def test_the_largest_adjustment_either_way_is_made(item):
    up = inventory_adjust(organization=item.organization, item_id=item.pk, delta=ADJUST_LIMIT, reason="  pallet  ")
    down = inventory_adjust(organization=item.organization, item_id=item.pk, delta=-ADJUST_LIMIT, reason="pallet gone")
    assert (up.on_hand_after, down.on_hand_after, up.reason) == (10 + ADJUST_LIMIT, 10, "pallet")
