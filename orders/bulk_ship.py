"""Shipping a day's parcels at once: check every line first, then push each order to its own marketplace.

    ship_requests_from_csv   the CSV (``marketplace,order_id,carrier,tracking_number[,tracking_url]``) as requests
    ship_plan                check the requests line by line: errors named by line, and those not to send again
    ship_batch_create        keep a clean plan as a ``ShipBatch`` (nothing is sent yet)
    ship_batch_run           send each queued order through ``orders.fulfilment.order_ship`` (the task, the CLI)
    ship_batch_sweep         rows a killed worker left "sending": re-read the order, then shipped or queued again

An order is sent once per tracking: an order already shipped, or already in a batch with the same tracking, is
reported as such and not sent again (the rows are keyed on (organization, order) + tracking, and each row is
claimed before it is sent, so a job run twice sends nothing twice).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.db import IntegrityError, transaction
from django.utils import timezone

from connections.models import Organization
from connections.services import CONTROL_CHARACTERS
from marketsync.marketplaces import Marketplace
from marketsync.sync.errors import TransientError
from marketsync.sync.records import UnifiedStatus
from marketsync.sync.refresh import record_refresh
from marketsync.sync.writes import WriteRefused
from orders import fulfilment
from orders.models import Order, ShipBatch, ShipBatchOrder

CSV_COLUMNS = ["marketplace", "order_id", "carrier", "tracking_number", "tracking_url"]
MAX_LINES = 2000
# A row "sending" for longer than this was left by a worker killed mid-send (one ship takes seconds; the write
# helper's own timeouts are far shorter).
SENDING_STALE_AFTER = timedelta(minutes=10)
# Written as the marketplace's key or its name ("Back Market", "backmarket", "BrickLink"…).
_MARKETPLACES = {m.value: m.value for m in Marketplace} | {m.label.lower().replace(" ", ""): m.value for m in Marketplace}
_SHIPPED_OR_LATER = {UnifiedStatus.SHIPPED, UnifiedStatus.DELIVERED}


@dataclass
class ShipRequest:
    """One order to ship: a CSV line (``line``) or a row of the order list's form (``order`` already known)."""

    where: str  # "Line 3" or "Order 1234 (BrickLink)": how errors name it
    marketplace: str = ""
    order_id: str = ""
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    line: int | None = None
    order: Order | None = None


@dataclass
class Planned:
    request: ShipRequest
    order: Order
    skip_reason: str = ""  # not sent again: already shipped, or already in a batch with this tracking


@dataclass
class ShipPlan:
    errors: list[str] = field(default_factory=list)
    shipments: list[Planned] = field(default_factory=list)

    @property
    def to_send(self) -> list[Planned]:
        return [p for p in self.shipments if not p.skip_reason]

    @property
    def skipped(self) -> list[Planned]:
        return [p for p in self.shipments if p.skip_reason]


def ship_requests_from_csv(content: bytes) -> tuple[list[ShipRequest], list[str]]:
    """The file's lines as requests, and the errors that make a line unreadable (named by line; line 1 is the
    header)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], ["The file is not UTF-8 text: save it as CSV (UTF-8)."]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        return [], [f"Line {reader.line_num}: not readable as CSV ({exc})."]
    if not rows:
        return [], ["The file is empty: it needs the header row " + ",".join(CSV_COLUMNS) + "."]
    header = [h.strip().lower() for h in rows[0]]
    if header not in (CSV_COLUMNS, CSV_COLUMNS[:4]):
        return [], [f"Line 1: the header must be {','.join(CSV_COLUMNS[:4])}[,tracking_url], not {','.join(rows[0])[:200]}."]
    if len(rows) - 1 > MAX_LINES:
        return [], [f"The file has {len(rows) - 1} lines; at most {MAX_LINES} at once."]
    requests, errors = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line (often the last one)
        if len(row) not in (4, 5):
            errors.append(f"Line {number}: expected 4 or 5 columns ({','.join(CSV_COLUMNS)}), found {len(row)}.")
            continue
        cells = [cell.strip() for cell in row] + [""] * (5 - len(row))
        requests.append(ShipRequest(where=f"Line {number}", line=number, marketplace=cells[0], order_id=cells[1],
                                    carrier=cells[2], tracking_number=cells[3], tracking_url=cells[4]))
    return requests, errors


def _tracking_problem(request: ShipRequest, marketplace: str) -> str:
    """The ship's own tracking check (``fulfilment.tracking_problem``), run on every line before anything is sent."""
    return fulfilment.tracking_problem(marketplace=marketplace, carrier=request.carrier,
                                       tracking_number=request.tracking_number, tracking_url=request.tracking_url)


