"""Stock items for all four marketplaces: an item is a brick part (keyed as before) or a merchant's SKU.

Schema: ``sku`` (blank for brick items), ``imported_from`` / ``imported_at`` (whose listing quantity set on
hand, and when it was read); a lot may lose its item (an owner unlinked it: ``item`` becomes nullable, and
SET_NULL instead of CASCADE) and records ``link_manual``, ``pushed_quantity`` and ``pushed_at``. The brick key's
unique constraint gains ``sku`` as its last column (brick rows all have sku "", so it accepts exactly the rows it
accepted before and stays the upsert's unconditional conflict target); a partial unique constraint keeps one
item per (organization, sku), and a check keeps every item one kind or the other.

Data, for the rows already there: every existing item is a brick item (sku ""). Its ``imported_from`` is the
connection of its first lot and ``imported_at`` its creation time, which is when the import read that lot's
quantity. On hand, reserved and the ledger are not touched. Lots keep their items (``link_manual`` false, nothing
pushed). No table is renamed.
"""

import django.db.models.deletion
import django.db.models.functions.text
from django.db import migrations, models


def fill_imported_from(apps, schema_editor):
    Item = apps.get_model("inventory", "InventoryItem")
    Lot = apps.get_model("inventory", "InventoryLot")
    # Lots' part numbers are never blank (the mappings refuse such lots); any row that is would fail the new check.
    for item in Item.objects.filter(part_number="").only("pk"):
        Item.objects.filter(pk=item.pk).update(part_number=f"unknown-{item.pk}")
    first_lot = Lot.objects.filter(item=models.OuterRef("pk")).order_by("pk").values("connection_id")[:1]
    Item.objects.filter(imported_from__isnull=True).update(
        imported_from=models.Subquery(first_lot), imported_at=models.F("created_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0004_audit_index_serves_the_page_order"),
        ("inventory", "0003_brickowl_catalog_translation"),
    ]

    operations = [
        migrations.AddField(
            model_name="inventoryitem",
            name="sku",
            field=models.CharField(blank=True, default="", help_text="Refurbished goods: the merchant's SKU.", max_length=256),
        ),
        migrations.AddField(
            model_name="inventoryitem",
            name="imported_from",
            field=models.ForeignKey(blank=True, help_text="The connection whose listing quantity set on hand.", null=True,
                                    on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="connections.connection"),
        ),
        migrations.AddField(
            model_name="inventoryitem",
            name="imported_at",
            field=models.DateTimeField(blank=True, help_text="When that quantity was read.", null=True),
        ),
        migrations.AlterField(
            model_name="inventoryitem", name="part_number", field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="inventoryitem", name="item_type", field=models.CharField(blank=True, default="PART", max_length=20),
        ),
        migrations.AddField(
            model_name="inventorylot",
            name="link_manual",
            field=models.BooleanField(default=False, help_text="Set or removed by an owner; imports leave it."),
        ),
        migrations.AddField(
            model_name="inventorylot",
            name="pushed_quantity",
            field=models.IntegerField(blank=True, help_text="What marketsync last pushed.", null=True),
        ),
        migrations.AddField(model_name="inventorylot", name="pushed_at", field=models.DateTimeField(blank=True, null=True)),
        migrations.AlterField(
            model_name="inventorylot",
            name="item",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="lots",
                                    to="inventory.inventoryitem"),
        ),
        migrations.RunPython(fill_imported_from, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="inventoryitem", name="inventoryitem_unique_key"),
        migrations.AddConstraint(
            model_name="inventoryitem",
            constraint=models.UniqueConstraint(
                fields=("organization", "part_number", "item_type", "color_id", "condition", "location", "sku"),
                name="inventoryitem_unique_key",
            ),
        ),
        migrations.AddConstraint(
            model_name="inventoryitem",
            constraint=models.UniqueConstraint(condition=models.Q(("sku", ""), _negated=True), fields=("organization", "sku"),
                                               name="inventoryitem_unique_sku"),
        ),
        migrations.AddConstraint(
            model_name="inventoryitem",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("sku", ""), models.Q(("part_number", ""), _negated=True)),
                    models.Q(models.Q(("sku", ""), _negated=True), ("color_id", ""), ("condition", ""), ("item_type", ""),
                             ("location", ""), ("part_number", "")),
                    _connector="OR",
                ),
                name="inventoryitem_brick_or_sku",
            ),
        ),
        migrations.AddIndex(
            model_name="inventoryitem",
            index=models.Index(models.F("organization"), django.db.models.functions.text.Lower("sku"),
                               name="inventoryitem_org_sku_ci_idx"),
        ),
        migrations.AddIndex(
            model_name="inventorylot",
            index=models.Index(condition=models.Q(("item__isnull", True)), fields=["organization", "id"],
                               name="inventorylot_org_unlinked_idx"),
        ),
    ]
