"""The audit page reads newest first by keyset on ``(created_at, id)``: its index ends in ``id`` too, so a page
is one range scan with no sort, ties included. The new index is built before the old one goes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("connections", "0003_apicallcount")]

    operations = [
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(fields=["organization", "-created_at", "-id"], name="audit_org_created_idx"),
        ),
        migrations.RemoveIndex(model_name="auditentry", name="audit_org_time_idx"),
    ]
