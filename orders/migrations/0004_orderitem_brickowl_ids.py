"""Order items keep Brick Owl's own BOID, colour id and type beside the translated BrickLink ids. Constant
defaults: PostgreSQL adds the columns without rewriting the table."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0003_unmatched_orders_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='orderitem',
            name='brickowl_boid',
            field=models.CharField(blank=True, default='', max_length=40),
        ),
        migrations.AddField(
            model_name='orderitem',
            name='brickowl_color_id',
            field=models.CharField(blank=True, default='', max_length=16),
        ),
        migrations.AddField(
            model_name='orderitem',
            name='brickowl_type',
            field=models.CharField(blank=True, default='', max_length=20),
        ),
    ]
