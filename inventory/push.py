"""The stock push: every lot, listing and offer linked to a stock item shows the item's available quantity.

1. ``outbox.stock_push_enqueue`` runs inside the ledger step (``services._moves``) or the link change
   (``services._link_write``): one outbox row (``StockPush``) per linked row on a connection whose stock push is
   on, in the same transaction, so a committed change always has its push and a rolled-back one never does.
   A row already waiting absorbs the change (``changes`` + 1): many changes of one listing become one call.
2. ``stock_push_drain`` (the Celery task enqueued on commit, the beat sweep, ``manage.py inventory push``) claims
   due rows and sends each through ``marketplace_write`` (audited from intent to outcome), the item's available
   quantity *now* less the units sold at that marketplace that marketsync has not seen yet (``Plan``), never more
   than available, never below 0 — and a quantity of 0 never deletes anything: BrickLink keeps the lot
   (``is_retain``), Back Market takes the listing offline, Refurbed keeps the offer at stock 0.
3. BrickLink's ``quantity`` is a signed delta. The lot is re-read before every delta: a sale at BrickLink, or an
   earlier attempt whose outcome is unknown (sent, then a crash before recording), already changed it, and a
   delta against a stale figure would apply twice. Brick Owl, Back Market and Refurbed take absolute quantities,
   which repeating cannot harm.
4. Transient errors retry with backoff; an auth error marks the connection's sync as refused (as a sync does),
   which stops every push of that connection until its credentials are replaced; a refusal of the request itself
   fails that push for good (shown on the item's page).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connections.budget import api_calls_for, budget_admission
from connections.models import Connection, EntitySync
from inventory.models import InventoryItem, InventoryLot, StockPush
from inventory.outbox import stock_push_enqueue
from inventory.selectors import LINK_KINDS, MARKETPLACE_LINK_KIND, units_sold_on_connection_since
from inventory.services import stock_lock_organization
from listings.models import Listing
from marketsync.marketplaces import Entity
from marketsync.marketplaces.brickowl.client import BATCH_LIMIT as BRICKOWL_BATCH_LIMIT
from marketsync.marketplaces.refurbed.client import BATCH_LIMIT as REFURBED_BATCH_LIMIT
from marketsync.sync.errors import AuthError, InvalidRequest, NotFound
from marketsync.sync.writes import WriteRefused, WriteTarget, connection_write_problem, marketplace_write
from offers.models import Offer

logger = logging.getLogger(__name__)

# The entity sync whose refusal (auth) stops a connection's pushes, as it stops that sync.
PUSH_ENTITY = {"bricklink": "inventory", "brickowl": "inventory", "backmarket": "listings", "refurbed": "offers"}


# A sync stamps ``last_seen_at`` after its read: an order seen in between counts as seen since the read.
READ_MARGIN = timedelta(minutes=5)


# --- what to send: available, less the sales the marketplace made that we have not seen -----------------------


@dataclass
class Plan:
    """The quantity one push sends. A marketplace lowers a listing itself when it sells, so after our last push P
    (computed from the item's ledger ``version`` V, holding back H units sold there but not yet seen here) it
    should show P less what its own orders took since V (S, seen here). Whatever more it lost is a sale not seen
    yet: U = max(0, H + P - S - C) for its current quantity C. The push sends max(0, available - U), so it never
    offers those units again; once the order is seen, available drops by its units, S counts them and U is 0 —
    the listing ends at available, and a sale seen before the push is never subtracted twice.

    ``expected`` holds H + P - S for each baseline: the last push recorded; an attempt whose outcome is unknown
    (it may have landed); before any push, the quantity a sync last read (S: what its orders took since then).
    The smallest U wins. No baseline (relinked, or an owner's forced push): U = 0, the push sends available."""

    available: int
    version: int
    expected: list[int]
    unseen: int = 0
    wanted: int = 0

    def target(self, current: int) -> int:
        self.unseen = min((max(0, expected - current) for expected in self.expected), default=0)
        self.wanted = max(0, self.available - self.unseen)
        return self.wanted


def _plan(push: StockPush, row, item: InventoryItem) -> Plan:
    def sold(**since) -> int:
        return units_sold_on_connection_since(item_id=item.pk, connection_id=push.connection_id, **since)

    expected: list[int] = []
    if not push.forced:
        if row.pushed_quantity is not None and row.pushed_version is not None:
            held = 0 if _orders_read_since(push.connection_id, row.pushed_at) else row.pushed_unseen
            expected.append(held + row.pushed_quantity - sold(version=row.pushed_version))
        elif row.pushed_quantity is None and row.last_seen_at is not None:  # never pushed: from the last read
            expected.append(_current(push, row) - sold(created_after=row.last_seen_at - READ_MARGIN))
        if expected and push.attempts and push.planned_quantity is not None and push.planned_version is not None:
            expected.append(push.planned_unseen + push.planned_quantity - sold(version=push.planned_version))
    plan = Plan(available=item.quantity_available, version=item.version, expected=expected)
    plan.target(_current(push, row))  # BrickLink's pusher computes it again from the lot it re-reads
    return plan


def _orders_read_since(connection_id: int, when) -> bool:
    """A whole orders sync of the connection began after ``when`` and succeeded: every sale made there before then
    has been seen (or was cancelled unseen), so the units held back then are no longer a sale we wait for. (Those
    seen count in S as well, so until the next push a sale there not yet seen may go unheld: never more offered
    than available, and never worse than sending available.)"""
    if when is None:
        return False
    return EntitySync.objects.filter(connection_id=connection_id, entity=Entity.ORDERS, last_started_at__gt=when,
                                     last_success_at__gte=F("last_started_at")).exists()


# --- draining ----------------------------------------------------------------------------------------------------


@dataclass
class DrainResult:
    sent: int = 0
    unchanged: int = 0  # the marketplace already showed the quantity
    failed: int = 0
    retrying: int = 0
    waiting: int = 0  # not sent now: push off, connection refused, budget or hourly limit
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def _backoff(attempts: int) -> timedelta:
    seconds = settings.STOCK_PUSH_RETRY_SECONDS * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.STOCK_PUSH_RETRY_MAX_SECONDS))


