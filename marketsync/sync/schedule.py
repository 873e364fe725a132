"""The static beat schedule: one dispatcher entry per entity (what a tick does: ``services.entity_sync_dispatch``)."""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab
from django.conf import settings

from marketsync.marketplaces import Entity


def interval_schedule(seconds: int):
    """A crontab on round minutes when the interval allows it, so ticks line up across restarts."""
    if seconds % 60 == 0 and 3600 % seconds == 0:
        minutes = seconds // 60
        return crontab(minute="*" if minutes == 1 else f"*/{minutes}")
    return timedelta(seconds=seconds)


def beat_schedule() -> dict:
    """One dispatcher per entity. A dispatcher never expires: it is cheap and idempotent (rows already waiting are
    skipped), so one that runs late behind a long queue still carries the tick's work instead of dropping it."""
    interval = settings.SYNC_INTERVAL_SECONDS
    return {
        f"sync-{entity.value}": {
            "task": "marketsync.sync.dispatch_entity",
            "schedule": interval_schedule(interval),
            "args": [entity.value],
        }
        for entity in Entity
    }
