"""Background retries of order writes a marketplace did not answer."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="orders.retry_order_write", ignore_result=True)
def retry_order_write(pending_id: int) -> None:
    """One retry (``orders.fulfilment.pending_write_retry``); still pending afterwards: try again later, with backoff."""
    from orders.fulfilment import pending_write_retry, retry_delay
    from orders.models import PendingOrderWrite

    pending = PendingOrderWrite.objects.select_related("order__connection").filter(pk=pending_id).first()
    if pending is None:
        return
    pending = pending_write_retry(pending=pending)
    if pending.state == PendingOrderWrite.State.PENDING:
        retry_order_write.apply_async((pending.pk,), countdown=retry_delay(pending.attempts))