def _orders_by_id(organization: Organization, requests: list[ShipRequest]) -> dict[tuple[str, str], list[Order]]:
    ids = {r.order_id for r in requests if r.order is None and r.order_id}
    found: dict[tuple[str, str], list[Order]] = {}
    if ids:
        for order in Order.objects.filter(organization=organization, external_id__in=ids).select_related("connection"):
            found.setdefault((order.marketplace, order.external_id), []).append(order)
    return found


def _in_batches(organization: Organization, orders: list[Order]) -> dict[tuple[int, str, str], ShipBatchOrder]:
    """The rows already sent (or being sent) for these orders, by (order, tracking number, tracking URL)."""
    rows = ShipBatchOrder.objects.filter(organization=organization, order__in=[o.pk for o in orders]).exclude(
        state__in=[ShipBatchOrder.State.FAILED, ShipBatchOrder.State.SKIPPED])
    return {(r.order_id, r.tracking_number, r.tracking_url): r for r in rows}


def ship_plan(*, organization: Organization, requests: list[ShipRequest]) -> ShipPlan:
    """Check every request before anything is sent: unknown marketplace or order, not shippable now, tracking
    missing or malformed, control characters, the same order twice. Orders already shipped, or already in a batch
    with the same tracking, are kept apart as not to be sent again."""
    plan = ShipPlan()
    problems: list[tuple[int, str]] = []  # (request's position, error): reported in the file's order
    by_id = _orders_by_id(organization, requests)
    seen: dict[int, str] = {}
    checked: list[tuple[ShipRequest, Order]] = []
    for position, request in enumerate(requests):
        order = request.order
        if order is None:
            marketplace = _MARKETPLACES.get(request.marketplace.lower().replace(" ", ""))
            if CONTROL_CHARACTERS.search(request.marketplace + request.order_id):
                problems.append((position, f"{request.where}: marketplace or order_id contains a control character."))
                continue
            if marketplace is None:
                problems.append((position, f"{request.where}: unknown marketplace “{request.marketplace[:40]}” "
                                   f"(use {', '.join(m.value for m in Marketplace)})."))
                continue
            if not request.order_id:
                problems.append((position, f"{request.where}: order_id is empty."))
                continue
            matches = by_id.get((marketplace, request.order_id), [])
            if not matches:
                problems.append((position, f"{request.where}: no {Marketplace(marketplace).label} order {request.order_id[:64]} "
                                   f"in this organization (sync orders first?)."))
                continue
            if len(matches) > 1:
                problems.append((position, f"{request.where}: {Marketplace(marketplace).label} order {request.order_id} exists on "
                                   f"several connections; ship it from its order page."))
                continue
            order = matches[0]
        problem = _tracking_problem(request, order.marketplace)
        if problem:
            problems.append((position, f"{request.where}: {problem}"))
            continue
        if order.pk in seen:
            problems.append((position, f"{request.where}: order {order.external_id} is already on {seen[order.pk].lower()}."))
            continue
        seen[order.pk] = request.where
        checked.append((position, request, order))
    earlier = _in_batches(organization, [order for _position, _request, order in checked])
    for position, request, order in checked:
        row = earlier.get((order.pk, request.tracking_number, request.tracking_url))
        if row is not None:
            plan.shipments.append(Planned(request, order, f"already in ship batch {row.batch_id} with this tracking "
                                                          f"({row.get_state_display().lower()})"))
        elif order.status in _SHIPPED_OR_LATER:
            plan.shipments.append(Planned(request, order, f"already {order.get_status_display().lower()} "
                                                          f"(tracking {order.tracking_number or '—'})"))
        else:
            actions = fulfilment.order_actions(order=order)
            if not actions.ship:
                problems.append((position, f"{request.where}: order {order.external_id} cannot be shipped now: {actions.ship_why_not}"))
            else:
                plan.shipments.append(Planned(request, order))
    plan.errors = [message for _position, message in sorted(problems, key=lambda p: p[0])]
    return plan


