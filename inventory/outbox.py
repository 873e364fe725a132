"""The stock push's outbox side: queue a push in the transaction that changed a stock item (``services._move``,
``services._link_write``); ``inventory/push.py`` drains it."""

from __future__ import annotations

import logging

from celery import current_app
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from inventory.models import InventoryItem, StockPush
from inventory.selectors import LINK_KINDS

logger = logging.getLogger(__name__)

TRIGGER_MAX = 255


def stock_push_enqueue(*, item_id: int, trigger: str, row: tuple[str, int] | None = None, forced: bool = False) -> int:
    """Queue a push of the item's available quantity to each of its live linked rows on a connection with stock push
    on (``row``: only that one (kind, id); ``forced``: an owner's reconcile, sent even while stock push is off).
    Call inside the transaction that changed the item. Returns how many rows were queued or absorbed."""
    item = InventoryItem.objects.filter(pk=item_id).values("organization_id", "quantity_on_hand", "quantity_reserved").first()
    if item is None:
        return 0
    push_on = Q() if forced else Q(connection__stock_push=True)
    targets: list[tuple[str, int, int, str]] = []
    for kind in LINK_KINDS.values():
        if row is not None and row[0] != kind.name:
            continue
        qs = kind.model.objects.filter(push_on, **{f"{kind.link}_id": item_id}, removed_at__isnull=True)
        if row is not None:
            qs = qs.filter(pk=row[1])
        targets += [(kind.name, pk, conn, ext) for pk, conn, ext in qs.values_list("pk", "connection_id", "external_id")]
    if not targets:
        return 0
    wanted = max(0, item["quantity_on_hand"] - item["quantity_reserved"])
    now = timezone.now()
    trigger = trigger[:TRIGGER_MAX]
    for kind_name, pk, connection_id, external_id in targets:
        waiting = StockPush.objects.filter(target_kind=kind_name, target_id=pk, state=StockPush.State.PENDING)
        absorb = {"changes": F("changes") + 1, "wanted_quantity": wanted, "trigger": trigger, "item_id": item_id}
        if forced:
            absorb["forced"] = True
        if waiting.update(**absorb):
            continue
        try:
            with transaction.atomic():
                StockPush.objects.create(
                    organization_id=item["organization_id"], connection_id=connection_id, item_id=item_id,
                    target_kind=kind_name, target_id=pk, external_id=external_id[:64], trigger=trigger,
                    wanted_quantity=wanted, next_attempt_at=now, forced=forced,
                )
        except IntegrityError:  # another transaction queued it first
            waiting.update(**absorb)
    organization_id = item["organization_id"]
    transaction.on_commit(lambda: _drain_soon(organization_id))
    return len(targets)


def _drain_soon(organization_id: int) -> None:
    try:  # by name: the task's module imports the write helper, which imports the engine, which imports this app
        current_app.send_task("inventory.stock_push_drain", args=[organization_id])
    except Exception:  # the broker is down: the beat sweep sends it
        logger.warning("could not enqueue the stock push of organization %s; the sweep will", organization_id, exc_info=True)