def stock_push_drain(
    *, organization_id: int | None = None, limit: int | None = None, transport: httpx.BaseTransport | None = None,
    progress: Callable[[StockPush, str], None] | None = None,
) -> DrainResult:
    """Send the due pushes (of one organization, or all), oldest first, at most ``limit``. Brick Owl lots and
    Refurbed offers due together on one connection go in batch calls (``BATCHED``), each row still its own push."""
    result = DrainResult()
    now = timezone.now()
    due = StockPush.objects.filter(state=StockPush.State.PENDING, next_attempt_at__lte=now)
    if organization_id is not None:
        due = due.filter(organization_id=organization_id)
    rows = list(due.order_by("next_attempt_at", "id").values_list("pk", "next_attempt_at")[: limit or settings.STOCK_PUSH_BATCH])
    stopped: dict[int, str] = {}  # connection -> why nothing more is sent to it in this run
    ready: dict[int, list[tuple[StockPush, object, Plan]]] = {}  # connection -> batchable pushes checked and ready

    def done(push: StockPush, outcome: str) -> None:
        setattr(result, outcome, getattr(result, outcome) + 1)
        if outcome == "failed":
            result.errors.append(f"{push.connection.marketplace_label} {push.external_id}: {push.last_error}")
        if progress is not None:
            progress(push, outcome)

    for pk, seen_at in rows:
        # Claimed by moving it later: another drain skips it; a crash leaves it due again after the claim.
        claim_until = timezone.now() + timedelta(seconds=settings.STOCK_PUSH_CLAIM_SECONDS)
        if not StockPush.objects.filter(pk=pk, state=StockPush.State.PENDING, next_attempt_at=seen_at).update(
                next_attempt_at=claim_until):
            continue
        push = StockPush.objects.select_related("connection", "connection__organization").filter(pk=pk).first()
        if push is None:  # deleted with its connection (or stock item) since it was claimed
            logger.info("stock push %s skipped: deleted with its connection or stock item after it was claimed", pk)
            result.skipped += 1
            continue
        prepared = _prepare(push, stopped=stopped)
        if isinstance(prepared, str):
            done(push, prepared)
        elif push.connection.marketplace in BATCHED:
            ready.setdefault(push.connection_id, []).append((push, *prepared))
        else:
            done(push, _send_one(push, *prepared, stopped=stopped, transport=transport))
    for pushes in ready.values():
        size = BATCHED[pushes[0][0].connection.marketplace][0]
        for start in range(0, len(pushes), size):
            chunk = pushes[start:start + size]
            if len(chunk) == 1:  # one lot or offer: its own call, as always
                push, row, plan = chunk[0]
                done(push, _send_one(push, row, plan, stopped=stopped, transport=transport))
                continue
            for push, outcome in _send_batch(chunk, stopped=stopped, transport=transport):
                done(push, outcome)
    return result


