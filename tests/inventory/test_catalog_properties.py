"""Property: whatever Brick Owl's colour list says, a Brick Owl colour translates only to a BrickLink id that list
gives it — never to its own id by coincidence — and an item without a BrickLink number or a listed colour stays
unmapped (with the reason) instead of being guessed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from inventory.catalog import NO_COLOR, catalog_translate
from inventory.catalog_sync import catalog_colors_store
from inventory.models import CatalogColor, CatalogItem
from marketsync.marketplaces.brickowl.mapping import lot_record

ids = st.integers(min_value=0, max_value=400).map(str)
color_lists = st.dictionaries(ids, st.lists(ids, max_size=3, unique=True), min_size=1, max_size=12)
lots = st.lists(st.tuples(st.sampled_from(["400004", "400005", "547781"]), st.one_of(st.just(""), ids),
                          st.booleans()), min_size=1, max_size=8)


class CatalogTranslationProperties(TestCase):
    @settings(max_examples=60, deadline=None)
    @given(color_lists, lots)
    def test_colours_translate_only_through_brick_owls_list(self, table, rows):
        CatalogColor.objects.all().delete()
        CatalogItem.objects.all().delete()
        catalog_colors_store(data={k: {"id": k, "name": f"c{k}", "bl_ids": v} for k, v in table.items()})
        CatalogItem.objects.create(boid="400004", brickowl_type="Part", bricklink_item_no="3069b", state="mapped")
        CatalogItem.objects.create(boid="547781", brickowl_type="Part", state="unmapped")
        records = [
            lot_record({"lot_id": str(n), "boid": f"{item}-{color}" if color else item, "type": "Part", "qty": "1",
                        "ids": [{"id": "3001", "type": "bl_item_no"}] if named else []})
            for n, (item, color, named) in enumerate(rows)
        ]
        for record, t, (item, color, named) in zip(records, catalog_translate(records, remember=False), rows, strict=True):
            listed = table.get(color)
            if color and not listed:
                assert not t.mapped and t.color_ids == () and f"colour {color}" in t.problem
            elif color:
                assert t.color_ids == tuple(dict.fromkeys(listed))
            else:
                assert t.color_ids == (NO_COLOR,)
            expected_part = "3001" if named else {"400004": "3069b"}.get(item, "")
            assert t.part_number == expected_part
            if not expected_part:
                assert not t.mapped and "BOID" in t.problem
            assert t.mapped == bool(expected_part and t.color_ids)
