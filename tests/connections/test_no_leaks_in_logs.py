"""No credential in a log line, even at LOG_LEVEL=DEBUG and in a Celery worker (which sets up its own logging)."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx

from marketsync.marketplaces.bricklink.client import BrickLinkClient

ROOT = Path(__file__).resolve().parents[2]


def test_bricklink_signing_at_debug_level_logs_no_credential(caplog):
    credentials = {
        "consumer_key": "CK-consumerkey-1234", "consumer_secret": "CS-consumersecret-5678",
        "token_value": "TV-tokenvalue-9012", "token_secret": "TS-tokensecret-3456",
    }  # fmt: skip
    body = {"meta": {"code": 200, "message": "OK"}, "data": []}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    client = BrickLinkClient(http=httpx.Client(transport=transport), credentials=credentials,
                             base_url="http://sim/bricklink/api/store/v1", sleep=lambda s: None)
    caplog.set_level(logging.DEBUG)  # what LOG_LEVEL=DEBUG gives every logger without a level of its own
    client.orders(direction="in")
    for value in credentials.values():
        assert value not in caplog.text


def test_a_celery_worker_keeps_the_redacting_filter_on_its_log_handlers():
    """``celery worker`` replaces the root logger's handlers; the redaction must survive that."""
    script = (
        "import django, logging; django.setup()\n"
        "from marketsync.celery import app\n"
        "app.log.setup(loglevel='INFO', redirect_stdouts=False)\n"
        "logging.getLogger('marketsync.probe').warning('GET /v1/order/list?key=SECRET-KEY-42424242 failed')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "marketsync.settings"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "/v1/order/list" in output
    assert "SECRET-KEY-42424242" not in output
