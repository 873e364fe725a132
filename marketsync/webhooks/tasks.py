"""Work a push notification asks for, run by a worker so the webhook answers at once."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="marketsync.webhooks.bricklink_notifications", ignore_result=True)
def bricklink_notifications_task(connection_id: int, order_ids: list[str] | None = None) -> list[str]:
    """``GET /notifications`` and refresh the orders named there (and in the callback body, if any)."""
    from connections.budget import budget_admission
    from connections.models import Connection
    from marketsync.marketplaces.bricklink.entities import process_notifications
    from marketsync.sync.errors import MarketplaceError
    from marketsync.sync.http import build_http_client

    connection = Connection.objects.filter(pk=connection_id, marketplace="bricklink", enabled=True).first()
    if connection is None:
        return []
    reason = budget_admission(connection, "orders")
    if reason:
        logger.info("BrickLink notification for connection %s not processed: %s", connection_id, reason)
        return []
    try:
        with build_http_client() as http:
            return process_notifications(connection, http, extra_order_ids=order_ids or [])
    except MarketplaceError as exc:
        logger.warning("BrickLink notifications for connection %s failed: %s", connection_id, exc)
        return []


@shared_task(name="marketsync.webhooks.refresh_order", ignore_result=True)
def refresh_order_task(connection_id: int, order_id: str) -> None:
    """Re-read one order (Brick Owl notify); failures are logged, polling catches up."""
    from connections.models import Connection
    from marketsync.sync.errors import MarketplaceError
    from marketsync.sync.refresh import record_refresh

    connection = Connection.objects.filter(pk=connection_id, enabled=True).first()
    if connection is None:
        return
    try:
        record_refresh(connection=connection, entity="orders", external_id=order_id)
    except MarketplaceError as exc:
        logger.warning("refresh of order %s on connection %s failed: %s", order_id, connection_id, exc)
