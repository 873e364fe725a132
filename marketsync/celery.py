"""The Celery app. The beat schedule has one entry per sync entity."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketsync.settings")

app = Celery("marketsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["marketsync.sync", "connections", "orders", "offers", "listings", "backship", "inventory"])


@app.on_after_finalize.connect
def _install_beat_schedule(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    from marketsync.sync.schedule import beat_schedule, interval_schedule

    sender.conf.beat_schedule = {
        **beat_schedule(),
        # Brick Owl's catalog: each tick looks up a bounded number of new BOIDs; the colour list and old answers
        # are read again after BRICKOWL_CATALOG_REFRESH_SECONDS.
        "brickowl-catalog": {
            "task": "inventory.brickowl_catalog_refresh",
            "schedule": interval_schedule(settings.SYNC_INTERVAL_SECONDS),
            "options": {"expires": settings.SYNC_INTERVAL_SECONDS},
        },
        # Ship batch rows a killed worker left "sending": re-read at the marketplace, then shipped or queued again.
        "ship-batch-sweep": {
            "task": "orders.ship_batch_sweep",
            "schedule": interval_schedule(settings.SYNC_INTERVAL_SECONDS),
            "options": {"expires": settings.SYNC_INTERVAL_SECONDS},
        },
        # Stock pushes left over (a lost on-commit task, a retry now due, the broker down at commit).
        "stock-push-sweep": {
            "task": "inventory.stock_push_drain",
            "schedule": interval_schedule(settings.STOCK_PUSH_SWEEP_SECONDS),
            "options": {"expires": settings.STOCK_PUSH_SWEEP_SECONDS},
        },
    }


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _redact_worker_logs(logger, **kwargs) -> None:
    """A worker replaces the root logger's handlers with its own: give them the redacting filter again."""
    from marketsync.redaction import RedactingFilter

    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
