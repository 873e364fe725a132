"""``manage.py`` run as an operator runs it: a process of its own, on a database of its own.

Argument parsing, system checks and exit codes are those of the real command line (``call_command`` skips
them). The database is a fresh SQLite file, set up through the ops commands themselves; the marketplace is
the simulator served on loopback by the test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from marketsync.simulator.core import simulator_token

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Shell:
    env: dict[str, str]

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, input=stdin, capture_output=True, text=True,
            timeout=120,
        )

    def ok(self, *args: str, stdin: str = "") -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, f"manage.py {' '.join(args)} exited {result.returncode}: {result.stderr}"
        return result.stdout


def operator_shell(tmp_path: Path) -> Shell:
    var = tmp_path / "var"
    var.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketsync.settings",
        "MARKETSYNC_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'ops.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
    }
    shell = Shell(env=env)
    shell.ok("migrate", "--noinput", "--verbosity", "0")
    return shell


def backmarket_shop(shell: Shell, simulator_url: str, *, seed: int, entities: tuple[str, ...] = ("orders",)) -> int:
    """An organization with a Back Market connection on the simulator, synced; returns the connection's id."""
    shell.ok("organization", "create", "acme", "--name", "Acme Refurb")
    created = shell.ok(
        "connection", "create", "--org", "acme", "--marketplace", "backmarket", "--base-url", simulator_url,
        "--platform", "eu", "--options", json.dumps({"locale": "fr-fr"}),
        stdin=json.dumps({"api_key": simulator_token("backmarket", seed)}),
    )
    connection_id = int(re.search(r"Created connection (\d+)", created).group(1))
    shell.ok("sync", "--connection", str(connection_id), "--entity", *entities)
    return connection_id
