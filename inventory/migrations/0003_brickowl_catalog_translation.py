"""Brick Owl's catalog in BrickLink's terms: the global colour and item tables (built from Brick Owl's API), the
queue of lots that could not be translated, and both marketplaces' ids on each lot. New columns have constant
defaults: PostgreSQL adds them without rewriting the table."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connections', '0004_audit_index_serves_the_page_order'),
        ('inventory', '0002_item_index_serves_the_shelf_order'),
    ]

    operations = [
        migrations.CreateModel(
            name='CatalogColor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('brickowl_color_id', models.CharField(max_length=16, unique=True)),
                ('name', models.CharField(blank=True, default='', max_length=64)),
                ('bricklink_color_ids', models.JSONField(blank=True, default=list)),
                ('refreshed_at', models.DateTimeField()),
            ],
            options={
                'ordering': ['brickowl_color_id'],
            },
        ),
        migrations.AddField(
            model_name='inventorylot',
            name='brickowl_boid',
            field=models.CharField(blank=True, default='', max_length=40),
        ),
        migrations.AddField(
            model_name='inventorylot',
            name='brickowl_color_id',
            field=models.CharField(blank=True, default='', max_length=16),
        ),
        migrations.AddField(
            model_name='inventorylot',
            name='brickowl_type',
            field=models.CharField(blank=True, default='', max_length=20),
        ),
        migrations.AddField(
            model_name='inventorylot',
            name='color_id',
            field=models.CharField(blank=True, default='', max_length=16),
        ),
        migrations.AddField(
            model_name='inventorylot',
            name='item_type',
            field=models.CharField(blank=True, default='', max_length=20),
        ),
        migrations.AddField(
            model_name='inventorylot',
            name='part_number',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.CreateModel(
            name='CatalogItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('boid', models.CharField(max_length=40, unique=True)),
                ('brickowl_type', models.CharField(blank=True, default='', max_length=20)),
                ('bricklink_item_no', models.CharField(blank=True, default='', max_length=64)),
                ('state', models.CharField(choices=[('pending', 'Waiting for lookup'), ('mapped', 'Mapped'), ('unmapped', 'No BrickLink number')], default='pending', max_length=10)),
                ('ids', models.JSONField(blank=True, default=list, help_text='The catalog ids Brick Owl answered.')),
                ('looked_up_at', models.DateTimeField(blank=True, help_text='Empty: never looked up (queued, or named by a lot).', null=True)),
                ('lookup_error', models.CharField(blank=True, default='', max_length=255)),
                ('claimed_until', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['boid'],
                'indexes': [models.Index(fields=['state', 'looked_up_at'], name='catalogitem_due_idx')],
            },
        ),
        migrations.CreateModel(
            name='UnmappedLot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('external_id', models.CharField(help_text='Brick Owl lot_id.', max_length=64)),
                ('brickowl_boid', models.CharField(max_length=40)),
                ('brickowl_color_id', models.CharField(blank=True, default='', max_length=16)),
                ('brickowl_type', models.CharField(blank=True, default='', max_length=20)),
                ('part_number', models.CharField(blank=True, default='', max_length=64)),
                ('item_type', models.CharField(blank=True, default='', max_length=20)),
                ('condition', models.CharField(blank=True, default='', max_length=8)),
                ('quantity', models.IntegerField(default=0)),
                ('location', models.CharField(blank=True, default='', max_length=120)),
                ('name', models.CharField(blank=True, default='', max_length=300)),
                ('unit_price', models.DecimalField(blank=True, decimal_places=4, max_digits=14, null=True)),
                ('external_bricklink_id', models.CharField(blank=True, default='', max_length=64)),
                ('remarks', models.CharField(blank=True, default='', max_length=255)),
                ('raw', models.JSONField(blank=True, default=dict)),
                ('reason', models.CharField(blank=True, default='', max_length=255)),
                ('first_seen_at', models.DateTimeField(auto_now_add=True)),
                ('last_seen_at', models.DateTimeField(blank=True, null=True)),
                ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='unmapped_lots', to='connections.connection')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='unmapped_lots', to='connections.organization')),
            ],
            options={
                'ordering': ['brickowl_boid', 'id'],
                'indexes': [models.Index(fields=['organization', 'brickowl_boid', 'id'], name='unmappedlot_org_boid_idx')],
                'constraints': [models.UniqueConstraint(fields=('connection', 'external_id'), name='unmappedlot_unique_per_connection')],
            },
        ),
    ]
