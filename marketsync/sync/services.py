from __future__ import annotations

from django.conf import settings
from django.db import transaction

from connections.models import Connection, EntitySync
from marketsync.sync.registry import UpsertResult


def trigger_sync(*, connection: Connection, entities: list[str] | None = None) -> list[int]:
    """Enqueue every enabled entity of a connection now (after the current transaction commits).

    Clears a pending backoff so "Sync now" means now; an auth error still
    blocks until the credentials are replaced.
    """
    from marketsync.sync.tasks import sync_entity

    syncs = EntitySync.objects.filter(connection=connection, enabled=True).exclude(error_kind=EntitySync.ErrorKind.AUTH)
    if entities:
        syncs = syncs.filter(entity__in=entities)
    ids = list(syncs.values_list("pk", flat=True))
    EntitySync.objects.filter(pk__in=ids).update(next_attempt_at=None)

    def enqueue() -> None:
        for entity_sync_id in ids:
            sync_entity.apply_async(args=[entity_sync_id], expires=settings.SYNC_INTERVAL_SECONDS)

    transaction.on_commit(enqueue)
    return ids


def refresh_record(
    *, connection: Connection, entity: str, external_id: str, transport=None
) -> UpsertResult:
    """Re-read one record (an order after a webhook or a "refresh" click) through its entity's adapter."""
    from marketsync.sync.errors import InvalidRequest
    from marketsync.sync.http import build_http_client
    from marketsync.sync.registry import get_spec

    spec = get_spec(connection.marketplace, entity)
    if spec is None or spec.refresh_one is None:
        raise InvalidRequest(f"{connection.marketplace_label} cannot refresh a single {entity} record.")
    with build_http_client(transport=transport) as http, transaction.atomic():
        return spec.refresh_one(connection, http, str(external_id))
