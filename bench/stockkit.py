"""What the two stock benches share: the simulator of all four marketplaces on loopback, one organization connected
to it with its lots, listings and offers linked in pairs to shared stock items, and the production processes
(gunicorn for the webhooks, one Celery worker, one beat) on PostgreSQL and Redis.

The simulator runs in the bench's own process (a threaded WSGI server on 127.0.0.1), so the bench places orders and
reads quantities the way the marketplace's buyers and its listing pages see them, while marketsync reaches it over
real HTTP like any marketplace. Its clock runs at real speed from now; no order arrives unless a bench places it, and
Refurbed's own stock edits (its simulated back office) are held still: only the benches' buyers act.

Pairs: every Brick Owl lot is linked to a BrickLink lot's stock item (the import links those that carry a BrickLink
lot id; the rest are linked by the bench, as an owner does), every Refurbed offer to a Back Market listing's item.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

print = functools.partial(print, flush=True)  # noqa: A001 - progress shows while it runs

MARKETPLACES = ("bricklink", "brickowl", "backmarket", "refurbed")
IMPORT_ENTITY = {"bricklink": "inventory", "brickowl": "inventory", "backmarket": "listings", "refurbed": "offers"}
PARTNER = {"bricklink": "brickowl", "brickowl": "bricklink", "backmarket": "refurbed", "refurbed": "backmarket"}
SLUG_PREFIX = "stockbench-"
NEVER = 10**9  # seconds between the simulator's own new orders: none during a run


def configure_environment(name: str) -> None:
    """Defaults for the bench and every process it starts (an operator's exports win)."""
    os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/marketsync_{name}")
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketsync.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", f"{name}-only-secret")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    os.environ.setdefault("MARKETSYNC_VAR_DIR", str(Path(tempfile.gettempdir()) / f"var_{name}"))
    if not os.environ.get("FIELD_ENCRYPTION_KEYS"):
        from cryptography.fernet import Fernet

        os.environ["FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()  # bench credentials are throwaway


def setup_django() -> None:
    import logging

    from bench.chaos import ensure_database


    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the simulator's access log
    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 10 values is the 10th)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-int(fraction * 100 * len(ordered)) // 100))
    return ordered[min(len(ordered), rank) - 1]


# --- the processes ----------------------------------------------------------------------------------------------


class Processes:
    """gunicorn (webhooks), one Celery worker and one beat, with the bench's environment; stopped by their ids."""

    def __init__(self, *, interval: int, sweep: int, concurrency: int = 2, web: bool = True) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="stockbench-"))
        self.env = {**os.environ, "SYNC_INTERVAL_SECONDS": str(interval), "STOCK_PUSH_SWEEP_SECONDS": str(sweep)}
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        bin_dir = Path(sys.executable).parent
        commands = {
            "worker": [str(bin_dir / "celery"), "-A", "marketsync", "worker", "--loglevel", "WARNING", "--concurrency",
                       str(concurrency), "--hostname", f"stockbench-{os.getpid()}@%h"],
            "beat": [str(bin_dir / "celery"), "-A", "marketsync", "beat", "--loglevel", "WARNING", "--schedule",
                     str(self.dir / "celerybeat-schedule")],
        }
        if web:
            commands["web"] = [str(bin_dir / "gunicorn"), "marketsync.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                               "--workers", "2", "--log-level", "warning"]
        for name, command in commands.items():
            log = open(self.dir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
            self.procs[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)
        if web:
            wait_http(f"http://127.0.0.1:{self.port}/webhooks/")  # any answer: it is up
        self._wait_worker()

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_worker(self) -> None:
        from marketsync.sync.tasks import ping

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if ping.delay("up").get(timeout=5) == "up":
                    return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(1)
        raise SystemExit(f"the Celery worker did not answer within 120 s (logs in {self.dir})")

    def tracebacks(self) -> int:
        return sum((self.dir / f"{name}.log").read_text(errors="replace").count("Traceback (most recent call last)")
                   for name in self.procs)

    def stop(self) -> None:
        """A warm shutdown of each (SIGTERM to its main process, which stops its own children); killed after 60 s."""
        for process in self.procs.values():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self.procs.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def cleanup(self, keep_logs: bool) -> None:
        if not keep_logs:
            shutil.rmtree(self.dir, ignore_errors=True)


# --- the shop ------------------------------------------------------------------------------------------------------


@dataclass
class Shop:
    """The simulator, the organization and its four connections (keyed by marketplace)."""

    app: object
    server: object
    organization: object
    conns: dict = field(default_factory=dict)
    seed: int = 1

    # marketplace quantities, as a buyer sees them -------------------------------------------------------------
    def quantity(self, marketplace: str, external_id: str) -> int:
        sim = self.app[marketplace]
        with sim.lock:
            if marketplace == "bricklink":
                lot = sim.lots.get(int(external_id))
                return lot["quantity"] if lot else -1
            if marketplace == "brickowl":
                lot = sim.lots.get(external_id)
                return int(lot["qty"]) if lot else -1
            if marketplace == "backmarket":
                found = [x for x in sim.listings if str(x["listing_id"]) == external_id or x["id"] == external_id]
                return int(found[0]["quantity"]) if found else -1
            offer = sim.offers.get(int(external_id))
            return offer["stock"] if offer else -1

    def linked(self) -> list[tuple[int, str, str]]:
        """Every linked (item id, marketplace, external id) of the organization's four connections."""
        from inventory.models import InventoryLot
        from listings.models import Listing
        from offers.models import Offer

        rows = []
        for marketplace, connection in self.conns.items():
            model = {"bricklink": InventoryLot, "brickowl": InventoryLot, "backmarket": Listing, "refurbed": Offer}[marketplace]
            column = "item_id" if model is InventoryLot else "stock_item_id"
            query = model.objects.filter(connection=connection, **{f"{column}__isnull": False})
            if model is InventoryLot:
                query = query.filter(removed_at__isnull=True)
            rows += [(item, marketplace, ext) for ext, item in query.values_list("external_id", column)]
        return rows

    def others(self, item_id: int, marketplace: str) -> list[tuple[str, str]]:
        """The listings of ``item_id`` on the other marketplaces: (marketplace, external id)."""
        return [(m, ext) for item, m, ext in self.linked() if item == item_id and m != marketplace]

    def item_of(self, marketplace: str, external_id: str) -> int | None:
        for item, m, ext in self.linked():
            if m == marketplace and ext == str(external_id):
                return item
        return None

    def available(self) -> dict[int, int]:
        from inventory.models import InventoryItem

        return {pk: on_hand - reserved for pk, on_hand, reserved in InventoryItem.objects.filter(
            organization=self.organization).values_list("pk", "quantity_on_hand", "quantity_reserved")}

    def mismatches(self) -> list[str]:
        """Every linked marketplace quantity that differs from local available."""
        available = self.available()
        return [f"{m} {ext}: marketplace {self.quantity(m, ext)}, local available {max(0, available[item])}"
                for item, m, ext in self.linked() if self.quantity(m, ext) != max(0, available[item])]

    def push(self, on: bool) -> None:
        from inventory.push import stock_push_toggle

        for connection in self.conns.values():
            stock_push_toggle(connection=connection, on=on)

    def reconcile(self) -> int:
        """What an owner does before turning stock push on: ``inventory reconcile --apply``, then drained here."""
        from inventory.push import reconcile_apply, stock_push_drain
        from inventory.selectors import reconcile_rows

        queued = reconcile_apply(organization=self.organization, rows=reconcile_rows(organization=self.organization))
        stock_push_drain(organization_id=self.organization.pk)
        return queued

    def webhook(self, web: str, marketplace: str) -> str:
        return f"{web}/webhooks/{marketplace}/{self.conns[marketplace].webhook_token}/"

    def close(self) -> None:
        from django.db import OperationalError

        from connections.services import connection_delete

        for attempt in range(5):  # a running worker's transaction may deadlock with the cascade: once more
            try:
                for connection in self.conns.values():
                    connection_delete(connection=connection)
                self.organization.delete()
                break
            except OperationalError:
                if attempt == 4:
                    raise
                time.sleep(2)
        self.server.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def delete_leftovers() -> None:
    """Organizations a killed earlier run left behind: their connections point at a simulator that is gone."""
    from connections.models import Organization
    from connections.services import connection_delete

    for organization in Organization.objects.filter(slug__startswith=SLUG_PREFIX):
        pid = organization.slug.removeprefix(SLUG_PREFIX)
        if pid.isdigit() and _alive(int(pid)):
            continue  # another bench running on this database
        for connection in organization.connections.all():
            connection_delete(connection=connection)
        organization.delete()


def build_shop(*, seed: int, progress=print) -> Shop:
    """The simulator on loopback, an organization with all four stores imported and linked in pairs."""
    from bench.chaoskit.markets import DRIVERS
    from bench.chaoskit.world import LoopbackServer
    from connections.models import EntitySync
    from connections.services import connection_create, organization_create
    from inventory.catalog_sync import catalog_refresh
    from inventory.services import stock_link_set
    from marketsync.simulator.core import SimulatorConfig, build_simulator
    from marketsync.sync.runner import run_entity_sync

    delete_leftovers()
    app = build_simulator(SimulatorConfig(seed=seed, orders=0, speed=1, new_order_every_seconds=NEVER,
                                          start=datetime.now(UTC)))
    refurbed = app["refurbed"]
    refurbed._offer_steps_done = NEVER  # Refurbed's back office edits no stock during a run: only buyers act,
    refurbed._state_steps_done = NEVER  # and no order item is accepted, rejected or cancelled behind their backs
    server = LoopbackServer(app)
    organization = organization_create(slug=f"{SLUG_PREFIX}{os.getpid()}", name="Stock bench")
    shop = Shop(app=app, server=server, organization=organization, seed=seed)
    for marketplace in MARKETPLACES:
        driver = DRIVERS[marketplace]
        shop.conns[marketplace] = connection_create(
            organization=organization, marketplace=marketplace, credentials=driver.credentials(seed),
            platform=driver.platform, options=dict(driver.options), base_url=driver.base_url(server.base), ops=True)
    def imported(connection, entity: str) -> None:
        """A first sync here; a running worker's tick may hold the entity's lease meanwhile: then once it is done."""
        sync_id = EntitySync.objects.get(connection=connection, entity=entity).pk
        for _ in range(120):
            outcome = run_entity_sync(sync_id, force=True)
            if outcome.failed:
                raise SystemExit(f"{connection.marketplace} {entity} import failed: {outcome.error}")
            if outcome.status == "ok":
                return
            time.sleep(1)
        raise SystemExit(f"{connection.marketplace} {entity} import: {outcome.status} {outcome.error}")

    for marketplace, connection in shop.conns.items():
        for entity in (IMPORT_ENTITY[marketplace], "orders"):
            imported(connection, entity)
        if marketplace == "brickowl":
            catalog_refresh(connection=connection)
            imported(connection, "inventory")
    # Pair the rest as an owner would: each Brick Owl lot with a BrickLink lot's item, each offer with a listing's.
    for source, target in (("bricklink", "brickowl"), ("backmarket", "refurbed")):
        linked = shop.linked()
        source_items = sorted({item for item, m, _ in linked if m == source})
        paired = {item for item, m, _ in linked if m == target and item in source_items}
        free = [item for item in source_items if item not in paired]
        for item, m, ext in sorted(linked, key=lambda row: row[2]):
            if m == target and item not in source_items and free:
                stock_link_set(organization=organization, connection_id=shop.conns[target].pk, external_id=ext,
                               item_id=free.pop(0), actor="stock bench", source="cli")
    pairs = {m: sum(1 for item, mm, _ in shop.linked() if mm == m and shop.others(item, m)) for m in MARKETPLACES}
    progress("linked listings with a partner: " + ", ".join(f"{m} {n}" for m, n in pairs.items()))
    return shop


def drain_until_converged(shop: Shop, *, seconds: float = 120, progress=print) -> list[str]:
    """Drain the outbox in this process until every linked quantity equals local available (or time runs out)."""
    from inventory.push import stock_push_drain

    deadline = time.monotonic() + seconds
    while True:
        stock_push_drain(organization_id=shop.organization.pk)
        problems = shop.mismatches()
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(1)
