"""Push notifications from BrickLink, Brick Owl and Refurbed: answer at once, enqueue the work, reveal nothing.

BrickLink POSTs (an empty body, or a list of notifications) to
``/webhooks/bricklink/<token>/``; Brick Owl GETs ``order_id`` and ``store_id``
either at ``/webhooks/brickowl/<token>/`` or at its fixed
``/brick_owl_order_notify`` path (matched by the connection's store id);
Refurbed's Instant Order Notification POSTs ``{"order_id": <number>}`` to
``/webhooks/refurbed/<token>/`` (at least once, retried for two days).
Every notification only enqueues an idempotent refresh, so repeats are
harmless; polling continues regardless, since delivery is not guaranteed.
"""

from __future__ import annotations

import json

from django.core.cache import cache
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from connections.models import Connection
from connections.selectors import connection_get_by_webhook_token, connection_list_by_store_id
from marketsync.webhooks.forms import ORDER_ID, WEBHOOK_TOKEN, BrickOwlNotifyForm, refurbed_order_id

# Repeats of the same notification within this many seconds are answered but not enqueued again.
DEDUPE_SECONDS = 5


def _connection(token: str, marketplace: str) -> Connection:
    connection = connection_get_by_webhook_token(token=token, marketplace=marketplace) if WEBHOOK_TOKEN.match(token) else None
    if connection is None or not connection.enabled:
        raise Http404("unknown webhook")
    return connection


def _accepted() -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain", status=200)


def _order_ids_from_body(body: bytes) -> list[str]:
    """Order ids named in a BrickLink callback body, if it carries any (it is usually empty)."""
    if not body.strip():
        return []
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser follows
        return []
    ids = []
    for note in data if isinstance(data, list) else []:
        if isinstance(note, dict) and str(note.get("event_type", "")).lower() == "order":
            value = str(note.get("resource_id", ""))
            if ORDER_ID.match(value):
                ids.append(value)
    return ids[:100]


@csrf_exempt
@require_POST
def bricklink_notify(request: HttpRequest, token: str) -> HttpResponse:
    from marketsync.webhooks.tasks import bricklink_notifications_task

    connection = _connection(token, "bricklink")
    order_ids = _order_ids_from_body(request.body)
    key = f"webhook:bricklink:{connection.pk}:{','.join(order_ids)}"
    if cache.add(key, 1, timeout=DEDUPE_SECONDS):
        transaction.on_commit(lambda: bricklink_notifications_task.delay(connection.pk, order_ids))
    elif cache.add(f"{key}:trailing", 1, timeout=DEDUPE_SECONDS):
        # A repeat may announce a new event (the body is usually empty) that the task already queued read
        # /notifications too early to see: one more read after the window covers it and every repeat until then.
        transaction.on_commit(lambda: bricklink_notifications_task.apply_async(
            args=[connection.pk, order_ids], countdown=DEDUPE_SECONDS))
    return _accepted()


def _enqueue_refresh(connection: Connection, order_id: str) -> None:
    from marketsync.sync.tasks import refresh_record_task

    if cache.add(f"webhook:{connection.marketplace}:{connection.pk}:{order_id}", 1, timeout=DEDUPE_SECONDS):
        transaction.on_commit(lambda: refresh_record_task.delay(connection.pk, "orders", order_id))


@csrf_exempt
@require_GET
def brickowl_notify(request: HttpRequest, token: str) -> HttpResponse:
    connection = _connection(token, "brickowl")
    form = BrickOwlNotifyForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.error_text(), content_type="text/plain")
    order_id, store_id = form.cleaned_data["order_id"], form.cleaned_data["store_id"]
    expected = str((connection.options or {}).get("store_id", "")).strip()
    if store_id and expected and store_id != expected:
        raise Http404("unknown webhook")
    _enqueue_refresh(connection, order_id)
    return _accepted()


@csrf_exempt
@require_GET
def brickowl_fixed_notify(request: HttpRequest) -> HttpResponse:
    """Brick Owl's own notify path: the store id picks the connection(s)."""
    form = BrickOwlNotifyForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.error_text(), content_type="text/plain")
    order_id, store_id = form.cleaned_data["order_id"], form.cleaned_data["store_id"]
    if not store_id:
        raise Http404("unknown store")
    connections = connection_list_by_store_id(marketplace="brickowl", store_id=store_id)
    if not connections:
        raise Http404("unknown store")
    for connection in connections:
        _enqueue_refresh(connection, order_id)
    return _accepted()


@csrf_exempt
@require_POST
def refurbed_notify(request: HttpRequest, token: str) -> HttpResponse:
    """Refurbed's Instant Order Notification: refresh that order (``GetOrder``); its reservation and stock pushes
    follow the refresh. A repeat only refreshes it again, which changes nothing."""
    connection = _connection(token, "refurbed")
    order_id, problem = refurbed_order_id(request.body)
    if problem:
        return HttpResponseBadRequest(problem, content_type="text/plain")
    _enqueue_refresh(connection, order_id)
    return _accepted()
