"""The offer list filtered by state reads newest first by keyset on ``(marketplace_created_at, id)``: the state
index ends in ``id`` too, like ``offer_org_created_idx``, so ties cost no sort. Built before the old one goes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("offers", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="offer",
            index=models.Index(fields=["organization", "state", "-marketplace_created_at", "-id"], name="offer_org_state_id_idx"),
        ),
        migrations.RemoveIndex(model_name="offer", name="offer_org_state_idx"),
    ]
