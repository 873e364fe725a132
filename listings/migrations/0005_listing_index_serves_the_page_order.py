"""The listings page reads by SKU then id (keyset): its index ends in ``id`` too, so a page is one range scan
with no sort, duplicate SKUs included. The new index is built before the old one, its prefix, goes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("listings", "0004_stock_models_move_to_inventory")]

    operations = [
        migrations.AddIndex(
            model_name="listing",
            index=models.Index(fields=["organization", "sku", "id"], name="listing_org_sku_id_idx"),
        ),
        migrations.RemoveIndex(model_name="listing", name="listing_org_sku_idx"),
    ]