def _wait(push: StockPush, why: str, until: timedelta) -> str:
    StockPush.objects.filter(pk=push.pk).update(last_error=why[:2000], next_attempt_at=timezone.now() + until)
    push.last_error = why
    return "waiting"


def _finish(push: StockPush, *, changes_seen: int, state: str, error: str = "", before: int | None = None,
            after: int | None = None) -> None:
    """Close the push — unless more changes arrived while it was sent: then it stays due at once, to send again."""
    now = timezone.now()
    done = StockPush.objects.filter(pk=push.pk, changes=changes_seen).update(
        state=state, last_error=error[:2000], quantity_before=before, quantity_after=after, sent_at=now,
        attempts=F("attempts") + 1,
    )
    if not done:
        StockPush.objects.filter(pk=push.pk).update(next_attempt_at=now, last_error=error[:2000], quantity_before=before,
                                                    quantity_after=after)
    push.state, push.last_error, push.quantity_before, push.quantity_after = state, error, before, after


def _prepare(push: StockPush, *, stopped: dict[int, str]) -> str | tuple[object, Plan]:
    """What may stop this push before any call (an outcome), else ``(row, what to send)``."""
    connection = push.connection
    kind = LINK_KINDS[push.target_kind]
    if not (connection.stock_push or push.forced):
        _finish(push, changes_seen=push.changes, state=StockPush.State.SKIPPED, error="Stock push is off for this connection.")
        return "skipped"
    row = kind.model.objects.filter(pk=push.target_id).first()
    if row is None:  # rows go only with their connection (a sweep marks them removed): nothing left to push to
        _finish(push, changes_seen=push.changes, state=StockPush.State.SKIPPED, error="Deleted with its connection.")
        return _dropped(push, _gone(push) or f"{kind.name} {push.target_id} deleted")
    if getattr(row, f"{kind.link}_id") != push.item_id or row.removed_at is not None:
        _finish(push, changes_seen=push.changes, state=StockPush.State.SKIPPED,
                error="No longer linked to this stock item (or gone from the marketplace).")
        return "skipped"
    if connection.pk in stopped:
        return _wait(push, stopped[connection.pk], timedelta(seconds=settings.STOCK_PUSH_RETRY_MAX_SECONDS))
    problem = connection_write_problem(connection)
    if problem:
        stopped[connection.pk] = problem
        return _wait(push, problem, timedelta(seconds=settings.STOCK_PUSH_RETRY_MAX_SECONDS))
    if connection.marketplace == "bricklink":
        refusal = budget_admission(connection, "push")
        if refusal:
            stopped[connection.pk] = refusal
            return _wait(push, refusal, timedelta(hours=1))
    if connection.marketplace == "backmarket":
        hour_ago = timezone.now() - timedelta(hours=1)
        sent = StockPush.objects.filter(connection=connection, state=StockPush.State.SENT, sent_at__gte=hour_ago).count()
        if sent >= settings.BACKMARKET_PUSHES_PER_HOUR:
            why = f"Back Market takes {settings.BACKMARKET_PUSHES_PER_HOUR:,} listing updates an hour; queued until the next hour."
            stopped[connection.pk] = why
            return _wait(push, why, timedelta(minutes=10))
    item = InventoryItem.objects.filter(pk=push.item_id).first()
    if item is None:
        return _dropped(push, f"stock item {push.item_id} deleted")
    return row, _plan(push, row, item)  # never above local available, never below 0 (which keeps the row)


