"""Work a push notification asks for, run by a worker so the webhook answers at once."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="marketsync.webhooks.bricklink_notifications", ignore_result=True)
def bricklink_notifications_task(connection_id: int, order_ids: list[str] | None = None) -> list[str]:
    """``GET /notifications`` and refresh each order named there (and in the callback body, if any) once;
    returns the order ids refreshed."""
    from connections.budget import budget_admission
    from connections.models import Connection
    from marketsync.marketplaces.bricklink.mapping import notified_order_ids
    from marketsync.sync.clients import marketplace_client
    from marketsync.sync.errors import MarketplaceError, NotFound
    from marketsync.sync.http import build_http_client
    from marketsync.sync.refresh import record_refresh

    connection = Connection.objects.filter(pk=connection_id, marketplace="bricklink", enabled=True).first()
    if connection is None:
        return []
    reason = budget_admission(connection, "orders")
    if reason:
        logger.info("BrickLink notification for connection %s not processed: %s", connection_id, reason)
        return []
    refreshed: list[str] = []
    try:
        with build_http_client() as http:
            notes = marketplace_client(connection, http).notifications()
            wanted = list(dict.fromkeys([str(o) for o in order_ids or []] + notified_order_ids(notes)))
            for order_id in wanted:
                try:
                    record_refresh(connection=connection, entity="orders", external_id=order_id, http=http)
                except NotFound:
                    logger.info("BrickLink notification for order %s, which is gone", order_id)
                    continue
                refreshed.append(order_id)
    except MarketplaceError as exc:
        logger.warning("BrickLink notifications for connection %s failed: %s", connection_id, exc)
    return refreshed
