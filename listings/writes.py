"""Writes to Back Market listings: one listing's update, bulk CSV tasks (sent, then followed to their end).

Each goes through ``marketplace_write``: checked here in full first (a refusal is audited and nothing is
sent), audited as an intent, sent, its outcome recorded, and the listing re-read. Pages, admin, the
``backmarket`` command and the bulk task's worker call these functions.

Not in ``listings/services.py``: the engine's wiring table imports that module to store listings, and these
functions import the engine's write helper.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connections.models import AuditEntry, Connection
from connections.services import audit_record, printable
from listings.models import BulkListingResult, BulkListingTask, Listing
from marketsync.sync.clients import marketplace_client
from marketsync.sync.http import build_http_client
from marketsync.sync.upsert import bulk_upsert
from marketsync.sync.writes import WriteRefused, marketplace_write, refuse_control_characters

COMMENT_MAX = 500
SKU_MAX = 120  # the SKU columns
# What the listing's columns hold (price: 14 digits, 2 after the point; quantity and warranty: 32-bit integers). Back
# Market states no ceiling; beyond these a value is a typo, and its re-read could not be stored.
PRICE_MAX = Decimal("999999999999.99")
INTEGER_MAX = 2**31 - 1
QUANTITY_MIN, WARRANTY_MIN = 0, 12
CSV_MAX_LINES = 15_000
CSV_SHOWN_ERRORS = 10
BOM = "\ufeff"  # what Excel's "CSV UTF-8" starts with
CSV_ALLOWED_ENCODINGS = {"utf-8", "utf-8-sig", "latin-1", "iso-8859-1", "cp1252"}
TASK_DONE = {8: BulkListingTask.Status.FAILURE, 9: BulkListingTask.Status.SUCCESS}


def bulk_poll_seconds() -> float:
    return settings.BACKMARKET_BULK_POLL_SECONDS


def bulk_timeout() -> timedelta:
    return timedelta(seconds=settings.BACKMARKET_BULK_TIMEOUT_SECONDS)


# ------------------------------------------------------------------ the checks of a listing's fields (one update or a CSV line)
def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else f"{text[:40]}…")


def _price(name: str, value: Any) -> Decimal | None:
    """A price: a positive number of at most ``PRICE_MAX``, in cents (a comma is read as the decimal point)."""
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise WriteRefused(f"{name} must be a number (got {_shown(value)}).") from None
    if not number.is_finite() or not 0 < number <= PRICE_MAX or number.quantize(Decimal("0.01")) <= 0:
        raise WriteRefused(f"{name} must be a positive number of at most {PRICE_MAX} (got {_shown(value)}).")
    return number.quantize(Decimal("0.01"))


def _integer(name: str, value: Any, *, minimum: int) -> int | None:
    """A whole number from ``minimum`` to ``INTEGER_MAX``."""
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise WriteRefused(f"{name} must be a whole number (got {_shown(value)}).") from None
    if number < minimum:
        raise WriteRefused(f"{name} must be at least {minimum} (got {number}).")
    if number > INTEGER_MAX:
        raise WriteRefused(f"{name} must be at most {INTEGER_MAX} (got {_shown(number)}).")
    return number


def _comment(name: str, comment: str) -> str:
    if len(comment) > COMMENT_MAX:
        raise WriteRefused(f"{name} must be at most {COMMENT_MAX} characters (got {len(comment)}).")
    refuse_control_characters(name, comment)
    return comment


# A bulk CSV's columns checked like the same field of one update: (check, label) by column name.
CSV_CHECKED_COLUMNS = {
    "price": lambda v: _price("price", v),
    "min_price": lambda v: _price("min_price", v),
    "quantity": lambda v: _integer("quantity", v, minimum=QUANTITY_MIN),
    "warranty_delay": lambda v: _integer("warranty_delay", v, minimum=WARRANTY_MIN),
    "comment": lambda v: _comment("comment", v),
}


# ------------------------------------------------------------------ single update


def listing_update_body(
    *, listing: Listing, price: Any = None, min_price: Any = None, quantity: Any = None, comment: str | None = None,
    warranty_delay: Any = None,
) -> dict:
    """The body for ``POST /ws/listings/{id}``: only what is given, validated (raises ``WriteRefused``)."""
    body: dict[str, Any] = {}
    new_price = _price("Price", price)
    new_min = _price("Minimum price", min_price)
    if new_price is not None:
        body["price"] = f"{new_price:.2f}"
    if new_min is not None:
        body["min_price"] = f"{new_min:.2f}"
    effective_price = new_price if new_price is not None else listing.price
    effective_min = new_min if new_min is not None else listing.min_price
    if effective_price is not None and effective_min is not None and effective_min > effective_price:
        raise WriteRefused(f"Minimum price {effective_min} cannot be above the price {effective_price}.")
    new_quantity = _integer("Quantity", quantity, minimum=QUANTITY_MIN)
    if new_quantity is not None:
        body["quantity"] = new_quantity
    new_warranty = _integer("Warranty", warranty_delay, minimum=WARRANTY_MIN)
    if new_warranty is not None:
        body["warranty_delay"] = new_warranty
    if comment is not None and _comment("Comment", comment) != listing.comment:
        body["comment"] = comment
    if not body:
        raise WriteRefused("Nothing to change: give a price, minimum price, quantity, comment or warranty.")
    return body


def listing_update(
    *, listing: Listing, price: Any = None, min_price: Any = None, quantity: Any = None, comment: str | None = None,
    warranty_delay: Any = None, user=None, actor: str = "", transport: httpx.BaseTransport | None = None,
) -> Listing:
    """Update one listing at Back Market in real time (quantity 0 takes it offline), then re-read it."""
    given = {"sku": listing.sku, "price": price, "min_price": min_price, "quantity": quantity, "comment": comment,
             "warranty_delay": warranty_delay}
    summary = {k: (str(v) if v is not None else None) for k, v in given.items() if v not in (None, "") or k == "sku"}
    body: dict[str, Any] = {}

    def validate() -> dict[str, Any]:
        body.update(listing_update_body(listing=listing, price=price, min_price=min_price, quantity=quantity,
                                        comment=comment, warranty_delay=warranty_delay))
        return {"sku": listing.sku, **body}

    marketplace_write(
        connection=listing.connection, action="listing_update", target_type="listing", target_id=listing.external_id,
        summary=summary, validate=validate, send=lambda client: client.listing_update(listing.external_id, body),
        refresh=("listings", listing.external_id), user=user, actor=actor, transport=transport,
    )
    return Listing.objects.get(pk=listing.pk)


# ------------------------------------------------------------------ bulk CSV
@dataclass
class CsvCheck:
    lines: int
    rows: int
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def bulk_csv_check(*, content: str, delimiter: str = ",", quotechar: str = '"', max_errors: int = 200) -> CsvCheck:
    """Validate a bulk listing CSV as Back Market will read it, each field as one update checks it; errors name the
    line. A byte order mark at the start is no part of the header (``bulk_listing_submit`` drops it before sending)."""
    content = content.removeprefix(BOM)
    errors: list[str] = []
    if len(delimiter) != 1 or len(quotechar) != 1:
        return CsvCheck(0, 0, ["The delimiter and the quote character must each be one character."])
    if delimiter == quotechar:
        return CsvCheck(0, 0, ["The delimiter and the quote character must differ."])
    lines = content.splitlines()
    if not content.strip():
        return CsvCheck(0, 0, ["The CSV is empty."])
    if len(lines) > CSV_MAX_LINES:
        return CsvCheck(len(lines), 0, [f"The CSV has {len(lines)} lines; Back Market accepts at most {CSV_MAX_LINES}."])
    reader = csv.reader(io.StringIO(content), delimiter=delimiter, quotechar=quotechar, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error as exc:
        return CsvCheck(len(lines), 0, [f"Line 1: {exc}"])
    if "sku" not in header:
        hint = ""
        if len(header) == 1 and any(ch in header[0] for ch in ";,\t|"):
            hint = f" (is the delimiter right? the header reads as one column: {header[0][:60]!r})"
        errors.append(f"Line 1: the required column 'sku' is missing{hint}.")
    duplicates = {h for h in header if header.count(h) > 1 and h}
    if duplicates:
        errors.append(f"Line 1: duplicate column(s): {', '.join(sorted(duplicates))}.")
    if errors:
        return CsvCheck(len(lines), 0, errors)
    rows = 0
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            rows += 1
            if len(row) != len(header):
                errors.append(f"Line {line}: {len(row)} fields, the header has {len(header)}.")
                continue
            values = dict(zip(header, (cell.strip() for cell in row), strict=True))
            sku = values.get("sku", "")
            if not sku:
                errors.append(f"Line {line}: sku is empty.")
            elif len(sku) > SKU_MAX:
                errors.append(f"Line {line}: sku must be at most {SKU_MAX} characters (got {len(sku)}).")
            elif sku.lower() in seen:
                errors.append(f"Line {line}: sku {sku[:40]} already on line {seen[sku.lower()]}.")
            else:
                seen[sku.lower()] = line
            for column, value in values.items():
                try:
                    if column in CSV_CHECKED_COLUMNS:
                        CSV_CHECKED_COLUMNS[column](value)
                    else:
                        refuse_control_characters(column or "a column without a name", value)
                except WriteRefused as exc:
                    errors.append(f"Line {line}: {exc.message}")
            if len(errors) >= max_errors:
                errors.append(f"Stopped after {max_errors} errors.")
                break
    except csv.Error as exc:
        errors.append(f"Line {reader.line_num}: {exc} (check the quote character).")
    if not errors and rows == 0:
        errors.append("The CSV has a header but no rows.")
    return CsvCheck(len(lines), rows, errors)


def csv_refusal(errors: list[str]) -> WriteRefused:
    """A CSV refused before sending: the first few problems in the message, all of them in ``errors``."""
    shown = "; ".join(errors[:CSV_SHOWN_ERRORS])
    more = f"; and {len(errors) - CSV_SHOWN_ERRORS} more" if len(errors) > CSV_SHOWN_ERRORS else ""
    return WriteRefused(f"The CSV has {len(errors)} problem(s): {shown}{more}", errors=errors)


def bulk_listing_submit(
    *, connection: Connection, content: str, file_name: str = "", delimiter: str = ",", quotechar: str = '"',
    encoding: str = "utf-8", user=None, actor: str = "", transport: httpx.BaseTransport | None = None, enqueue: bool = True,
) -> BulkListingTask:
    """Validate a CSV locally, send it to Back Market, and start following its task."""
    file_name = printable(file_name)[:255]
    content = content.removeprefix(BOM)  # Excel's "CSV UTF-8": the header's first column is ``sku``, not ``\ufeffsku``
    check = bulk_csv_check(content=content, delimiter=delimiter, quotechar=quotechar)
    if encoding.lower() not in CSV_ALLOWED_ENCODINGS:
        check.errors.insert(0, f"Unsupported encoding {encoding!r}.")
    summary = {"file_name": file_name, "delimiter": delimiter, "quotechar": quotechar, "encoding": encoding,
               "bytes": len(content.encode("utf-8", "replace")), "lines": check.lines}

    def validate() -> None:
        if not check.ok:
            raise csv_refusal(check.errors)

    task_id = marketplace_write(
        connection=connection, action="listings_bulk", target_type="bulk_task", target_id="-", summary=summary,
        validate=validate, identify=str, user=user, actor=actor, transport=transport,
        send=lambda client: client.listings_bulk(catalog=content, delimiter=delimiter, quotechar=quotechar, encoding=encoding),
    )
    task = BulkListingTask.objects.create(
        organization_id=connection.organization_id, connection=connection,
        user=user if user is not None and getattr(user, "is_authenticated", False) else None,
        file_name=file_name, line_count=check.rows, marketplace_task_id=str(task_id),
        status=BulkListingTask.Status.SUBMITTED,
    )
    if enqueue:
        from listings.tasks import poll_bulk_listing_task

        transaction.on_commit(lambda: poll_bulk_listing_task.apply_async(args=[task.pk], countdown=bulk_poll_seconds()))
    return task


def _result_message(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("error", "message", "errors", "detail"):
            if value.get(key):
                found = value[key]
                return "; ".join(map(str, found)) if isinstance(found, list) else str(found)
        return ""
    if isinstance(value, list):
        return "; ".join(map(str, value))
    return str(value or "")


def bulk_listing_poll(*, task: BulkListingTask, transport: httpx.BaseTransport | None = None) -> BulkListingTask:
    """Read the task's status once; store the per-SKU results when it ends, or time it out.

    Only reads from Back Market (the write was ``bulk_listing_submit``); its result is audited on its own row.
    """
    if task.status in (BulkListingTask.Status.SUCCESS, BulkListingTask.Status.FAILURE, BulkListingTask.Status.TIMEOUT):
        return task
    connection = task.connection
    with build_http_client(transport=transport) as http:
        data = marketplace_client(connection, http).task_get(task.marketplace_task_id)
    status_code = data.get("action_status")
    task.polls += 1
    task.raw = data
    done = TASK_DONE.get(status_code)
    if done is None:
        if timezone.now() - task.created_at > bulk_timeout():
            task.status, task.finished_at = BulkListingTask.Status.TIMEOUT, timezone.now()
            task.error = f"Back Market had not finished the task after {int(bulk_timeout().total_seconds() // 60)} minutes."
        else:
            task.status = BulkListingTask.Status.PENDING
        task.save(update_fields=["polls", "raw", "status", "finished_at", "error"])
        return task
    result = data.get("result") if isinstance(data.get("result"), dict) else {}
    rows = [
        BulkListingResult(task=task, sku=str(sku)[:120], success=True, message="")
        for sku in (result.get("product_success") or {})
    ] + [
        BulkListingResult(task=task, sku=str(sku)[:120], success=False, message=_result_message(value))
        for sku, value in (result.get("product_errors") or {}).items()
    ]
    with transaction.atomic():
        task.status, task.finished_at = done, timezone.now()
        task.error = str(data.get("last_action_error") or "") if done == BulkListingTask.Status.FAILURE else ""
        if done == BulkListingTask.Status.SUCCESS and any(not r.success for r in rows):
            task.error = f"{sum(not r.success for r in rows)} SKU(s) refused; see the results."
        task.save(update_fields=["polls", "raw", "status", "finished_at", "error"])
        bulk_upsert(BulkListingResult, rows, unique_fields=["task", "sku"], update_fields=["success", "message"])
        audit_record(
            organization=connection.organization, connection=connection, user=task.user, actor="" if task.user else "task",
            action="listings_bulk_result", target_type="bulk_task", target_id=task.marketplace_task_id,
            request_summary={"succeeded": sum(r.success for r in rows), "failed": sum(not r.success for r in rows)},
            outcome=AuditEntry.Outcome.SUCCESS if done == BulkListingTask.Status.SUCCESS else AuditEntry.Outcome.FAILURE,
            error=task.error,
        )
    if done == BulkListingTask.Status.SUCCESS:
        from marketsync.sync.services import trigger_sync

        trigger_sync(connection=connection, entities=["listings"])
    return task
