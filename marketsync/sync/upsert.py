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
    """What a page's upsert did: rows created, rows whose stored values changed, rows read again unchanged (not
    rewritten), and the primary keys of every stored row by model label (``seen``: what a sweep's removal
    compares against)."""

    created: int = 0
    changed: int = 0
    unchanged: int = 0
    # Records of the page that were not stored because a value does not fit its column (named, skipped).
    bad_records: list[BadRecord] = field(default_factory=list)
    seen: dict[str, set] = field(default_factory=dict)
    # The pks this one call inserted or rewrote (not carried by ``+``): what a caller storing children tells by.
    written: set = field(default_factory=set)
    # The pks of ``written`` that this call inserted (rows new to the table: nothing refers to them yet).
    inserted: set = field(default_factory=set)

    def __add__(self, other: UpsertResult) -> UpsertResult:
        seen = {label: set(pks) for label, pks in self.seen.items()}
        for label, pks in other.seen.items():
            seen.setdefault(label, set()).update(pks)
        return UpsertResult(self.created + other.created, self.changed + other.changed, self.unchanged + other.unchanged,
                            self.bad_records + other.bad_records, seen)


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
    stamps: Sequence[str] = (),
    touch_unchanged: bool = False,
) -> tuple[UpsertResult, list[models.Model]]:
    """Insert or update ``objs`` on their unconditional unique key, rewriting only the rows that changed.

    Each row is first fitted to its table (``limits.fit_row``): one whose value the database would refuse is
    left out and reported in ``bad_records``, so it cannot fail the others (``fitted=True``: the caller did
    that already, to skip a whole order with its items). The batch is then deduplicated by key (the last
    occurrence wins), since PostgreSQL refuses a key twice in one statement.

    A stored row is rewritten only when one of ``update_fields`` differs from what is stored; ``stamps`` (and
    every ``auto_now`` field) are not compared: they are written with a change, never for themselves, so a row
    read again unchanged is not written at all and is counted ``unchanged``. ``touch_unchanged``: the stamps
    of unchanged rows are still written (one UPDATE), for a stamp that says when a row was last read (an
    order's ``last_synced_at``, which paces its re-reads). Returns the counts and the deduplicated objects,
    with primary keys set on PostgreSQL and SQLite alike, unchanged rows included.
    """
    bad: list[BadRecord] = []
    if not fitted:
        objs, bad = fitting_rows(objs, unique_fields=unique_fields)
    meta = model._meta
    # Keyed by the stored values (a foreign key's id, not its object, which would cost a query per row).
    attnames = [meta.get_field(f).attname for f in unique_fields]
    by_key: dict[tuple, models.Model] = {}
    for obj in objs:
        by_key[tuple(getattr(obj, a) for a in attnames)] = obj
    rows = list(by_key.values())
    if not rows:
        return UpsertResult(bad_records=bad), []
    compared = [f for f in update_fields if f not in stamps and not getattr(meta.get_field(f), "auto_now", False)]
    stamped = [f for f in update_fields if f not in compared]
    if update_fields and connections[router.db_for_write(model)].vendor == "postgresql":
        result, unchanged, inserted = _copy_upsert(model, by_key, unique_fields, update_fields, compared)
    else:
        result, unchanged, inserted = _compare_and_write(model, by_key, unique_fields, update_fields, compared, batch_size)
    if touch_unchanged and unchanged and stamped:
        model.objects.filter(pk__in=[row.pk for row in unchanged]).update(
            **{f: meta.get_field(f).pre_save(unchanged[0], False) for f in stamped}
        )
    result.bad_records = bad
    result.seen = {meta.label: {row.pk for row in rows}}
    left = {id(row) for row in unchanged}
    result.written = {row.pk for row in rows if id(row) not in left}
    result.inserted = inserted
    return result, rows


def _compare_and_write(model, by_key: dict, unique_fields, update_fields, compared, batch_size
                       ) -> tuple[UpsertResult, list[models.Model], set]:
    """Any database but PostgreSQL: read the stored values of the page's keys (one query per distinct value of the
    leading key field, usually one), then write only the new and changed rows with one bulk INSERT … ON CONFLICT."""
    meta = model._meta
    compared_attnames = [meta.get_field(f).attname for f in compared]
    stored = _stored_values(model, unique_fields, list(by_key), compared_attnames)
    write, known, unchanged = [], {}, []
    for key, row in by_key.items():
        found = stored.get(key)
        if found is None:
            write.append(row)
        elif found[1] == tuple(getattr(row, a) for a in compared_attnames):
            row.pk = found[0]
            unchanged.append(row)
        else:
            known[id(row)] = found[0]  # set after the write: a row with a pk would be inserted with it
            write.append(row)
    if write:
        model.objects.bulk_create(
            write,
            update_conflicts=True,
            unique_fields=list(unique_fields),
            update_fields=list(update_fields),
            batch_size=batch_size,
        )
        for row in write:
            row.pk = row.pk or known.get(id(row))
        if any(row.pk is None for row in write):
            missing = [key for key, row in by_key.items() if row.pk is None]
            ids = _stored_values(model, unique_fields, missing, [])
            for key in missing:
                by_key[key].pk = ids[key][0]
    inserted = {row.pk for row in write if id(row) not in known}
    return (UpsertResult(created=len(write) - len(known), changed=len(known), unchanged=len(unchanged)), unchanged,
            inserted)


