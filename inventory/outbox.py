"""The stock push's outbox side: queue a push in the transaction that changed a stock item (``services._moves``,
``services._link_write``); ``inventory/push.py`` drains it."""

from __future__ import annotations

import logging
from functools import reduce
from operator import or_

from celery import current_app
from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, F, Q, Value, When
from django.utils import timezone

from inventory.models import InventoryItem, StockPush
from inventory.selectors import LINK_KINDS

logger = logging.getLogger(__name__)

TRIGGER_MAX = 255
# Waiting rows absorbed by one UPDATE (each gets its own values: a statement's parameters are bounded).
ABSORB_CHUNK = 500


def stock_push_enqueue(*, item_id: int, trigger: str, row: tuple[str, int] | None = None, forced: bool = False) -> int:
    """Queue a push of the item's available quantity to each of its live linked rows on a connection with stock push
    on (``row``: only that one (kind, id); ``forced``: an owner's reconcile, sent even while stock push is off).
    Call inside the transaction that changed the item. Returns how many rows were queued or absorbed."""
    return stock_push_enqueue_items(triggers={item_id: (trigger, 1)}, row=row, forced=forced)


def stock_push_enqueue_items(*, triggers: dict[int, tuple[str, int]], row: tuple[str, int] | None = None,
                             forced: bool = False) -> int:
    """``stock_push_enqueue`` for several items at once, in a constant number of queries: ``triggers`` maps each
    changed item to its last change's trigger and how many changes it had (a waiting row absorbs them all).
    Call inside the transaction that changed the items; waiting rows are locked in pk order."""
    push_on = Q() if forced else Q(connection__stock_push=True)
    targets: dict[tuple[str, int], tuple[int, str, int]] = {}  # (kind, row id) -> (connection, external id, item)
    for kind in LINK_KINDS.values():
        if row is not None and row[0] != kind.name:
            continue
        qs = kind.model.objects.filter(push_on, **{f"{kind.link}_id__in": list(triggers)}, removed_at__isnull=True)
        if row is not None:
            qs = qs.filter(pk=row[1])
        for pk, connection_id, external_id, item_id in qs.values_list("pk", "connection_id", "external_id", f"{kind.link}_id"):
            targets[(kind.name, pk)] = (connection_id, external_id, item_id)
    if not targets:
        return 0
    items = {i["pk"]: i for i in InventoryItem.objects.filter(pk__in={t[2] for t in targets.values()}).values(
        "pk", "organization_id", "quantity_on_hand", "quantity_reserved")}
    wanted = {pk: max(0, i["quantity_on_hand"] - i["quantity_reserved"]) for pk, i in items.items()}
    now = timezone.now()
    remaining = dict(targets)
    for attempt in range(2):
        # The waiting rows, held so the drain cannot close one between this read and the absorbing UPDATE.
        by_kind: dict[str, list[int]] = {}
        for kind_name, pk in remaining:
            by_kind.setdefault(kind_name, []).append(pk)
        waiting = {
            (kind_name, target_id): pk for pk, kind_name, target_id in StockPush.objects.select_for_update().filter(
                reduce(or_, (Q(target_kind=kind_name, target_id__in=pks) for kind_name, pks in by_kind.items())),
                state=StockPush.State.PENDING,
            ).order_by("pk").values_list("pk", "target_kind", "target_id")
        }
        absorbed = [(pk, remaining[key][2]) for key, pk in waiting.items()]  # push row, its item now
        for start in range(0, len(absorbed), ABSORB_CHUNK):
            chunk = absorbed[start:start + ABSORB_CHUNK]
            absorb = {
                "changes": Case(*[When(pk=pk, then=F("changes") + triggers[item_id][1]) for pk, item_id in chunk]),
                "wanted_quantity": Case(*[When(pk=pk, then=Value(wanted[item_id])) for pk, item_id in chunk]),
                "trigger": Case(*[When(pk=pk, then=Value(triggers[item_id][0][:TRIGGER_MAX])) for pk, item_id in chunk],
                                output_field=CharField()),
                "item_id": Case(*[When(pk=pk, then=Value(item_id)) for pk, item_id in chunk]),
            }
            if forced:
                absorb["forced"] = True
            StockPush.objects.filter(pk__in=[pk for pk, _ in chunk]).update(**absorb)
        fresh = {key: target for key, target in remaining.items() if key not in waiting}
        if not fresh:
            break
        try:
            with transaction.atomic():
                StockPush.objects.bulk_create([
                    StockPush(organization_id=items[item_id]["organization_id"], connection_id=connection_id, item_id=item_id,
                              target_kind=kind_name, target_id=pk, external_id=external_id[:64],
                              trigger=triggers[item_id][0][:TRIGGER_MAX], wanted_quantity=wanted[item_id],
                              changes=triggers[item_id][1], next_attempt_at=now, forced=forced)
                    for (kind_name, pk), (connection_id, external_id, item_id) in fresh.items()
                ])
            break
        except IntegrityError:  # another transaction queued one of them first: absorb into it, once more
            if attempt:
                raise
            remaining = fresh
    organization_ids = {i["organization_id"] for i in items.values()}
    for organization_id in organization_ids:
        transaction.on_commit(lambda organization_id=organization_id: _drain_soon(organization_id))
    return len(targets)


def _drain_soon(organization_id: int) -> None:
    try:  # by name: the task's module imports the write helper, which imports the engine, which imports this app
        current_app.send_task("inventory.stock_push_drain", args=[organization_id])
    except Exception:  # the broker is down: the beat sweep sends it
        logger.warning("could not enqueue the stock push of organization %s; the sweep will", organization_id, exc_info=True)
