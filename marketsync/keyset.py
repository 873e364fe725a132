"""Keyset pages for every list that can grow: no OFFSET and no COUNT(*), so the millionth row is as fast as
the first.

A list is read in the order of one field (or a few) and then ``id`` — the order of its index, e.g.
``(organization, -field, -id)``; a page's cursors are those values for its first and last rows, opaque in
the URL. A cursor that is missing or not ours starts the list at the top, never an error.

``key`` is a field name or a sequence of them. The list runs down (``descending=True``) or up; a name written
``-name`` runs the other way from the rest, for lists such as "newest order first, then its lines in order":
``key=("-placed_at", "order_id"), descending=False``. The ``id`` always runs with the list.
"""

from __future__ import annotations

import base64
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import reduce
from typing import Any

from django import forms
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connections
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

MAX_CURSOR_LENGTH = 512
MAX_KEPT_VALUE = 200  # the longest filter value a pager link carries (no filter field holds more)
CURSOR_PARAMETERS = ("after", "before", "page")  # ``page``: links from before the lists paged by keyset


@dataclass
class KeysetPage:
    rows: list = field(default_factory=list)
    next_cursor: str = ""  # rows after this page, when there are
    prev_cursor: str = ""  # rows before it, when there are
    is_first: bool = True  # the top of the list


class CursorForm(forms.Form):
    """A list page's cursors as the pager's links send them. A cursor that is not ours (too long, a NUL, junk)
    reads as none: the list starts at the top. An old ``?page=N`` is not a field, so it is ignored."""

    after = forms.CharField(required=False, max_length=MAX_CURSOR_LENGTH)
    before = forms.CharField(required=False, max_length=MAX_CURSOR_LENGTH)

    def cursors(self) -> dict[str, str]:
        """``after`` and ``before`` for ``keyset_page``: "" for a missing or unusable one."""
        self.is_valid()
        return {name: "" if name in self.errors else self.cleaned_data.get(name) or "" for name in ("after", "before")}

    def base_query(self, *without: str) -> str:
        """The page's other query parameters (its filters), urlencoded: what the pager's links keep. ``without``
        names more parameters to leave out."""
        query = self.data.copy()
        for name in (*CURSOR_PARAMETERS, *without):
            query.pop(name, None)
        for name in list(query):  # a value no filter holds (a 400-digit paste) is not carried from page to page
            values = [value for value in query.getlist(name) if len(value) <= MAX_KEPT_VALUE]
            if values:
                query.setlist(name, values)
            else:
                query.pop(name)
        return query.urlencode()


def _typed(value: Any) -> list:
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, (Decimal, date)):
        return ["s", str(value)]
    return ["v", value]


def _untyped(kind: Any, value: Any) -> tuple[bool, Any]:
    """(ok, value) of one typed value from a URL."""
    if kind == "t" and isinstance(value, str):
        moment = parse_datetime(value)
        return moment is not None, moment
    if kind in ("s", "v") and isinstance(value, (str, int, float, type(None))) and not isinstance(value, bool):
        return True, value
    return False, None


def encode_cursor(value: Any, pk: int) -> str:
    """A cursor for one key's ``value`` (or, for a key of several fields, a tuple of values) and the row's id."""
    typed = ["k", [_typed(v) for v in value]] if isinstance(value, tuple) else _typed(value)
    return base64.urlsafe_b64encode(json.dumps([*typed, pk]).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[Any, int] | None:
    """(value, id) from a URL — value a tuple for a key of several fields — or None when it is missing, too long
    or not one of ours."""
    if not text or len(text) > MAX_CURSOR_LENGTH:
        return None
    try:
        kind, value, pk = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(pk, int) or isinstance(pk, bool):
            return None
        if kind == "k":
            if not isinstance(value, list) or not all(isinstance(v, list) and len(v) == 2 for v in value):
                return None
            values = [_untyped(*v) for v in value]
            return (tuple(v for _ok, v in values), pk) if values and all(ok for ok, _v in values) else None
        ok, value = _untyped(kind, value)
        return (value, pk) if ok else None
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError):
        return None


def _terms(key: str | Sequence[str], *, descending: bool) -> list[tuple[str, bool]]:
    """(field, runs down) of each field of the reading order, ``id`` last."""
    names = [key] if isinstance(key, str) else list(key)
    return [(name.lstrip("-"), descending != name.startswith("-")) for name in names] + [("id", descending)]


def _order_by(terms: list[tuple[str, bool]]) -> list:
    # NULLs read as "first" going down and "last" going up, the same on SQLite and PostgreSQL, matching a
    # DESC index (NULLS FIRST there).
    return [F(name).desc(nulls_first=True) if down else F(name).asc(nulls_last=True) for name, down in terms]


def ordering(key: str | Sequence[str], *, descending: bool) -> list:
    """The ``order_by`` of a list read by ``key`` then id."""
    return _order_by(_terms(key, descending=descending))


def _nullable(model, name: str) -> bool:
    """Whether ``name`` can be NULL (an annotation or a relation's field is taken to be)."""
    try:
        return model._meta.get_field(name).null
    except FieldDoesNotExist:
        return True


