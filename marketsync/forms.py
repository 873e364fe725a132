"""What the apps' forms share: the valid part of a list's filters, a yes/no switch, and the one bounded way to read
a day or a moment that a person (a page, a command) gives."""

from __future__ import annotations

import copy
from datetime import date, datetime, time

from django import forms
from django.forms.boundfield import BoundField
from django.forms.fields import InvalidJSONInput
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

# The days a person can mean. Beyond them a date is junk, and the ends of the calendar overflow Python's datetime
# once a day is added to them or they are moved to UTC (9999-12-31 + 1 day; year 1 east of Greenwich).
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
DAY_RANGE = f"Give a date between {EARLIEST_DAY} and {LATEST_DAY}."


# The most of a text a form shows back: a field's own max_length, else this (a 400-digit paste is not echoed).
SHOWN_BACK_MAX = 200


class ShownBackBoundField(BoundField):
    """A field drawn again with what was typed, cut to what the field holds: a value too long for the field is
    named in its error ("at most 20 characters"), never echoed in full into the page."""

    def as_widget(self, widget=None, attrs=None, only_initial=False):
        widget = widget or self.field.widget
        if self.form.is_bound and self.errors and getattr(widget, "input_type", "") == "date":
            # A browser's date box cannot show "2026-13-45": show what was typed as text beside its error.
            widget = copy.copy(widget)
            widget.input_type = "text"
        return super().as_widget(widget=widget, attrs=attrs, only_initial=only_initial)

    def value(self):
        value = super().value()
        if isinstance(value, str):
            limit = min(getattr(self.field, "max_length", None) or SHOWN_BACK_MAX, SHOWN_BACK_MAX)
            if len(value) > limit:
                return value[:limit]
        return value


class FilterForm(forms.Form):
    """A list page's filters (a GET form). A value that does not fit is named beside its field and left out, so
    the list still shows; an unbound form (no query) filters nothing. A value too long is shown back cut to the
    field's length."""

    bound_field_class = ShownBackBoundField
    # A from/to pair of day fields, checked together: a "to" before the "from" is named and both filter nothing.
    day_range: tuple[str, str] | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # Django's own message echoes the value, however long
            if "invalid_choice" in field.error_messages:
                field.error_messages["invalid_choice"] = "Select a valid choice. That is not one of those offered."

    def valid_data(self) -> dict:
        """The fields given and valid, cleaned; a field in error is absent."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if name not in self.errors}

    def clean(self):
        data = super().clean()
        if self.day_range:
            start, end = self.day_range
            first, last = data.get(start), data.get(end)
            if first and last and first > last:
                self.add_error(end, "The end date is before the start date.")
                data.pop(start, None)
        return data


FLAG_ON = ("1", "true", "on")


class FlagInput(forms.CheckboxInput):
    def value_from_datadict(self, data, files, name) -> bool:
        return str(data.get(name, "")).strip().lower() in FLAG_ON


class FlagField(forms.BooleanField):
    """A yes/no switch of a query string, as the pages have always read one: on for ``1``, ``true`` or ``on``
    (what a checkbox sends), off for anything else (``0`` too, which a plain BooleanField reads as on)."""

    widget = FlagInput

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)


class JSONField(forms.JSONField):
    """Django's JSON form field, refusing JSON nested past what the parser follows (a RecursionError, not a
    ValueError, out of ``json.loads``) as it refuses any other invalid JSON."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid", params={"value": "…"}) from None

    def bound_data(self, data, initial):  # the form shown again with the invalid text
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)


def day_start(day: date) -> datetime:
    """The first moment of a calendar day in the current time zone (a "to" day filters up to the next day's)."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


class DayField(forms.DateField):
    """A calendar day (YYYY-MM-DD) from ``EARLIEST_DAY`` to ``LATEST_DAY``."""

    default_error_messages = {"invalid": "Enter a valid date. Give it as YYYY-MM-DD, e.g. 2026-11-30.", "out_of_range": DAY_RANGE}

    def validate(self, value):
        super().validate(value)
        if value is not None and not EARLIEST_DAY <= value <= LATEST_DAY:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")


class MomentField(forms.Field):
    """An instant, as an ISO date-time with its offset (``2026-11-01T12:00:00+00:00``), from ``EARLIEST_DAY`` to
    ``LATEST_DAY``. With ``local=True`` a day (``2026-11-01``, its midnight) or a date-time without an offset is
    read in the current time zone too. The cleaned value is an aware datetime (None when empty)."""

    default_error_messages = {
        "invalid": "Give the moment as an ISO date-time with its offset, e.g. 2026-11-01T12:00:00+00:00.",
        "invalid_local": "Give a date (YYYY-MM-DD) or an ISO date-time, e.g. 2026-11-01 or 2026-11-01T12:00:00+00:00.",
        "out_of_range": DAY_RANGE,
    }
    MAX_LENGTH = 64

    def __init__(self, *, local: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.local = local

    def to_python(self, value):
        text = "" if value is None else str(value).strip()
        if not text:
            return None
        invalid = forms.ValidationError(self.error_messages["invalid_local" if self.local else "invalid"], code="invalid")
        try:  # a well-formed but impossible date (2026-13-45) raises rather than returning None
            moment = parse_datetime(text) if len(text) <= self.MAX_LENGTH else None
            day = parse_date(text) if moment is None and self.local and len(text) <= self.MAX_LENGTH else None
        except ValueError:
            raise invalid from None
        if moment is None and day is not None:
            moment = datetime.combine(day, time.min)
        if moment is None or (timezone.is_naive(moment) and not self.local):
            raise invalid
        if not EARLIEST_DAY <= moment.date() <= LATEST_DAY:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return timezone.make_aware(moment, timezone.get_current_timezone()) if timezone.is_naive(moment) else moment