def _send_one(push: StockPush, row, plan: Plan, *, stopped: dict[int, str], transport: httpx.BaseTransport | None) -> str:
    changes_seen = push.changes
    try:
        with api_calls_for("push"):  # BrickLink counts them apart: the connection page shows where calls went
            before, after = PUSHERS[push.connection.marketplace](push=push, row=row, plan=plan, transport=transport)
    except WriteRefused as exc:
        return _refused(push, exc, stopped=stopped)
    except Exception as exc:  # the outcome is unknown (the audit entry stays pending): retried, re-read first
        gone = _gone(push)
        if gone:  # the audit entry could not be written or closed: its connection went while we sent
            outcome = _dropped(push, gone, exc)
        else:
            logger.warning("stock push %s: %s", push.pk, type(exc).__name__, exc_info=True)
            outcome = _retry(push, f"Outcome unknown ({type(exc).__name__}); sent again after re-reading.")
        if isinstance(exc, SoftTimeLimitExceeded):
            raise  # the task's time is up: stop now, before the hard limit kills it with this row claimed for minutes
        return outcome
    return _sent(push, row, plan, changes_seen=changes_seen, before=before, after=after)


def _sent(push: StockPush, row, plan: Plan, *, changes_seen: int, before: int, after: int) -> str:
    kind = LINK_KINDS[push.target_kind]
    kind.model.objects.filter(pk=row.pk).update(**{
        kind.quantity: after, "pushed_quantity": after, "pushed_at": timezone.now(), "pushed_version": plan.version,
        "pushed_unseen": plan.unseen})
    StockPush.objects.filter(pk=push.pk).update(planned_quantity=None, planned_version=None, planned_unseen=0)
    push.planned_quantity = push.planned_version = None
    _finish(push, changes_seen=changes_seen, state=StockPush.State.SENT, before=before, after=after)
    return "sent" if before != after else "unchanged"


def _refused(push: StockPush, exc: WriteRefused, *, stopped: dict[int, str]) -> str:
    """A push the helper refused, or the marketplace refused: wait (auth), fail (the request), or retry."""
    connection = push.connection
    cause = exc.__cause__
    if isinstance(cause, AuthError):
        # As a sync does: the connection waits for new credentials; every push of it stops until then.
        EntitySync.objects.filter(connection=connection, entity=PUSH_ENTITY[connection.marketplace]).update(
            error_kind=EntitySync.ErrorKind.AUTH, last_error=exc.message[:2000])
        stopped[connection.pk] = exc.message
        return _wait(push, exc.message, timedelta(seconds=settings.STOCK_PUSH_RETRY_MAX_SECONDS))
    if exc.refused_locally or isinstance(cause, InvalidRequest | NotFound):
        _finish(push, changes_seen=push.changes, state=StockPush.State.FAILED, error=exc.message)
        return "failed"
    return _retry(push, exc.message)


def _send_batch(chunk: list[tuple[StockPush, object, Plan]], *, stopped: dict[int, str],
                transport: httpx.BaseTransport | None) -> list[tuple[StockPush, str]]:
    """Many lots or offers of one connection in one call; each row's own answer decides its push alone."""
    first = chunk[0][0]
    connection_id = first.connection_id
    if connection_id in stopped:  # an earlier call of this drain was refused for the whole connection
        why = stopped[connection_id]
        return [(push, _wait(push, why, timedelta(seconds=settings.STOCK_PUSH_RETRY_MAX_SECONDS))) for push, _, _ in chunk]
    seen = [push.changes for push, _, _ in chunk]
    targets = [WriteTarget(target_id=row.external_id, summary=_summary(push, before=_current(push, row), plan=plan))
               for push, row, plan in chunk]
    send = BATCHED[first.connection.marketplace][1]
    try:
        with api_calls_for("push"):
            answers = marketplace_write(
                connection=first.connection, action="inventory.push", target_type=first.target_kind, batch=targets,
                send=lambda client: send(client, [(row.external_id, plan.wanted) for _, row, plan in chunk]),
                actor="stock push", transport=transport,
            )
    except WriteRefused as exc:  # the whole call: every row of it
        outcomes = []
        for push, _, _ in chunk:
            if connection_id in stopped:
                outcomes.append((push, _wait(push, stopped[connection_id], timedelta(seconds=settings.STOCK_PUSH_RETRY_MAX_SECONDS))))
            else:
                outcomes.append((push, _refused(push, exc, stopped=stopped)))
        return outcomes
    except Exception as exc:  # outcome unknown: the quantities are absolute, sending them again cannot harm
        gone = [_gone(push) for push, _, _ in chunk]
        if any(gone):  # the connection went while we sent (its rows with it): those are dropped, the others retry
            outcomes = [(push, _dropped(push, why, exc)) for (push, _, _), why in zip(chunk, gone, strict=True) if why]
            chunk = [entry for entry, why in zip(chunk, gone, strict=True) if not why]
        else:
            outcomes = []
            logger.warning("stock push batch of %s rows: %s", len(chunk), type(exc).__name__, exc_info=True)
        outcomes += [(push, _retry(push, f"Outcome unknown ({type(exc).__name__}); sent again.")) for push, _, _ in chunk]
        if isinstance(exc, SoftTimeLimitExceeded):
            raise  # as for one push: the rows wait for their retry, another drain takes the rest
        return outcomes
    outcomes = []
    for (push, row, plan), changes_seen, answer in zip(chunk, seen, answers, strict=True):
        if isinstance(answer, WriteRefused):
            outcomes.append((push, _refused(push, answer, stopped=stopped)))
        else:
            wanted = plan.wanted
            after = int(answer.get("stock", wanted)) if isinstance(answer, dict) else wanted  # Refurbed echoes the offer
            outcomes.append((push, _sent(push, row, plan, changes_seen=changes_seen, before=_current(push, row), after=after)))
    return outcomes


