"""The stock latency bench runs at a tiny size, as an operator runs it: real gunicorn, Celery worker and beat on
PostgreSQL and Redis (skipped without them locally, a failure in CI). It prints its figures and exits 0.
(The oversell bench has no such sample: its week needs several ticks to converge, minutes on a loaded machine.)"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection

from conftest import require_server
from marketsync.celery import app

ROOT = Path(__file__).resolve().parents[2]


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def bench_env(db):
    if connection.vendor != "postgresql":
        require_server("the stock benches need PostgreSQL (their processes share the database)")
    broker, backend = app.conf.broker_url, str(app.conf.result_backend)
    if not broker.startswith("redis://") or not _reachable(broker):
        require_server(f"the stock benches need a Redis broker; have {broker}")
    info = connection.settings_dict
    auth = info["USER"] + (f":{info['PASSWORD']}" if info.get("PASSWORD") else "")
    server = f"postgres://{auth}@{info['HOST'] or '127.0.0.1'}:{info['PORT'] or 5432}"
    return {**os.environ, "DATABASE_URL": f"{server}/marketsync_stockbench_smoke", "CELERY_BROKER_URL": broker,
            "CELERY_RESULT_BACKEND": backend if backend.startswith("redis://") else broker}


def _run(env, *args) -> str:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    return result.stdout


def test_stock_latency_bench_measures_the_notified_path_under_a_minute(bench_env):
    out = _run(bench_env, "bench/stock_latency.py", "--orders", "1", "--path", "notified", "--interval", "30",
               "--timeout", "60")
    for marketplace in ("bricklink", "brickowl", "refurbed"):
        assert re.search(rf"notified\s+{marketplace}\s+1\s+[\d.]+\s+[\d.]+", out), out
    assert "Back Market sends no order notification" in out
    assert re.search(r"goal: notified p95 under 60 s → [\d.]+ s ok", out), out
    assert "linked quantities different from local available: 0" in out and "inventory check: ok" in out

