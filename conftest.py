"""Suite-wide safety and fixtures.

- Sockets to anything but loopback are refused: tests never reach the internet.
- ``require_server(reason)`` skips a test that needs a missing server, except in
  CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_real_connect = socket.socket.connect


def _is_loopback(address) -> bool:
    if not isinstance(address, tuple):
        return True  # unix sockets
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise ConnectionRefusedError(f"tests may only reach loopback, not {address!r}")
    return _real_connect(self, address)


socket.socket.connect = _guarded_connect


def require_server(reason: str) -> None:
    """Skip for a missing server locally; fail in CI where every server must be there."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def eager_celery():
    """Run tasks inline (for tests of doors that enqueue); the broker round trip has its own test."""
    from marketsync.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests create many users; a fast hasher keeps the suite quick (production keeps Django's default)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Pages cache per-organization figures (the navigation's stock problem counts); ids repeat between tests."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _sweep_every_tick(settings):
    """Catalog sweeps run on their own slower cadence in production (``SYNC_CATALOG_SWEEP_SECONDS``); tests that
    sync twice expect the second to sweep again, and the cadence's own tests set it."""
    settings.SYNC_CATALOG_SWEEP_SECONDS = 0


@pytest.fixture(scope="session", autouse=True)
def _static_root_exists():
    """WhiteNoise warns on every request when STATIC_ROOT is missing (a fresh clone has not run collectstatic)."""
    from pathlib import Path

    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