def _gone(push: StockPush) -> str:
    """What of this push no longer exists ("" when nothing): an owner deleting its connection (which cascades to the
    push, its lot, listing or offer and their audit entries) or its stock item while the drain held the rows it read
    before. Nothing is left to retry or to record: the push is dropped."""
    if not Connection.objects.filter(pk=push.connection_id).exists():
        return f"connection {push.connection_id} deleted"
    kind = LINK_KINDS[push.target_kind]
    if not kind.model.objects.filter(pk=push.target_id).exists():
        return f"{kind.name} {push.target_id} deleted"
    if not InventoryItem.objects.filter(pk=push.item_id).exists():
        return f"stock item {push.item_id} deleted"
    if not StockPush.objects.filter(pk=push.pk).exists():
        return "push deleted"
    return ""


def _dropped(push: StockPush, gone: str, exc: BaseException | None = None) -> str:
    """A push whose connection, row or item was deleted: an info line, no retry (there is nothing left to push to)."""
    cause = f" ({type(exc).__name__} while sending)" if exc is not None else ""
    logger.info("stock push %s of %s %s skipped: %s%s", push.pk, push.target_kind, push.external_id or push.target_id,
                gone, cause)
    return "skipped"


def _retry(push: StockPush, error: str) -> str:
    attempts = push.attempts + 1
    if attempts >= settings.STOCK_PUSH_MAX_ATTEMPTS:
        _finish(push, changes_seen=push.changes, state=StockPush.State.FAILED, error=f"Gave up after {attempts} attempts: {error}")
        return "failed"
    StockPush.objects.filter(pk=push.pk).update(attempts=attempts, last_error=error[:2000],
                                                next_attempt_at=timezone.now() + _backoff(attempts))
    push.attempts, push.last_error = attempts, error
    return "retrying"


# --- one push per marketplace: (quantity before, quantity after) -----------------------------------------------


def _summary(push: StockPush, *, before: int, plan: Plan) -> dict:
    """What each push's audit entry says (single call or batch alike)."""
    summary = {"trigger": push.trigger, "item": push.item_id, "from": before, "to": plan.wanted, "changes": push.changes}
    if plan.unseen:
        summary["held_back_unseen_sales"] = plan.unseen
    return summary


def _current(push: StockPush, row) -> int:
    """The row's marketplace quantity as last read here."""
    return getattr(row, LINK_KINDS[push.target_kind].quantity)


def _write(push: StockPush, *, row, before: int, plan: Plan, send, transport, refresh=None):
    return marketplace_write(
        connection=push.connection, action="inventory.push", target_type=push.target_kind, target_id=row.external_id,
        summary=_summary(push, before=before, plan=plan), send=send, refresh=refresh, actor="stock push", transport=transport,
    )


