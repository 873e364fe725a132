"""Inventory's Celery tasks: Brick Owl's catalog run and the stock push drain (both on the beat, ``marketsync/celery.py``)."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from inventory.catalog_sync import catalog_refresh
from inventory.push import stock_push_drain


@shared_task(name="inventory.brickowl_catalog_refresh", ignore_result=True)
def brickowl_catalog_refresh_task() -> dict:
    """Cheap when nothing is due (no call at all); marketplace errors are reported in the result, not raised."""
    return asdict(catalog_refresh())


@shared_task(name="inventory.stock_push_drain", ignore_result=True)
def stock_push_drain_task(organization_id: int | None = None) -> dict:
    """Send the due stock pushes (enqueued on commit of each ledger step; the beat sweeps with no organization).
    Failures are kept on the push rows and retried there, never raised. Out of time (the soft limit), the push in
    flight waits for its retry and another drain is enqueued for the rest."""
    try:
        return asdict(stock_push_drain(organization_id=organization_id))
    except SoftTimeLimitExceeded:
        stock_push_drain_task.delay(organization_id)
        return {"stopped": "time limit"}
