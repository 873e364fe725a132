"""How the sync health pages write a moment: "just now" within a minute, else "5 minutes ago"."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


def time_ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``timesince`` as a phrase, where less than a minute (or a moment a clock skew puts ahead) is "just now"."""
    if moment is None:
        return ""
    now = now or timezone.now()
    if now - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, now)} ago"


@register.filter
def ago(moment: datetime | None) -> str:
    return time_ago(moment)
