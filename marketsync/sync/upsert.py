"""The one bulk upsert every domain service uses: dedupe by key, two queries per page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import models

from marketsync.sync.registry import UpsertResult


def bulk_upsert(
    model: type[models.Model],
    objs: Iterable[models.Model],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    batch_size: int = 500,
) -> tuple[UpsertResult, list[models.Model]]:
    """Insert or update ``objs`` on their unconditional unique key.

    The batch is deduplicated by key first (the last occurrence wins), since
    PostgreSQL refuses a key twice in one statement. Returns the counts and the
    deduplicated objects, with primary keys set on PostgreSQL and SQLite alike
    (looked up when the database does not return them).
    """
    by_key: dict[tuple, models.Model] = {}
    for obj in objs:
        by_key[tuple(getattr(obj, f) for f in unique_fields)] = obj
    rows = list(by_key.values())
    if not rows:
        return UpsertResult(), []
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
    return UpsertResult(created=len(rows) - updated, updated=updated), rows


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
