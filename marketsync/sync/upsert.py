"""The one bulk upsert every domain service uses: fit each row to its table, dedupe by key, a constant number of
queries per page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connections, models, router, transaction
from django.utils import timezone

from marketsync.sync.errors import BadRecord
from marketsync.sync.limits import fit_row


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    # Records of the page that were not stored because a value does not fit its column (named, skipped).
    bad_records: list[BadRecord] = field(default_factory=list)

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(self.created + other.created, self.updated + other.updated, self.bad_records + other.bad_records)


def row_name(obj: models.Model, unique_fields: Sequence[str]) -> str:
    """How a bad row is named: the marketplace's id where the row has one, else its key's own values."""
    external_id = getattr(obj, "external_id", None)
    if external_id:
        return str(external_id)
    meta = obj._meta
    return " / ".join(str(getattr(obj, meta.get_field(f).attname)) for f in unique_fields if not meta.get_field(f).is_relation)


def fitting_rows(objs: Iterable[models.Model], *, unique_fields: Sequence[str] = ()) -> tuple[list[models.Model], list[BadRecord]]:
    """The rows whose every value fits its column (decimals rounded to the column), and the others as named bad records."""
    fitting, bad = [], []
    for obj in objs:
        problem = fit_row(obj)
        if problem:
            bad.append(BadRecord(row_name(obj, unique_fields), problem))
        else:
            fitting.append(obj)
    return fitting, bad


def bulk_upsert(
    model: type[models.Model],
    objs: Iterable[models.Model],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    batch_size: int = 500,
    fitted: bool = False,
) -> tuple[UpsertResult, list[models.Model]]:
    """Insert or update ``objs`` on their unconditional unique key.

    Each row is first fitted to its table (``limits.fit_row``): one whose value the database would refuse is
    left out and reported in ``bad_records``, so it cannot fail the others (``fitted=True``: the caller did
    that already, to skip a whole order with its items). The batch is then deduplicated by key (the last
    occurrence wins), since PostgreSQL refuses a key twice in one statement. Returns the counts and the
    deduplicated objects stored, with primary keys set on PostgreSQL and SQLite alike (looked up when the
    database does not return them).
    """
    bad: list[BadRecord] = []
    if not fitted:
        objs, bad = fitting_rows(objs, unique_fields=unique_fields)
    # Keyed by the stored values (a foreign key's id, not its object, which would cost a query per row).
    attnames = [model._meta.get_field(f).attname for f in unique_fields]
    by_key: dict[tuple, models.Model] = {}
    for obj in objs:
        by_key[tuple(getattr(obj, a) for a in attnames)] = obj
    rows = list(by_key.values())
    if not rows:
        return UpsertResult(bad_records=bad), []
    if update_fields and connections[router.db_for_write(model)].vendor == "postgresql":
        result = _copy_upsert(model, by_key, unique_fields, update_fields)
        result.bad_records = bad
        return result, rows
    existing = _existing_keys(model, unique_fields, list(by_key))
    model.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=list(unique_fields),
        update_fields=list(update_fields),
        batch_size=batch_size,
    )
    if any(row.pk is None for row in rows):
        ids = _existing_keys(model, unique_fields, list(by_key), with_pk=True)
        for key, row in by_key.items():
            row.pk = ids[key]
    updated = sum(1 for key in by_key if key in existing)
    return UpsertResult(created=len(rows) - updated, updated=updated, bad_records=bad), rows


def _copy_upsert(model, by_key: dict, unique_fields, update_fields) -> UpsertResult:
    """PostgreSQL: COPY the page into a temporary table, then one INSERT … SELECT … ON CONFLICT … RETURNING.

    Django's multi-row INSERT binds every value client-side (and escapes JSON inside UNNEST arrays in
    Python), which made the database side of a page several times slower than fetching it. COPY
    serialises rows in C; the INSERT empties the temporary table as it reads it and RETURNING gives
    the pks and whether each row was inserted, so there is no lookup query either: a COPY and two
    statements per call, whatever the number of rows.
    """
    using = router.db_for_write(model)
    connection = connections[using]
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    quote = connection.ops.quote_name
    table, temp = meta.db_table, f"_upsert_{meta.db_table}"
    key_columns = [meta.get_field(f).column for f in unique_fields]
    column_list = ", ".join(quote(c) for c in columns)
    updates = ", ".join(f"{quote(meta.get_field(f).column)} = EXCLUDED.{quote(meta.get_field(f).column)}" for f in update_fields)
    returning = ", ".join(quote(c) for c in [meta.pk.column, *key_columns])
    converters = [_copy_converter(f, connection) for f in fields]
    # ON COMMIT DELETE ROWS needs one transaction around COPY and INSERT (normally the page's own).
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        # Identifiers only (table and column names from the model's meta, quoted); values go through COPY.
        # Created each time "if not exists": a rolled-back transaction takes a new temporary table with it.
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(temp)} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {column_list} FROM {quote(table)} WITH NO DATA"
        )
        with cursor.copy(f"COPY {quote(temp)} ({column_list}) FROM STDIN") as copy:
            for row in by_key.values():
                copy.write_row([convert(row) for convert in converters])
        cursor.execute(
            f"WITH page AS (DELETE FROM {quote(temp)} RETURNING {column_list}) "  # noqa: S608
            f"INSERT INTO {quote(table)} ({column_list}) SELECT {column_list} FROM page "
            f"ON CONFLICT ({', '.join(quote(c) for c in key_columns)}) DO UPDATE SET {updates} "
            f"RETURNING {returning}, (xmax = 0) AS inserted"
        )
        returned = cursor.fetchall()
    pks = {tuple(str(v) for v in r[1:-1]): r[0] for r in returned}
    for key, row in by_key.items():
        row.pk = pks[tuple(str(_attvalue(v)) for v in key)]
    inserted = sum(1 for r in returned if r[-1])
    return UpsertResult(created=inserted, updated=len(returned) - inserted)


_PLAIN_FIELDS = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)


def _copy_converter(field, connection):
    """How one field's value is read for COPY: as stored on the instance when psycopg can dump it as is
    (text, numbers, booleans, foreign keys), else through Django's own preparation (JSON, times, auto_now)."""
    attname = field.attname
    if isinstance(field, models.JSONField):
        return lambda row: None if getattr(row, attname) is None else field.get_db_prep_save(getattr(row, attname), connection)
    if isinstance(field, _PLAIN_FIELDS) and not isinstance(field, models.DateField):
        return lambda row: getattr(row, attname)
    return lambda row: field.get_db_prep_save(field.pre_save(row, True), connection)


