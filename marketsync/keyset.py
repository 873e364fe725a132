"""Keyset pages for every list that can grow: no OFFSET and no COUNT(*), so the millionth row is as fast as
the first.

A list is read in the order of one field and then ``id`` (the order of its index,
``(organization, -field, -id)``); a page's cursors are that pair for its first
and last rows, opaque in the URL. A cursor that is missing or not ours starts
the list at the top, never an error.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils.dateparse import parse_datetime

MAX_CURSOR_LENGTH = 512


@dataclass
class KeysetPage:
    rows: list = field(default_factory=list)
    next_cursor: str = ""  # rows after this page, when there are
    prev_cursor: str = ""  # rows before it, when there are
    is_first: bool = True  # the top of the list


def encode_cursor(value: Any, pk: int) -> str:
    if isinstance(value, datetime):
        typed = ["t", value.isoformat()]
    elif isinstance(value, (Decimal, date)):
        typed = ["s", str(value)]
    else:
        typed = ["v", value]
    return base64.urlsafe_b64encode(json.dumps([*typed, pk]).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[Any, int] | None:
    """(value, id) from a URL, or None when it is missing, too long or not one of ours."""
    if not text or len(text) > MAX_CURSOR_LENGTH:
        return None
    try:
        kind, value, pk = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if kind == "t":
            value = parse_datetime(value)
            if value is None:
                return None
        elif kind not in ("s", "v") or not isinstance(value, (str, int, float, type(None))):
            return None
        if not isinstance(pk, int) or isinstance(pk, bool):
            return None
        return value, pk
    except (ValueError, TypeError, UnicodeDecodeError):
        return None


def ordering(key: str, *, descending: bool) -> list:
    # NULLs read as "first" going down and "last" going up, the same on SQLite and PostgreSQL, matching a
    # DESC index (NULLS FIRST there).
    if descending:
        return [F(key).desc(nulls_first=True), F("id").desc()]
    return [F(key).asc(nulls_last=True), F("id").asc()]


def rows_after(qs: QuerySet, key: str, cursor: tuple[Any, int], *, descending: bool) -> QuerySet:
    """Rows strictly after ``cursor`` in the reading order of ``ordering(key, descending=…)``."""
    value, pk = cursor
    if descending:
        if value is None:
            return qs.filter(Q(**{f"{key}__isnull": True, "id__lt": pk}) | Q(**{f"{key}__isnull": False}))
        # The redundant ``key <= value`` bounds the index range scan.
        return qs.filter(**{f"{key}__lte": value}).filter(Q(**{f"{key}__lt": value}) | Q(**{key: value, "id__lt": pk}))
    if value is None:
        return qs.filter(**{f"{key}__isnull": True, "id__gt": pk})
    return qs.filter(Q(**{f"{key}__gt": value}) | Q(**{key: value, "id__gt": pk}) | Q(**{f"{key}__isnull": True}))


def keyset_page(
    qs: QuerySet, *, key: str, after: str = "", before: str = "", limit: int = 50, descending: bool = True
) -> KeysetPage:
    """One page of ``qs`` in ``key``/``id`` order: ``limit`` rows after (or before) a cursor, in one query."""
    limit = max(1, limit)

    def cursor_of(row) -> str:
        return encode_cursor(getattr(row, key), row.pk)

    before_cursor = decode_cursor(before)
    if before_cursor is not None:
        up = not descending
        rows = list(rows_after(qs, key, before_cursor, descending=up).order_by(*ordering(key, descending=up))[: limit + 1])
        more_before = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        return KeysetPage(
            rows=rows,
            next_cursor=cursor_of(rows[-1]) if rows else "",
            prev_cursor=cursor_of(rows[0]) if rows and more_before else "",
            is_first=not more_before,
        )
    after_cursor = decode_cursor(after)
    if after_cursor is not None:
        qs = rows_after(qs, key, after_cursor, descending=descending)
    rows = list(qs.order_by(*ordering(key, descending=descending))[: limit + 1])
    more_after = len(rows) > limit
    rows = rows[:limit]
    return KeysetPage(
        rows=rows,
        next_cursor=cursor_of(rows[-1]) if more_after else "",
        prev_cursor=cursor_of(rows[0]) if after_cursor is not None and rows else "",
        is_first=after_cursor is None,
    )
