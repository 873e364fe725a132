"""Does a row fit its table? One check, derived from the model's own fields, run before a row reaches the database.

A marketplace can send anything: an amount of 10^11, a quantity of 10^12 or -4, a colour id of 40 characters,
a NUL byte, ``1e400``. Any of these used to fail the whole page's write (or, on SQLite, store what PostgreSQL
would refuse). ``fit_row`` names the first column a row's value does not fit, in the terms of that column, so
the storing service can skip that record (and its items) as a named bad record and store the rest.

The limits are PostgreSQL's (production), applied the same on SQLite (tests, ``make run``), so a record is
refused in development exactly when production would refuse it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache

from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations

# PostgreSQL's integer column ranges (SQLite would take any 64-bit value, then PostgreSQL would not).
INTEGER_RANGES = BaseDatabaseOperations.integer_field_ranges
# A JSON text escape of U+0000 that is not itself an escaped backslash followed by "u0000".
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")

Check = Callable[[object], str | None]


def shown(value: object, limit: int = 40) -> str:
    """A value as an error message may show it: printable (NUL as \\x00), cut at ``limit`` characters."""
    if isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value) if isinstance(value, (int, Decimal, float)) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit_row(obj: models.Model) -> str | None:
    """Fit a row to its table: the first column value the database would refuse, as "field value why", or None.

    A row that fits has its decimals rounded to their columns' places, as the database stores them (the same
    on SQLite as on PostgreSQL). Foreign keys and the primary key are ours, not the marketplace's: not checked.
    """
    for attname, check in _checks(type(obj)):
        value = getattr(obj, attname)
        problem = check(value)
        if problem:
            return problem
    for attname, places in _decimal_places(type(obj)):
        value = getattr(obj, attname)
        if value is not None:
            setattr(obj, attname, _rounded(value, places))
    return None


def _rounded(value: object, places: int) -> Decimal:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(Decimal(1).scaleb(-places))  # half to even, as round() did


@cache
def _decimal_places(model: type[models.Model]) -> tuple[tuple[str, int], ...]:
    return tuple((f.attname, f.decimal_places) for f in model._meta.concrete_fields if isinstance(f, models.DecimalField))


@cache
def _checks(model: type[models.Model]) -> tuple[tuple[str, Check], ...]:
    checks = []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.is_relation:
            continue
        check = _check_for(field)
        if check is not None:
            checks.append((field.attname, check))
    return tuple(checks)


def _check_for(field: models.Field) -> Check | None:
    name = field.name
    # NULL where the column refuses it (auto_now columns are filled on save).
    required = not field.null and not getattr(field, "auto_now", False) and not getattr(field, "auto_now_add", False)

    def missing(value: object) -> str | None:
        return f"{name} is missing" if required else None

    if isinstance(field, models.JSONField):
        inner = _json_check(name, field.encoder)
    elif isinstance(field, (models.CharField, models.TextField)):
        inner = _text_check(name, field.max_length if isinstance(field, models.CharField) else None)
    elif isinstance(field, models.DecimalField):
        inner = _decimal_check(name, field.max_digits, field.decimal_places)
    elif isinstance(field, models.IntegerField):
        inner = _integer_check(name, INTEGER_RANGES.get(field.get_internal_type(), INTEGER_RANGES["BigIntegerField"]))
    elif isinstance(field, models.FloatField):
        inner = _float_check(name)
    elif isinstance(field, models.DateTimeField):
        inner = _datetime_check(name)
    else:
        return None

    def check(value: object) -> str | None:
        return missing(value) if value is None else inner(value)

    return check


def _text_check(name: str, max_length: int | None) -> Check:
    def check(value: object) -> str | None:
        text = value if isinstance(value, str) else str(value)
        if max_length is not None and len(text) > max_length:
            return f"{name} {shown(text, 24)} is {len(text)} characters, longer than the column holds (max {max_length})"
        if "\x00" in text:
            return f"{name} {shown(text)} contains a NUL character, which the database cannot store"
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return f"{name} {shown(text)} is not valid Unicode (a lone surrogate)"
        return None

    return check


def _decimal_check(name: str, max_digits: int, decimal_places: int) -> Check:
    whole_digits = max_digits - decimal_places

    def check(value: object) -> str | None:
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value))
        except (InvalidOperation, ValueError):
            return f"{name} {shown(value)} is not a number"
        if not number.is_finite():
            return f"{name} {shown(value)} is not a finite number"
        # Digits before the point (adjusted() is the exponent of the first digit), also once rounded to the
        # column's places (9999999999.99995 becomes 10000000000.0000).
        if number and (number.adjusted() >= whole_digits or _rounded(number, decimal_places).adjusted() >= whole_digits):
            return f"{name} {shown(number)} has more digits than the column holds (max {whole_digits} before the point)"
        return None

    return check


def _integer_check(name: str, bounds: tuple[int, int]) -> Check:
    low, high = bounds

    def check(value: object) -> str | None:
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            return f"{name} {shown(value)} is not a whole number"
        if number < 0 <= low:
            return f"{name} {number} is negative, which the column does not hold"
        if not low <= number <= high:
            return f"{name} {shown(number)} is out of the column's range ({low} to {high})"
        return None

    return check


def _float_check(name: str) -> Check:
    def check(value: object) -> str | None:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            return f"{name} {shown(value)} is not a number"
        return None if math.isfinite(number) else f"{name} {shown(value)} is not a finite number"

    return check


def _datetime_check(name: str) -> Check:
    def check(value: object) -> str | None:
        if not isinstance(value, datetime):
            return None  # a date or a string: Django converts it, or says what is wrong
        try:
            (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        except OverflowError:
            return f"{name} {shown(value)} is outside the range of dates the database can store"
        return None

    return check


def _json_check(name: str, encoder: type[json.JSONEncoder] | None) -> Check:
    def check(value: object) -> str | None:
        try:
            text = json.dumps(value, cls=encoder, allow_nan=False, ensure_ascii=False)
        except ValueError:
            return f"{name} holds a number JSON cannot store (infinite, not a number, or too long)"
        except (TypeError, RecursionError):
            return f"{name} holds a value that is not JSON"
        if "\\u0000" in text and _JSON_NUL.search(text):
            return f"{name} holds a NUL character, which the database cannot store in JSON"
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return f"{name} holds text that is not valid Unicode (a lone surrogate)"
        return None

    return check