def ship_plan_from_csv(*, organization: Organization, content: bytes) -> ShipPlan:
    """The CSV checked line by line: every error named by its line, in the file's order."""
    requests, unreadable = ship_requests_from_csv(content)
    plan = ship_plan(organization=organization, requests=requests)
    plan.errors = sorted(unreadable + plan.errors, key=_line_number)
    return plan


def _line_number(error: str) -> int:
    match = re.match(r"Line (\d+):", error)
    return int(match.group(1)) if match else 0


def ship_batch_create(*, organization: Organization, plan: ShipPlan, source: str, filename: str = "",
                      user=None) -> ShipBatch:
    """Keep a clean plan as a batch: a queued row per order to send, a skipped row per order not sent again. An
    order that another batch took meanwhile (the unique key) is kept as skipped too."""
    if plan.errors:
        raise ValueError("A plan with errors is never kept.")
    batch = ShipBatch.objects.create(organization=organization, source=source, filename=filename[:200],
                                     user=user if getattr(user, "pk", None) else None)
    for planned in plan.shipments:
        r = planned.request
        fields = dict(organization=organization, batch=batch, order=planned.order, line=r.line, carrier=r.carrier,
                      tracking_number=r.tracking_number, tracking_url=r.tracking_url)
        if planned.skip_reason:
            ShipBatchOrder.objects.create(**fields, state=ShipBatchOrder.State.SKIPPED, message=planned.skip_reason)
            continue
        try:
            with transaction.atomic():
                ShipBatchOrder.objects.create(**fields)
        except IntegrityError:
            ShipBatchOrder.objects.create(**fields, state=ShipBatchOrder.State.SKIPPED,
                                          message="already in another ship batch with this tracking")
    if not batch.orders.filter(state=ShipBatchOrder.State.QUEUED).exists():
        batch.state, batch.finished_at = ShipBatch.State.DONE, timezone.now()
        batch.save(update_fields=["state", "finished_at"])
    return batch


def _claim(row: ShipBatchOrder) -> bool:
    """Take a queued row for sending; False when another run took it first (a job run twice sends it once)."""
    return ShipBatchOrder.objects.filter(pk=row.pk, state=ShipBatchOrder.State.QUEUED).update(
        state=ShipBatchOrder.State.SENDING, updated_at=timezone.now()) == 1


def _finish(row: ShipBatchOrder, state: str, message: str) -> None:
    row.state, row.message = state, message[:2000]
    row.save(update_fields=["state", "message", "updated_at"])


def ship_batch_run(*, batch: ShipBatch, transport: httpx.BaseTransport | None = None,
                   progress: Callable[[ShipBatchOrder], None] | None = None) -> ShipBatch:
    """Send every queued order of the batch to its marketplace, one by one (one refusal never stops the others);
    ``progress`` is told each row's outcome."""
    ShipBatch.objects.filter(pk=batch.pk, state=ShipBatch.State.QUEUED).update(state=ShipBatch.State.RUNNING)
    rows = list(batch.orders.filter(state=ShipBatchOrder.State.QUEUED).select_related("order__connection"))
    for row in rows:
        if not _claim(row):
            continue
        try:
            order = fulfilment.order_ship(order=row.order, carrier=row.carrier, tracking_number=row.tracking_number,
                                          tracking_url=row.tracking_url, user=batch.user, actor="ship batch",
                                          transport=transport)
        except fulfilment.WritePending as exc:
            _finish(row, ShipBatchOrder.State.PENDING, exc.message)
        except WriteRefused as exc:
            _finish(row, ShipBatchOrder.State.FAILED, exc.message)
        except Exception as exc:  # noqa: BLE001 - one order's failure never stops the others; the row says why
            _finish(row, ShipBatchOrder.State.FAILED, f"Unexpected error: {type(exc).__name__}")
        else:
            label = order.connection.marketplace_label
            _finish(row, ShipBatchOrder.State.SHIPPED,
                    f"{label}: {order.marketplace_status or order.get_status_display()}, tracking "
                    f"{order.tracking_number or row.tracking_number or row.tracking_url}")
        if progress is not None:
            progress(row)
    batch.state, batch.finished_at = ShipBatch.State.DONE, timezone.now()
    batch.save(update_fields=["state", "finished_at"])
    return batch


