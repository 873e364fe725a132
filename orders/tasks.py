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


@shared_task(name="orders.ship_batch", ignore_result=True)
def ship_batch(batch_id: int) -> None:
    """Push each queued order of a ship batch to its marketplace (``orders.bulk_ship.ship_batch_run``)."""
    from orders.bulk_ship import ship_batch_run
    from orders.models import ShipBatch

    batch = ShipBatch.objects.filter(pk=batch_id).first()
    if batch is not None:
        ship_batch_run(batch=batch)


@shared_task(name="orders.ship_batch_sweep", ignore_result=True)
def ship_batch_sweep() -> None:
    """Beat: recover ship batch rows a killed worker left "sending" (``orders.bulk_ship.ship_batch_sweep``), then
    run again the batches whose rows the re-read showed not shipped."""
    from orders.bulk_ship import ship_batch_sweep as sweep

    for batch_id in sorted(sweep().batches):
        ship_batch.delay(batch_id)