def _push_bricklink(*, push: StockPush, row: InventoryLot, plan: Plan, transport) -> tuple[int, int]:
    def send(client) -> tuple[int, int]:
        # Re-read first: BrickLink's quantity is a delta, and its lot may have moved since we last read it (a sale
        # there, or an earlier attempt of ours whose outcome we never learnt).
        lot = client.inventory(row.external_id)
        current = int(lot.get("quantity") or 0)
        wanted = plan.target(current)  # a sale there not seen here yet shows in the lot just read
        if current == wanted:
            return current, current
        # Written before the delta: if its outcome is never learnt, the retry also considers that it landed.
        StockPush.objects.filter(pk=push.pk).update(planned_quantity=wanted, planned_version=plan.version,
                                                    planned_unseen=plan.unseen)
        updated = client.inventory_update(row.external_id, quantity_delta=wanted - current,
                                          remarks=str(lot.get("remarks") or ""), description=str(lot.get("description") or ""))
        return current, int(updated.get("quantity", wanted))

    return _write(push, row=row, before=row.marketplace_quantity, plan=plan, send=send, transport=transport)


def _push_brickowl(*, push: StockPush, row: InventoryLot, plan: Plan, transport) -> tuple[int, int]:
    wanted = plan.wanted
    before = row.marketplace_quantity

    def send(client) -> tuple[int, int]:
        client.inventory_set_quantity(row.external_id, wanted)
        return before, wanted

    return _write(push, row=row, before=before, plan=plan, send=send, transport=transport)


def _push_backmarket(*, push: StockPush, row: Listing, plan: Plan, transport) -> tuple[int, int]:
    wanted = plan.wanted
    before = row.quantity

    def send(client) -> tuple[int, int]:
        client.listing_update(row.external_id, {"quantity": wanted})  # 0 takes the listing offline, never deletes it
        return before, wanted

    return _write(push, row=row, before=before, plan=plan, send=send, transport=transport)


def _push_refurbed(*, push: StockPush, row: Offer, plan: Plan, transport) -> tuple[int, int]:
    wanted = plan.wanted
    before = row.stock

    def send(client) -> tuple[int, int]:
        answer = client.update_offer_stock(row.external_id, wanted)
        return before, int((answer.get("offer") or {}).get("stock", wanted))

    return _write(push, row=row, before=before, plan=plan, send=send, transport=transport)


def _batch_brickowl(client, quantities: list[tuple[str, int]]) -> list:
    return client.inventory_set_quantities(quantities)  # /bulk/batch: absolute_quantity per lot


def _batch_refurbed(client, quantities: list[tuple[str, int]]) -> list:
    return client.batch_update_offers_stock(quantities)  # BatchUpdateOffers: stock per offer


PUSHERS = {"bricklink": _push_bricklink, "brickowl": _push_brickowl, "backmarket": _push_backmarket, "refurbed": _push_refurbed}
assert set(PUSHERS) == set(MARKETPLACE_LINK_KIND)
# Marketplaces whose pushes due together go in batch calls: (rows per call, the call). BrickLink's signed delta
# needs a re-read per lot, and Back Market has no batch of listing quantities.
BATCHED = {"brickowl": (BRICKOWL_BATCH_LIMIT, _batch_brickowl), "refurbed": (REFURBED_BATCH_LIMIT, _batch_refurbed)}


def stock_push_toggle(*, connection: Connection, on: bool) -> bool:
    """Turn a connection's stock push on or off; True when it changed."""
    return bool(Connection.objects.filter(pk=connection.pk).exclude(stock_push=on).update(stock_push=on))


def reconcile_apply(*, organization, rows) -> int:
    """An owner's reconcile: queue a push for each row listed (``selectors.reconcile_rows``), sent even while the
    connection's stock push is off. Returns how many were queued."""
    queued = 0
    with transaction.atomic():
        # As every writer of several items' pushes: a page of orders queues them for its items at once, in pk order.
        stock_lock_organization(organization_id=organization.pk)
        for row in rows:
            if row.item.organization_id != organization.pk:
                continue
            queued += stock_push_enqueue(item_id=row.item.pk, trigger="reconcile", row=(row.link.kind, row.link.row_id),
                                         forced=True)
    return queued
