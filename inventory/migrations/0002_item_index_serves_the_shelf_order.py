"""The stock list reads in shelf order (location, part, colour, then id) by keyset: one index in that order
serves every page with no sort. It replaces (organization, location), its prefix; the new one is built first.

The table keeps its listings name (``listings_inventoryitem``); listings 0004 must have run so the model's
state is inventory's alone.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0001_initial"),
        ("listings", "0004_stock_models_move_to_inventory"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="inventoryitem",
            index=models.Index(fields=["organization", "location", "part_number", "color_id", "id"],
                               name="inventoryitem_org_shelf_idx"),
        ),
        migrations.RemoveIndex(model_name="inventoryitem", name="inventoryitem_org_loc_idx"),
    ]
