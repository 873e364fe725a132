"""Each row links to at most one stock item (SET_NULL: a stock item never takes a row with it); made on import by
SKU, changed by owners. Existing rows start unlinked: the next import links them by SKU (their stock items are
created then, from their quantity). ``link_manual``, ``pushed_quantity`` and ``pushed_at`` as on a lot."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connections', '0004_audit_index_serves_the_page_order'),
        ('inventory', '0004_stock_items_for_every_marketplace'),
        ('listings', '0005_listing_index_serves_the_page_order'),
    ]

    operations = [
        migrations.AddField(
            model_name='listing',
            name='link_manual',
            field=models.BooleanField(default=False, help_text='Set or removed by an owner; imports leave it.'),
        ),
        migrations.AddField(
            model_name='listing',
            name='pushed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='listing',
            name='pushed_quantity',
            field=models.IntegerField(blank=True, help_text='What marketsync last pushed.', null=True),
        ),
        migrations.AddField(
            model_name='listing',
            name='stock_item',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='listings', to='inventory.inventoryitem'),
        ),
        migrations.AddIndex(
            model_name='listing',
            index=models.Index(fields=['connection', 'legacy_id'], name='listing_conn_legacy_idx'),
        ),
        migrations.AddIndex(
            model_name='listing',
            index=models.Index(condition=models.Q(('stock_item__isnull', True)), fields=['organization', 'id'], name='listing_org_unlinked_idx'),
        ),
    ]
