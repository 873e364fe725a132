"""Deleting a connection while a worker writes a row of it (a stock push's audit entry, a synced order). The cascade
deletes the connection's rows table by table and the connection last; a row a worker commits in between, after its
table was emptied, would make the delete fail at its commit (Django's foreign keys are checked then). The delete
takes the connection's row first, so that write waits and fails alone (the stock push drain then drops it:
tests/inventory/test_stock_push_deleted_connection.py). Needs PostgreSQL (SQLite has one writer at a time)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError
from django.db import connection as db
from django.db.models.signals import post_delete

from conftest import require_server
from connections.models import AuditEntry, Connection, EntitySync
from connections.services import audit_record, connection_delete
from tests.factories import make_connection, make_organization


def _waiting_on_a_lock() -> bool:
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0] > 0


def _in_thread(job, outcome: list) -> threading.Thread:
    def run():
        from django.db import connection as thread_db
        try:
            outcome.append(job())
        except Exception as exc:  # noqa: BLE001 - shown by the assertions
            outcome.append(exc)
        finally:
            thread_db.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_an_audit_entry_committed_in_the_middle_of_the_cascade_fails_alone_and_the_delete_succeeds():
    if db.vendor != "postgresql":
        require_server("PostgreSQL (DATABASE_URL) for concurrent workers")
    organization = make_organization("race")
    doomed, other = make_connection(organization, "refurbed"), make_connection(organization, "backmarket")
    halfway, resume = threading.Event(), threading.Event()

    def pause(sender, instance, **kwargs):  # the audit entries are deleted by now, the connection not yet
        if instance.connection_id == doomed.pk and not halfway.is_set():
            halfway.set()
            resume.wait(30)

    post_delete.connect(pause, sender=EntitySync, weak=False, dispatch_uid="test_delete_race")
    try:
        deleted, written = [], []
        deleting = _in_thread(lambda: connection_delete(connection=doomed), deleted)
        assert halfway.wait(30)
        writing = _in_thread(lambda: audit_record(organization=organization, connection=doomed, action="inventory.push",
                                                  target_type="offer", target_id="1", outcome=AuditEntry.Outcome.PENDING),
                             written)
        deadline = time.monotonic() + 5
        while writing.is_alive() and not _waiting_on_a_lock() and time.monotonic() < deadline:
            time.sleep(0.05)
        resume.set()
        deleting.join(60)
        writing.join(60)
    finally:
        resume.set()
        post_delete.disconnect(sender=EntitySync, dispatch_uid="test_delete_race")
    assert len(deleted) == 1 and isinstance(deleted[0], dict), deleted
    assert len(written) == 1 and isinstance(written[0], IntegrityError), written
    assert not Connection.objects.filter(pk=doomed.pk).exists()
    assert not AuditEntry.objects.filter(connection_id=doomed.pk).exists()
    assert Connection.objects.filter(pk=other.pk).exists()
