"""Each row links to at most one stock item (SET_NULL: a stock item never takes a row with it); made on import by
SKU, changed by owners. Existing rows start unlinked: the next import links them by SKU (their stock items are
created then, from their quantity). ``link_manual``, ``pushed_quantity`` and ``pushed_at`` as on a lot."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connections', '0004_audit_index_serves_the_page_order'),
        ('inventory', '0004_stock_items_for_every_marketplace'),
        ('offers', '0002_offer_state_index_ends_in_id'),
    ]

    operations = [
        migrations.AddField(
            model_name='offer',
            name='link_manual',
            field=models.BooleanField(default=False, help_text='Set or removed by an owner; imports leave it.'),
        ),
        migrations.AddField(
            model_name='offer',
            name='pushed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='offer',
            name='pushed_quantity',
            field=models.IntegerField(blank=True, help_text='What marketsync last pushed.', null=True),
        ),
        migrations.AddField(
            model_name='offer',
            name='stock_item',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='offers', to='inventory.inventoryitem'),
        ),
        migrations.AddIndex(
            model_name='offer',
            index=models.Index(condition=models.Q(('stock_item__isnull', True)), fields=['organization', 'id'], name='offer_org_unlinked_idx'),
        ),
    ]
