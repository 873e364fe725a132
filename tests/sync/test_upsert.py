"""The one bulk upsert: deduplicated, counted, pks set, a constant number of queries (SQLite and PostgreSQL)."""

import pytest
from django.db import connection as db
from django.db import transaction
from django.test.utils import CaptureQueriesContext

from inventory.models import InventoryItem
from marketsync.sync.upsert import bulk_upsert
from tests.factories import make_organization

pytestmark = pytest.mark.django_db
KEY = ["organization", "part_number", "item_type", "color_id", "condition", "location", "sku"]


def _items(org, prefix: str, n: int, name: str = "") -> list[InventoryItem]:
    return [InventoryItem(organization_id=org.pk, part_number=f"{prefix}-{i}", item_type="PART", color_id="1",
                          condition="new", location="", name=name) for i in range(n)]


def test_queries_do_not_grow_with_the_page_when_a_key_is_a_foreign_key_given_by_id():
    org = make_organization("upsert")
    counts = []
    for prefix, n in (("a", 5), ("b", 60)):
        with CaptureQueriesContext(db) as ctx:
            bulk_upsert(InventoryItem, _items(org, prefix, n), unique_fields=KEY, update_fields=["name"])
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_dedupes_counts_and_returns_pks_also_twice_in_one_transaction():
    org = make_organization("upsert")
    first, rows = bulk_upsert(InventoryItem, _items(org, "p", 3) + _items(org, "p", 1, name="last wins"),
                              unique_fields=KEY, update_fields=["name"])
    assert (first.created, first.changed, len(rows)) == (3, 0, 3)
    with transaction.atomic():
        again, stored = bulk_upsert(InventoryItem, _items(org, "p", 4, name="renamed"), unique_fields=KEY, update_fields=["name"])
        other, _ = bulk_upsert(InventoryItem, _items(org, "q", 2), unique_fields=KEY, update_fields=["name"])
    assert (again.created, again.changed, other.created, other.changed) == (1, 3, 2, 0)
    by_part = dict(InventoryItem.objects.values_list("part_number", "pk"))
    assert {o.part_number: o.pk for o in stored} == {f"p-{i}": by_part[f"p-{i}"] for i in range(4)}
    assert set(InventoryItem.objects.filter(part_number__startswith="p-").values_list("name", flat=True)) == {"renamed"}
    assert InventoryItem.objects.count() == 6
