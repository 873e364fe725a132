"""The four stock models move here from ``listings``, their tables, data, constraints and indexes untouched.

``listings`` 0002/0003 created the tables ``listings_inventoryitem``,
``listings_inventorylot``, ``listings_reservation`` and ``listings_stockmovement``;
the models keep those names (``Meta.db_table``), so this migration only tells
Django's state that the models now belong to ``inventory`` (no SQL), and
``listings`` 0004 removes them from listings' state (no SQL either).

Their ``django_content_type`` rows are relabelled listings -> inventory (and back
when unapplied), so permissions granted on them and the admin's history of their
rows carry over (see ``_content_types.py``; listings 0004 settles them again).
"""

import django.db.models.deletion
from django.db import migrations, models

from inventory.migrations._content_types import to_inventory, to_listings


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('admin', '0003_logentry_add_action_flag_choices'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('connections', '0003_apicallcount'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('listings', '0003_movement_outlives_reservation'),
        ('orders', '0002_search_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='InventoryItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('part_number', models.CharField(max_length=64)),
                        ('item_type', models.CharField(default='PART', max_length=20)),
                        ('color_id', models.CharField(blank=True, default='', max_length=16)),
                        ('color_name', models.CharField(blank=True, default='', max_length=64)),
                        ('condition', models.CharField(help_text='new or used', max_length=8)),
                        ('location', models.CharField(blank=True, default='', max_length=120)),
                        ('name', models.CharField(blank=True, default='', max_length=300)),
                        ('quantity_on_hand', models.IntegerField(default=0)),
                        ('quantity_reserved', models.IntegerField(default=0)),
                        ('version', models.PositiveIntegerField(default=0)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='inventory_items', to='connections.organization')),
                    ],
                    options={
                        'db_table': 'listings_inventoryitem',
                        'ordering': ['location', 'part_number', 'color_id', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='InventoryLot',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('external_id', models.CharField(help_text='BrickLink inventory_id or Brick Owl lot_id.', max_length=64)),
                        ('external_bricklink_id', models.CharField(blank=True, default='', help_text='Brick Owl: the BrickLink lot id.', max_length=64)),
                        ('marketplace_quantity', models.IntegerField(default=0)),
                        ('unit_price', models.DecimalField(blank=True, decimal_places=4, max_digits=14, null=True)),
                        ('remarks', models.CharField(blank=True, default='', max_length=255)),
                        ('raw', models.JSONField(blank=True, default=dict)),
                        ('last_seen_at', models.DateTimeField(blank=True, null=True)),
                        ('removed_at', models.DateTimeField(blank=True, help_text='No longer returned by a full import.', null=True)),
                        ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='inventory_lots', to='connections.connection')),
                        ('item', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lots', to='inventory.inventoryitem')),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='inventory_lots', to='connections.organization')),
                    ],
                    options={
                        'db_table': 'listings_inventorylot',
                        'ordering': ['connection_id', 'external_id'],
                    },
                ),
                migrations.CreateModel(
                    name='Reservation',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('quantity', models.IntegerField(default=0, help_text='Held now (open); what was held when settled.')),
                        ('state', models.CharField(choices=[('open', 'Open'), ('released', 'Released'), ('consumed', 'Consumed')], default='open', max_length=10)),
                        ('version', models.PositiveIntegerField(default=0)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('item', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reservations', to='inventory.inventoryitem')),
                        ('order_item', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reservations', to='orders.orderitem')),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reservations', to='connections.organization')),
                    ],
                    options={
                        'db_table': 'listings_reservation',
                    },
                ),
                migrations.CreateModel(
                    name='StockMovement',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('sequence', models.PositiveIntegerField(help_text="The item's version after this movement.")),
                        ('kind', models.CharField(choices=[('reserve', 'Reserve'), ('release', 'Release'), ('consume', 'Consume'), ('adjust', 'Manual adjust')], max_length=10)),
                        ('reservation_sequence', models.PositiveIntegerField(blank=True, null=True)),
                        ('on_hand_before', models.IntegerField()),
                        ('on_hand_after', models.IntegerField()),
                        ('reserved_before', models.IntegerField()),
                        ('reserved_after', models.IntegerField()),
                        ('source', models.CharField(help_text='sync, webhook, import, command, admin, ...', max_length=60)),
                        ('reason', models.CharField(blank=True, default='', max_length=255)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('item', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='movements', to='inventory.inventoryitem')),
                        ('order_item', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='stock_movements', to='orders.orderitem')),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='stock_movements', to='connections.organization')),
                        ('reservation', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='movements', to='inventory.reservation')),
                    ],
                    options={
                        'db_table': 'listings_stockmovement',
                        'ordering': ['item_id', 'sequence'],
                    },
                ),
                migrations.AddIndex(
                    model_name='inventoryitem',
                    index=models.Index(fields=['organization', 'location'], name='inventoryitem_org_loc_idx'),
                ),
                migrations.AddConstraint(
                    model_name='inventoryitem',
                    constraint=models.UniqueConstraint(fields=('organization', 'part_number', 'item_type', 'color_id', 'condition', 'location'), name='inventoryitem_unique_key'),
                ),
                migrations.AddConstraint(
                    model_name='inventoryitem',
                    constraint=models.CheckConstraint(condition=models.Q(('quantity_reserved__gte', 0)), name='inventoryitem_reserved_not_negative'),
                ),
                migrations.AddIndex(
                    model_name='inventorylot',
                    index=models.Index(fields=['organization', 'external_bricklink_id'], name='inventorylot_org_bl_idx'),
                ),
                migrations.AddConstraint(
                    model_name='inventorylot',
                    constraint=models.UniqueConstraint(fields=('connection', 'external_id'), name='inventorylot_unique_per_connection'),
                ),
                migrations.AddIndex(
                    model_name='reservation',
                    index=models.Index(fields=['item', 'state'], name='reservation_item_state_idx'),
                ),
                migrations.AddConstraint(
                    model_name='reservation',
                    constraint=models.UniqueConstraint(fields=('order_item',), name='one_reservation_per_order_item'),
                ),
                migrations.AddConstraint(
                    model_name='reservation',
                    constraint=models.CheckConstraint(condition=models.Q(('quantity__gte', 0)), name='reservation_quantity_not_negative'),
                ),
                migrations.AddConstraint(
                    model_name='stockmovement',
                    constraint=models.UniqueConstraint(fields=('item', 'sequence'), name='stockmovement_unique_item_sequence'),
                ),
                migrations.AddConstraint(
                    model_name='stockmovement',
                    constraint=models.UniqueConstraint(condition=models.Q(('reservation__isnull', False)), fields=('reservation', 'reservation_sequence'), name='stockmovement_unique_reservation_step'),
                ),
                migrations.AddConstraint(
                    model_name='stockmovement',
                    constraint=models.UniqueConstraint(condition=models.Q(('kind__in', ['release', 'consume'])), fields=('reservation',), name='stockmovement_one_settlement_per_reservation'),
                ),
                migrations.AddConstraint(
                    model_name='stockmovement',
                    constraint=models.CheckConstraint(condition=models.Q(('reservation__isnull', True), ('reservation_sequence__isnull', False), _connector='OR'), name='stockmovement_reservation_step_set'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(to_inventory, to_listings),
    ]