def _existing_keys(model, unique_fields, keys, *, with_pk: bool = False):
    """Keys already stored (one query per distinct value of the leading key field, usually one)."""
    attnames = [model._meta.get_field(f).attname for f in unique_fields]
    lead, rest = attnames[0], attnames[1:]
    found: dict[tuple, int] = {}
    groups: dict = {}
    for key in keys:
        groups.setdefault(_attvalue(key[0]), []).append(key)
    for lead_value, group in groups.items():
        if len(rest) == 1:
            qs = model.objects.filter(**{lead: lead_value, f"{rest[0]}__in": [_attvalue(k[1]) for k in group]})
        else:
            qs = model.objects.filter(**{lead: lead_value})
        for row in qs.values_list("pk", *attnames):
            found[row[1:]] = row[0]
    normalised = {tuple(_attvalue(v) for v in key): key for key in keys}
    result = {normalised[k]: pk for k, pk in found.items() if k in normalised}
    return result if with_pk else set(result)


def _attvalue(value):
    return value.pk if isinstance(value, models.Model) else value


def mark_unseen_removed(model: type[models.Model], *, connection, seen_before) -> int:
    """After a complete sweep: rows of the connection it did not return are marked removed (kept, not deleted).

    Every swept model has ``last_seen_at`` (stamped by its upsert) and ``removed_at``.
    """
    stale = model.objects.filter(connection=connection, removed_at__isnull=True)
    return stale.filter(models.Q(last_seen_at__lt=seen_before) | models.Q(last_seen_at__isnull=True)).update(
        removed_at=timezone.now()
    )
