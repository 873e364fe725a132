"""Follow a Back Market bulk listing task until it succeeds, fails or times out."""

from __future__ import annotations

import logging

from celery import shared_task

from listings.models import BulkListingTask
from listings.writes import bulk_listing_poll, bulk_poll_seconds
from marketsync.sync.errors import AuthError, MarketplaceError

logger = logging.getLogger(__name__)
OPEN = (BulkListingTask.Status.SUBMITTED, BulkListingTask.Status.PENDING)


@shared_task(name="listings.poll_bulk_listing_task", ignore_result=True)
def poll_bulk_listing_task(task_id: int) -> str:
    """One poll; re-enqueues itself while the task is open. A transient failure counts as a pending poll."""
    task = BulkListingTask.objects.select_related("connection").filter(pk=task_id).first()
    if task is None or task.status not in OPEN:
        return task.status if task else "missing"
    try:
        task = bulk_listing_poll(task=task)
    except AuthError as exc:
        BulkListingTask.objects.filter(pk=task_id).update(status=BulkListingTask.Status.FAILURE, error=str(exc))
        return BulkListingTask.Status.FAILURE
    except MarketplaceError as exc:
        logger.warning("bulk task %s: poll failed, will retry: %s", task_id, exc)
        BulkListingTask.objects.filter(pk=task_id).update(error=f"Last poll failed: {exc}")
    task.refresh_from_db()
    if task.status in OPEN:
        poll_bulk_listing_task.apply_async(args=[task_id], countdown=bulk_poll_seconds())
    return task.status