def _beyond(name: str, value: Any, *, down: bool, nullable: bool) -> Q | None:
    """Rows whose ``name`` comes strictly after ``value`` in the reading order (None: no row can)."""
    if down:
        return Q(**{f"{name}__isnull": False}) if value is None else Q(**{f"{name}__lt": value})
    if value is None:
        return None
    return Q(**{f"{name}__gt": value}) | Q(**{f"{name}__isnull": True}) if nullable else Q(**{f"{name}__gt": value})


def _same(name: str, value: Any) -> Q:
    return Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})


def _after(qs: QuerySet, terms: list[tuple[str, bool]], values: Sequence[Any]) -> QuerySet:
    """Rows after ``values`` (one per term): for some term, every earlier term equal and this one beyond."""
    branches, equal = [], Q()
    for (name, down), value in zip(terms, values, strict=True):
        beyond = _beyond(name, value, down=down, nullable=_nullable(qs.model, name))
        if beyond is not None:
            branches.append(equal & beyond)
        equal &= _same(name, value)
    # A redundant bound on the first field (``<=`` going down; ``>=`` going up when it cannot be NULL, NULLs
    # coming last) makes the page one range scan of the index instead of a walk from the top.
    first, down = terms[0]
    if values[0] is not None and (down or not _nullable(qs.model, first)):
        qs = qs.filter(**{f"{first}__{'lte' if down else 'gte'}": values[0]})
    return qs.filter(reduce(operator.or_, branches))


def _values(key: str | Sequence[str], cursor: tuple[Any, int]) -> list[Any] | None:
    """The cursor's values, id last, or None when it does not fit ``key`` (a cursor of another list)."""
    value, pk = cursor
    if isinstance(key, str):
        return None if isinstance(value, tuple) else [value, pk]
    if not isinstance(value, tuple) or len(value) != len(key):
        return None
    return [*value, pk]


def _fits(qs: QuerySet, terms: list[tuple[str, bool]], values: list[Any]) -> list[Any] | None:
    """The cursor's values as the fields they compare with hold them, or None when one cannot be compared: a
    cursor made up to hold a text where a moment goes, a moment the database cannot hold, a number beyond the
    column's range. Such a cursor is not ours: the list starts at the top."""
    connection = connections[qs.db]
    fitted = []
    for (name, _down), value in zip(terms, values, strict=True):
        try:
            field = qs.model._meta.get_field(name)
        except FieldDoesNotExist:  # an annotation: compared as it is
            fitted.append(value)
            continue
        if value is None:
            fitted.append(None)
            continue
        try:
            value = field.to_python(value)
            if isinstance(value, datetime):
                if timezone.is_naive(value):
                    return None
                value.astimezone(UTC)  # year 1 east of Greenwich is out of range once in UTC
            limits = connection.ops.integer_field_ranges.get(field.get_internal_type())
            if limits is not None and not limits[0] <= value <= limits[1]:
                return None
            field.get_db_prep_value(value, connection, prepared=False)
        except (ValidationError, ValueError, TypeError, ArithmeticError):
            return None
        fitted.append(value)
    return fitted


def rows_after(qs: QuerySet, key: str | Sequence[str], cursor: tuple[Any, int], *, descending: bool) -> QuerySet:
    """Rows strictly after ``cursor`` — (value, id), value a tuple for several fields — in the reading order of
    ``ordering(key, descending=…)``."""
    values = _values(key, cursor)
    if values is None:
        raise ValueError(f"a cursor that does not fit the key {key!r}")
    return _after(qs, _terms(key, descending=descending), values)


def keyset_page(
    qs: QuerySet, *, key: str | Sequence[str], after: str = "", before: str = "", limit: int = 50, descending: bool = True
) -> KeysetPage:
    """One page of ``qs`` in ``key``/``id`` order: ``limit`` rows after (or before) a cursor, in one query."""
    limit = max(1, limit)
    names = None if isinstance(key, str) else [name.lstrip("-") for name in key]
    terms = _terms(key, descending=descending)

    def cursor_of(row) -> str:
        if names is None:
            return encode_cursor(getattr(row, key), row.pk)
        return encode_cursor(tuple(getattr(row, name) for name in names), row.pk)

    def position(text: str) -> list[Any] | None:
        cursor = decode_cursor(text)
        values = _values(key, cursor) if cursor is not None else None
        return _fits(qs, terms, values) if values is not None else None

    before_values = position(before)
    if before_values is not None:
        up = [(name, not down) for name, down in terms]
        rows = list(_after(qs, up, before_values).order_by(*_order_by(up))[: limit + 1])
        more_before = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        return KeysetPage(
            rows=rows,
            next_cursor=cursor_of(rows[-1]) if rows else "",
            prev_cursor=cursor_of(rows[0]) if rows and more_before else "",
            is_first=not more_before,
        )
    after_values = position(after)
    if after_values is not None:
        qs = _after(qs, terms, after_values)
    rows = list(qs.order_by(*_order_by(terms))[: limit + 1])
    more_after = len(rows) > limit
    rows = rows[:limit]
    return KeysetPage(
        rows=rows,
        next_cursor=cursor_of(rows[-1]) if more_after else "",
        prev_cursor=cursor_of(rows[0]) if after_values is not None and rows else "",
        is_first=after_values is None,
    )