@dataclass
class SweepResult:
    shipped: list[int] = field(default_factory=list)  # confirmed shipped by the re-read: not sent again
    requeued: list[int] = field(default_factory=list)  # not shipped at the marketplace: queued, the batch runs again
    failed: list[int] = field(default_factory=list)  # the order cannot be re-read: never sent blind
    batches: set[int] = field(default_factory=set)  # batches with rows queued again


def ship_batch_sweep(*, now: datetime | None = None, transport: httpx.BaseTransport | None = None) -> SweepResult:
    """Recover the rows a killed worker left "sending" (its outcome unknown: the call may or may not have reached the
    marketplace). Each order is re-read at its marketplace first; shipped with this row's write → the row is
    shipped; not shipped → the row is queued again and its batch runs again (the caller enqueues it); unreadable
    for good → failed, saying so. A transient failure of the re-read leaves the row for the next sweep. Never sends
    a ship itself, so never twice: the batch run sends only what the re-read showed not shipped. Batches left
    running with nothing queued or sending are closed."""
    now = now or timezone.now()
    result = SweepResult()
    stale = ShipBatchOrder.objects.filter(state=ShipBatchOrder.State.SENDING, updated_at__lt=now - SENDING_STALE_AFTER)
    for row in stale.select_related("order__connection").order_by("pk"):
        # Take the row (its updated_at moves): a second sweeper at the same moment finds it fresh and leaves it.
        if not ShipBatchOrder.objects.filter(pk=row.pk, state=ShipBatchOrder.State.SENDING, updated_at=row.updated_at).update(
                updated_at=now):
            continue
        order = row.order
        try:
            record_refresh(connection=order.connection, entity="orders", external_id=order.external_id, transport=transport)
        except TransientError:
            continue  # the marketplace did not answer: the next sweep asks again
        except Exception as exc:  # noqa: BLE001 - an order we cannot read is never shipped blind
            _finish(row, ShipBatchOrder.State.FAILED, f"Interrupted while sending, and the order could not be re-read "
                                                      f"({type(exc).__name__}): check it at {order.connection.marketplace_label}.")
            result.failed.append(row.pk)
            continue
        order = Order.objects.select_related("connection").get(pk=order.pk)
        params = {"carrier": row.carrier, "tracking_number": row.tracking_number, "tracking_url": row.tracking_url}
        if fulfilment.write_applied(action="ship", params=params, order=order):
            _finish(row, ShipBatchOrder.State.SHIPPED,
                    f"{order.connection.marketplace_label}: {order.marketplace_status or order.get_status_display()} "
                    "(confirmed by re-reading the order after an interrupted send)")
            result.shipped.append(row.pk)
        else:
            _finish(row, ShipBatchOrder.State.QUEUED, "Interrupted while sending; not shipped at the marketplace: "
                                                     "queued again.")
            ShipBatch.objects.filter(pk=row.batch_id).update(state=ShipBatch.State.QUEUED, finished_at=None)
            result.requeued.append(row.pk)
            result.batches.add(row.batch_id)
    open_rows = ShipBatchOrder.objects.filter(state__in=[ShipBatchOrder.State.QUEUED, ShipBatchOrder.State.SENDING])
    # A running batch with no row left to send has only its closing save to come: close it (a no-op if it did).
    ShipBatch.objects.filter(state=ShipBatch.State.RUNNING).exclude(pk__in=open_rows.values("batch_id")).update(
        state=ShipBatch.State.DONE, finished_at=now)
    return result


def ship_batch_get(*, organization: Organization, pk: int) -> ShipBatch | None:
    return ShipBatch.objects.filter(organization=organization, pk=pk).first()


def ship_batch_rows(*, batch: ShipBatch) -> list[ShipBatchOrder]:
    return list(batch.orders.select_related("order"))


def ship_batch_counts(rows: list[ShipBatchOrder]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return counts


def ship_batches_recent(*, organization: Organization, limit: int = 10) -> list[ShipBatch]:
    return list(ShipBatch.objects.filter(organization=organization)[:limit])
