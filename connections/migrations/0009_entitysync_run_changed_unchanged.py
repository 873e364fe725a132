"""A sync run counts rows changed and rows read again unchanged apart ("updated" always equalled "seen")."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connections', '0008_entitysync_backlog_queued_at_missed_ticks'),
    ]

    operations = [
        migrations.RenameField(model_name='entitysync', old_name='last_run_updated', new_name='last_run_changed'),
        migrations.AddField(
            model_name='entitysync', name='last_run_unchanged', field=models.PositiveIntegerField(default=0),
        ),
    ]
