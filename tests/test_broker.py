"""A task round-trips through the broker the project is configured with: Redis in CI, the embedded
filesystem broker locally. No eager mode here: the message really goes through the transport."""

import socket
import uuid
from urllib.parse import urlparse

from celery.contrib.testing.worker import start_worker

from conftest import require_server
from marketsync.celery import app
from marketsync.sync.tasks import ping


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def test_ping_task_round_trips_through_the_configured_broker():
    broker = app.conf.broker_url
    if broker.startswith("redis://") and not _reachable(broker):
        require_server(f"Redis broker {broker} is not reachable")
    backend = str(app.conf.result_backend)
    if backend.startswith("redis://") and not _reachable(backend):
        require_server(f"Redis result backend {backend} is not reachable")
    assert not app.conf.task_always_eager
    # A queue of our own, so a stale message from a development worker's queue can't interfere.
    queue = f"test-broker-{uuid.uuid4().hex[:12]}"
    value = uuid.uuid4().hex
    with start_worker(app, perform_ping_check=False, queues=[queue], shutdown_timeout=20):
        result = ping.apply_async(args=[value], queue=queue)
        assert result.get(timeout=30) == value
    assert result.successful()


def test_a_missing_server_skips_locally_and_fails_in_ci(monkeypatch):
    import pytest

    import conftest

    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        conftest.require_server("no Redis")
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="required in CI: no Redis"):
        conftest.require_server("no Redis")
