"""The stock models now belong to ``inventory`` (its 0001): forget them here, in Django's state only.

No SQL: their tables (still named ``listings_*``) and data stay where they are,
and ``inventory`` owns them from now on. Referring models go first.

Their content types were relabelled by inventory 0001; settling them again here
removes the empty listings duplicates post_migrate adds when a migrate stops
between the two migrations (see ``inventory/migrations/_content_types.py``).
"""

from django.db import migrations

from inventory.migrations._content_types import to_inventory


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0001_initial'),
        ('listings', '0003_movement_outlives_reservation'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='StockMovement'),
                migrations.DeleteModel(name='Reservation'),
                migrations.DeleteModel(name='InventoryLot'),
                migrations.DeleteModel(name='InventoryItem'),
            ],
            database_operations=[],
        ),
        migrations.RunPython(to_inventory, migrations.RunPython.noop),
    ]
