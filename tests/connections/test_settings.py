"""Start-up refuses DEBUG off without encryption keys, with a message that says what to do."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
SETUP = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'marketsync.settings'; django.setup(); print('started')"


def _run(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("FIELD_ENCRYPTION_KEYS", "DJANGO_SETTINGS_MODULE")}
    env.update(DEBUG="false", SECRET_KEY="test-secret-key-for-startup-check", MARKETSYNC_VAR_DIR=str(tmp_path), FIELD_ENCRYPTION_KEYS="")
    env.update(extra)
    return subprocess.run([sys.executable, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_debug_off_without_keys_stops_with_a_clear_message(tmp_path):
    result = _run(tmp_path)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is not set" in result.stderr
    assert not (tmp_path / "field_encryption.key").exists()  # no silent development key in production


def test_debug_off_with_a_key_starts(tmp_path):
    result = _run(tmp_path, FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_a_push_pause_outside_the_inventory_pause_and_the_limit_stops_start_up(tmp_path):
    key = Fernet.generate_key().decode()
    result = _run(tmp_path, FIELD_ENCRYPTION_KEYS=key, BRICKLINK_INVENTORY_PAUSE_AT="0.8", BRICKLINK_PUSH_PAUSE_AT="0.5")
    assert result.returncode != 0
    assert "BRICKLINK_PUSH_PAUSE_AT must lie between BRICKLINK_INVENTORY_PAUSE_AT and 1.0" in result.stderr
    assert _run(tmp_path, FIELD_ENCRYPTION_KEYS=key, BRICKLINK_PUSH_PAUSE_AT="0.95").returncode == 0
