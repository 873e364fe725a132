"""Indexes for the order book's free-text search on PostgreSQL.

The search matches ``customer_name__icontains``, ``customer_email__iexact`` and
``tracking_number__iexact``; Django renders those as ``UPPER(col::text) LIKE/=``,
so the indexes are on exactly those expressions (a trigram GIN index for the
substring match). SQLite has neither expression indexes of this kind nor
pg_trgm and scans, which is fine at development sizes.
"""

from django.db import migrations

INDEXES = [
    "CREATE INDEX IF NOT EXISTS order_email_upper_idx ON orders_order (UPPER(customer_email::text))",
    "CREATE INDEX IF NOT EXISTS order_tracking_upper_idx ON orders_order (UPPER(tracking_number::text))",
    "CREATE INDEX IF NOT EXISTS order_name_trgm_idx ON orders_order USING gin (UPPER(customer_name::text) gin_trgm_ops)",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for statement in INDEXES:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in ("order_email_upper_idx", "order_tracking_upper_idx", "order_name_trgm_idx"):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
