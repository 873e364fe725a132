"""The inventory's unmatched-items page reads the items of flagged brick orders, newest order first, then the
order's lines in order (keyset). A partial index of the flagged orders alone, in that order, lets it walk a
few rows instead of every order of the organization."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_search_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["organization", "-placed_at", "id"], condition=models.Q(has_unmatched_items=True),
                               name="order_org_unmatched_idx"),
        ),
    ]