def _copy_upsert(model, by_key: dict, unique_fields, update_fields, compared
                 ) -> tuple[UpsertResult, list[models.Model], set]:
    """PostgreSQL: COPY the page into a temporary table, then one INSERT … SELECT … ON CONFLICT … DO UPDATE … WHERE
    the compared columns are distinct, which rewrites only the rows that changed.

    Django's multi-row INSERT binds every value client-side (and escapes JSON inside UNNEST arrays in
    Python), which made the database side of a page several times slower than fetching it. COPY
    serialises rows in C; the INSERT empties the temporary table as it reads it and RETURNING gives
    the pks and whether each row was inserted; the rows it left alone (unchanged) come from the same
    statement's snapshot of the table joined on the key, so there is no lookup query either: a COPY and
    two statements per call, whatever the number of rows.
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
    compared_columns = [meta.get_field(f).column for f in compared]
    distinct = (
        f"ROW({', '.join(f'{quote(table)}.{quote(c)}' for c in compared_columns)}) IS DISTINCT FROM "
        f"ROW({', '.join(f'EXCLUDED.{quote(c)}' for c in compared_columns)})"
        if compared_columns else "false"
    )
    keys = ", ".join(quote(c) for c in [meta.pk.column, *key_columns])
    stored_keys = ", ".join(f"t.{quote(c)}" for c in [meta.pk.column, *key_columns])
    join = " AND ".join(f"t.{quote(c)} = page.{quote(c)}" for c in key_columns)
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
        # Every part of one statement sees the table as it was before it: the join finds the rows already
        # stored, the written ones (changed or inserted) come from RETURNING.
        cursor.execute(
            f"WITH page AS (DELETE FROM {quote(temp)} RETURNING {column_list}), "  # noqa: S608
            f"written AS (INSERT INTO {quote(table)} ({column_list}) SELECT {column_list} FROM page "
            f"ON CONFLICT ({', '.join(quote(c) for c in key_columns)}) DO UPDATE SET {updates} WHERE {distinct} "
            f"RETURNING {keys}, (xmax = 0) AS inserted) "
            f"SELECT {keys}, inserted, true FROM written UNION ALL "
            f"SELECT {stored_keys}, false, false FROM {quote(table)} t JOIN page ON {join}"
        )
        returned = cursor.fetchall()
    pks: dict[tuple, int] = {}
    written: set[tuple] = set()
    inserted: set = set()
    for r in returned:
        key = tuple(str(v) for v in r[1:-2])
        if r[-1]:
            written.add(key)
            if r[-2]:
                inserted.add(r[0])
            pks[key] = r[0]
        else:
            pks.setdefault(key, r[0])
    unchanged = []
    for key, row in by_key.items():
        normalised = tuple(str(_attvalue(v)) for v in key)
        row.pk = pks[normalised]
        if normalised not in written:
            unchanged.append(row)
    changed = len(written) - len(inserted)
    return UpsertResult(created=len(inserted), changed=changed, unchanged=len(unchanged)), unchanged, inserted


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


def _stored_values(model, unique_fields, keys, attnames) -> dict[tuple, tuple]:
    """For the keys already stored: (pk, the values of ``attnames``), by key (one query per distinct value of the
    leading key field, usually one)."""
    key_attnames = [model._meta.get_field(f).attname for f in unique_fields]
    lead, rest = key_attnames[0], key_attnames[1:]
    found: dict[tuple, tuple] = {}
    groups: dict = {}
    for key in keys:
        groups.setdefault(_attvalue(key[0]), []).append(key)
    width = len(key_attnames)
    for lead_value, group in groups.items():
        if len(rest) == 1:
            qs = model.objects.filter(**{lead: lead_value, f"{rest[0]}__in": [_attvalue(k[1]) for k in group]})
        else:
            qs = model.objects.filter(**{lead: lead_value})
        for row in qs.values_list("pk", *key_attnames, *attnames):
            found[row[1 : width + 1]] = (row[0], row[width + 1 :])
    normalised = {tuple(_attvalue(v) for v in key): key for key in keys}
    return {normalised[k]: value for k, value in found.items() if k in normalised}


def _attvalue(value):
    return value.pk if isinstance(value, models.Model) else value


REMOVE_BATCH = 1000


def mark_unseen_removed(model: type[models.Model], *, connection, seen_before, seen: dict[str, set] | None = None) -> int:
    """After a complete sweep: rows of the connection it did not return are marked removed (kept, not deleted).

    Every swept model has ``last_seen_at`` and ``removed_at``. ``last_seen_at`` is a stamp of the upsert, written
    only with a change, so a row the sweep read again unchanged keeps an older one: ``seen`` (the sweep's
    ``UpsertResult.seen``, the pks of every row it stored, by model label) says which rows it listed. A row
    stamped since ``seen_before`` (created, changed, or read by id meanwhile) is listed too. Without ``seen``,
    the stamp alone decides (every row written by the sweep). Two queries when nothing was removed.
    """
    stale = model.objects.filter(connection=connection, removed_at__isnull=True).filter(
        models.Q(last_seen_at__lt=seen_before) | models.Q(last_seen_at__isnull=True)
    )
    now = timezone.now()
    if seen is None:
        return stale.update(removed_at=now)
    listed = seen.get(model._meta.label, set())
    gone = [pk for pk in stale.values_list("pk", flat=True) if pk not in listed]
    return sum(
        stale.filter(pk__in=gone[start : start + REMOVE_BATCH]).update(removed_at=now)
        for start in range(0, len(gone), REMOVE_BATCH)
    )
