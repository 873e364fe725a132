"""One marketplace's world for one schedule: its simulator (seeded, behind the hostile layer), an organization
with a connection to it, and the ways the harness drives syncs — a beat tick, a crash-killed ``manage.py
sync``, two syncs of one entity at once — and lets time pass.

Time: the simulator's clock starts a few days back and moves only when a schedule advances it (orders are
placed, paid, shipped). On our side a beat tick is every ``SYNC_INTERVAL_SECONDS``; instead of waiting, the
harness ages what the database remembers of time — each entity's backoff (``next_attempt_at``), its lease
(``locked_until``) and the timestamps in its cursor — by one interval between ticks, so the engine's own
cadences (backoff, open-order re-reads, a lease left by a killed worker) play out in a few ticks.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.db import connection as db_connection
from django.db import connections
from django.utils import timezone

from bench.chaoskit.hostile import HostileApp, HostileRule
from bench.chaoskit.markets import Driver

ROOT = Path(__file__).resolve().parents[2]
ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_worlds = itertools.count(1)
IN_PROCESS_HOST = "http://simulator.invalid"  # reached through httpx.WSGITransport, never resolved
IN_PROCESS_TIMEOUT, LOOPBACK_TIMEOUT, SUBPROCESS_HTTP_TIMEOUT = 0.05, 1.5, 1.0


@dataclass
class SyncRun:
    """One sync's outcome, in-process or from a subprocess's output."""

    entity: str
    status: str
    error: str = ""
    bad_records: list[str] = field(default_factory=list)
    how: str = "tick"


@dataclass
class KillRun:
    entity: str
    at_request: int
    killed: bool
    lease_left_seconds: float
    output: str = ""
    tracebacks: int = 0

    @property
    def mid_sync(self) -> bool:
        """Killed while it still held its lease: part-way through the sync, not after it."""
        return self.killed and self.lease_left_seconds > 0


class TracebackLog(logging.Handler):
    """Collects log records that carry a traceback (``logger.exception``, Django's 500 log)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Django logs a 404 or 403 with its exception at WARNING: that is an answer, not a crash.
        if record.levelno >= logging.ERROR and record.exc_info and record.exc_info[0] is not None:
            error = f"{record.exc_info[0].__name__}: {str(record.exc_info[1])[:200]}"
            self.records.append(f"{record.name}: {record.getMessage()[:200]} ({error})")

    def __enter__(self) -> TracebackLog:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger().removeHandler(self)


class LoopbackServer:
    """A WSGI app on 127.0.0.1 and a free port, in a thread (for a subprocess to reach)."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def database_url() -> str:
    """The URL of the database Django is using now (the test database under pytest), for a subprocess."""
    info = db_connection.settings_dict
    if db_connection.vendor == "postgresql":
        auth = info["USER"] + (f":{info['PASSWORD']}" if info.get("PASSWORD") else "")
        return f"postgres://{auth}@{info['HOST'] or '127.0.0.1'}:{info['PORT'] or 5432}/{info['NAME']}"
    return f"sqlite:///{info['NAME']}"


def shared_database() -> str:
    """Why another process cannot see this database ('' when it can)."""
    if db_connection.vendor == "postgresql":
        return ""
    name = str(db_connection.settings_dict["NAME"])
    if "memory" in name or name == ":memory:":
        return "the database is SQLite in memory: another process or thread cannot see its rows (run on PostgreSQL)"
    return "SQLite does not take concurrent writers reliably: crash-kills and concurrent syncs need PostgreSQL"


def _aged(value: Any, delta: timedelta) -> Any:
    if isinstance(value, dict):
        return {k: _aged(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [_aged(v, delta) for v in value]
    if isinstance(value, str) and ISO_TIMESTAMP.match(value):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) - delta
        if value.endswith("Z"):
            fraction = value[19:-1]
            text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            return text + (f".{moment.microsecond:06d}"[: len(fraction)] if fraction else "") + "Z"
        return moment.isoformat()
    return value


class World:
    def __init__(self, driver: Driver, *, seed: int, orders: int, loopback: bool = False, retry_wait: float = 0.5,
                 interval: int | None = None) -> None:
        from connections.services import connection_create, organization_create
        from marketsync.simulator.core import SimulatorConfig, build_simulator

        self.driver = driver
        self.seed = seed
        self.retry_wait = retry_wait
        self.interval = interval or settings.SYNC_INTERVAL_SECONDS
        start = (timezone.now() - timedelta(days=3)).replace(microsecond=0)
        config = SimulatorConfig(seed=seed, orders=orders, speed=0, new_order_every_seconds=3 * 3600, start=start,
                                 marketplaces=(driver.name,))
        self.app = build_simulator(config)
        self.sim = self.app[driver.prefix]
        self.sim.faults.retry_after_seconds = 0
        # In-process (WSGI) nothing times out: the simulator's timeout fault is its slow 5xx. A subprocess on
        # loopback gets a real read timeout (its client waits 1 s, the simulator 1.5 s).
        self.sim.faults.timeout_seconds = IN_PROCESS_TIMEOUT
        self.hostile = HostileApp(self.app, locate=driver.locate)
        self.transport = httpx.WSGITransport(app=self.hostile)
        self.server = LoopbackServer(self.hostile) if loopback else None
        host = self.server.base if self.server else IN_PROCESS_HOST
        number = next(_worlds)
        self.organization = organization_create(slug=f"chaos-{driver.name}-{seed}-{os.getpid()}-{number}",
                                                name=f"Chaos {driver.name} {seed}")
        self.connection = connection_create(
            organization=self.organization, marketplace=driver.name, credentials=driver.credentials(seed),
            platform=driver.platform, options=dict(driver.options), base_url=driver.base_url(host), ops=True,
        )
        self.runs: list[SyncRun] = []
        self.kills: list[KillRun] = []
        self.seen: dict[str, set[str]] = {}
        self.operator_actions: list[str] = []

    # --- syncing ------------------------------------------------------------------------------------------
    def sync(self, entity_sync_id: int, *, how: str = "tick") -> SyncRun:
        from marketsync.sync.runner import run_entity_sync

        outcome = run_entity_sync(entity_sync_id, transport=self.transport)
        run = SyncRun(outcome.entity, outcome.status, outcome.error, list(outcome.bad_records), how)
        self.runs.append(run)
        return run

    def tick(self) -> list[SyncRun]:
        """One beat: every due entity of this connection, as the dispatcher picks them."""
        from marketsync.sync.selectors import entity_sync_due_list

        done = []
        for entity in self.driver.entities:
            for entity_sync_id in entity_sync_due_list(entity=entity).filter(connection=self.connection).values_list("pk", flat=True):
                done.append(self.sync(entity_sync_id))
            self.driver.after_sync(entity, connection=self.connection, transport=self.transport)
        if done:
            self.snapshot()
        return done

    def entity_sync_id(self, entity: str) -> int:
        from connections.models import EntitySync

        return EntitySync.objects.get(connection=self.connection, entity=entity).pk

    def age(self, seconds: int | None = None) -> None:
        """Let ``seconds`` (one beat interval) pass for what the database remembers of time: each entity's
        backoff, lease and cursor, and when each order was last read (paced re-reads come due)."""
        from django.db.models import F

        from connections.models import EntitySync
        from orders.models import Order

        delta = timedelta(seconds=seconds or self.interval)
        syncs = list(EntitySync.objects.filter(connection=self.connection))
        for sync in syncs:
            sync.next_attempt_at = sync.next_attempt_at - delta if sync.next_attempt_at else None
            sync.locked_until = sync.locked_until - delta if sync.locked_until else None
            sync.cursor = _aged(sync.cursor or {}, delta)
        EntitySync.objects.bulk_update(syncs, ["next_attempt_at", "locked_until", "cursor"])
        Order.objects.filter(connection=self.connection).update(last_synced_at=F("last_synced_at") - delta)

    def snapshot(self) -> None:
        """Remember every record stored so far, to find any that later vanish."""
        for kind, facts in self.driver.local(self.connection).items():
            self.seen.setdefault(kind, set()).update(facts)

    # --- a crash-killed sync ------------------------------------------------------------------------------
    def killed_sync(self, entity: str, *, at_request: int, delay: float) -> KillRun:
        """``manage.py sync`` of one entity in its own process, SIGKILLed ``delay`` seconds after the simulator
        received its ``at_request``-th request (or not at all if it finishes first)."""
        if self.server is None:
            raise RuntimeError("a crash-kill needs the world built with loopback=True")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "marketsync.settings",
            "DATABASE_URL": database_url(),
            "SYNC_HTTP_TIMEOUT_SECONDS": str(SUBPROCESS_HTTP_TIMEOUT),
            "SYNC_MAX_RETRY_WAIT_SECONDS": str(self.retry_wait),
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "LOG_LEVEL": "WARNING",
        }
        process = subprocess.Popen(
            [sys.executable, "manage.py", "sync", "--connection", str(self.connection.pk), "--entity", entity],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        first = self.hostile.requests
        killed = threading.Event()

        def kill() -> None:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                killed.set()

        def on_request(number: int) -> None:
            if number - first == at_request:
                if delay:
                    threading.Timer(delay, kill).start()
                else:
                    kill()

        self.hostile.on_request = on_request
        self.sim.faults.timeout_seconds = LOOPBACK_TIMEOUT
        try:
            stdout, stderr = process.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        finally:
            self.hostile.on_request = None
            self.sim.faults.timeout_seconds = IN_PROCESS_TIMEOUT
        lease_left = self._lease_left(entity)
        output = (stdout + stderr).strip()
        run = KillRun(entity, at_request, killed.is_set() and process.returncode == -signal.SIGKILL, lease_left, output[-2000:],
                      output.count("Traceback (most recent call last)"))
        self.kills.append(run)
        for line in stdout.splitlines():
            if f"· {entity}:" in line:
                status = line.split(": ", 1)[1].split(" ", 1)[0]
                error = line.split(" error=", 1)[1] if " error=" in line else ""
                self.runs.append(SyncRun(entity, status, error, [], "subprocess"))
        self.snapshot()
        return run

    def _lease_left(self, entity: str) -> float:
        from connections.models import EntitySync

        until = EntitySync.objects.filter(connection=self.connection, entity=entity).values_list("locked_until", flat=True).first()
        return max(0.0, (until - timezone.now()).total_seconds()) if until else 0.0

    # --- two syncs at once --------------------------------------------------------------------------------
    def concurrent_sync(self, entity: str, *, lease_lost: bool, meanwhile=None) -> tuple[SyncRun | None, SyncRun | None]:
        """Two syncs of one (connection, entity) at once. ``lease_lost``: the first stalls with the answer to
        its first request while its lease runs out, ``meanwhile`` changes things at the marketplace, the
        second sync runs whole, then the first goes on with its old answer (a worker that stalled past its
        lease); otherwise both start together and race for the lease."""
        from connections.models import EntitySync

        entity_sync_id = self.entity_sync_id(entity)
        results: dict[str, SyncRun | None] = {"first": None, "second": None}
        errors: list[BaseException] = []

        def run(name: str, barrier: threading.Barrier | None = None) -> None:
            try:
                if barrier is not None:
                    barrier.wait(timeout=30)
                results[name] = self.sync(entity_sync_id, how=f"concurrent-{name}")
            except BaseException as exc:  # reported, never lost in a thread
                errors.append(exc)
            finally:
                if threading.current_thread() is not threading.main_thread():
                    connections.close_all()  # this thread's own connections

        if lease_lost:
            self.hostile.hold(count=1)
            first = threading.Thread(target=run, args=("first",))
            first.start()
            deadline = time.monotonic() + 30
            while first.is_alive() and time.monotonic() < deadline and not self.hostile.held.wait(0.05):
                pass  # until the first sync's answer is parked (or it ended without a request: a lease held elsewhere)
            if self.hostile.held.is_set():
                EntitySync.objects.filter(pk=entity_sync_id).update(locked_until=timezone.now() - timedelta(seconds=1))
                if meanwhile is not None:
                    meanwhile()
                run("second")
            self.hostile.release()
            first.join(timeout=120)
        else:
            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=run, args=(name, barrier)) for name in ("first", "second")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        if errors:
            raise errors[0]
        self.snapshot()
        return results["first"], results["second"]

    # --- the marketplace side -----------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """The marketplace's clock moves on (never past our own now)."""
        limit = (timezone.now() - timedelta(minutes=5) - self.app.clock.now()).total_seconds()
        self.app.clock.advance(max(0.0, min(seconds, limit)))
        with self.sim.lock:
            self.sim.evolve(self.app.clock.now())

    def set_faults(self, rates: dict[str, float]) -> None:
        self.sim.faults.configure({"rates": rates})

    def faults_off(self) -> None:
        from marketsync.simulator.core import FAULT_KINDS

        self.sim.faults.configure({"rates": {k: 0.0 for k in FAULT_KINDS}})
        self.driver.auth_faults_off(self.sim)

    def add_hostile(self, rule: HostileRule) -> None:
        self.hostile.rules.append(rule)

    def operator_resaves_credentials(self) -> None:
        """What the owner does after a 401: enter the (same, valid) credentials again."""
        from connections.services import connection_rotate_credentials

        connection_rotate_credentials(connection=self.connection, credentials=self.driver.credentials(self.seed))
        self.operator_actions.append("re-saved the credentials")

    def close(self, *, keep: bool = False) -> None:
        if self.server is not None:
            self.server.close()
        if not keep:
            from connections.services import connection_delete

            connection_delete(connection=self.connection)
            self.organization.delete()
