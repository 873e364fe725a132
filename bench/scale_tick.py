"""One sync tick of N connections on real Celery workers, Redis and PostgreSQL, against the simulator.

    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://.../8 CELERY_RESULT_BACKEND=redis://.../9 \\
    .venv/bin/python bench/scale_tick.py --connections 1000 --latency-ms 100 --pool threads --concurrency 32

N connections, one organization each, round-robin over the four marketplaces; connection i is merchant i // 4
of its marketplace (the simulator's accounts: own credentials, own data). The simulator runs in its own process
with ``--orders`` orders seeded per merchant and its clock stopped, so nothing changes between ticks.

1. Setup (skipped when ``--reuse`` finds the same connections): the organizations, connections and entity syncs.
2. A warm tick at ``--warm-latency-ms``: the first syncs (first imports), so the next tick is idle.
3. ``--ticks`` idle ticks at ``--latency-ms``: every entity's dispatcher runs as beat runs it; the bench waits
   until every enqueued sync has finished (or expired, or ``--timeout``).

For each idle tick it prints the tick's duration, syncs/s, worker CPU per sync (whole worker processes from
/proc, Celery's own work included; and the task's own thread CPU), median queries and API calls per sync per
marketplace and entity, the most database connections open at once, and whether every due sync ran.

The workers are ``celery -A bench.scale_tick worker``: the project's app plus signal handlers that count each
sync task's queries, HTTP requests and thread CPU into a Redis list. ``--workers`` starts that many worker
processes (as on that many hosts).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketsync.settings")

from marketsync.celery import app  # noqa: E402  (``celery -A bench.scale_tick`` finds the app here)

SEED = 1000
SLUG_PREFIX = "scale-"
STATS_KEY = "bench:scale_tick:syncs"
SYNC_TASK = "marketsync.sync.sync_entity"
API_PATHS = {"refurbed": "", "backmarket": "", "bricklink": "/api/store/v1", "brickowl": "/v1"}
MARKETS = ("refurbed", "backmarket", "bricklink", "brickowl")


# --- inside the workers: count each sync task's queries, requests and CPU --------------------------------------

_counts = threading.local()


def _redis():
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def _count_query(execute, sql, params, many, context):
    _counts.queries = getattr(_counts, "queries", 0) + 1
    return execute(sql, params, many, context)


def _install_request_counter() -> None:
    """Count each sync's HTTP requests, its prefetch threads' included: a client built while a sync task runs
    in this thread counts into that task's counter, from whichever thread it sends."""
    import httpx

    if getattr(httpx.Client.send, "counted", False):
        return
    init, send = httpx.Client.__init__, httpx.Client.send

    def counting_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._scale_tick_counter = getattr(_counts, "counter", None)

    def counting_send(self, request, **kwargs):
        counter = getattr(self, "_scale_tick_counter", None)
        if counter is not None:
            counter[0] += 1
        return send(self, request, **kwargs)

    counting_send.counted = True
    httpx.Client.__init__, httpx.Client.send = counting_init, counting_send


@app.on_after_finalize.connect
def _worker_counters(sender, **kwargs) -> None:
    from celery import signals

    if os.environ.get("SCALE_TICK_WORKER") != "1":
        return
    if os.environ.get("SCALE_TICK_FRESH_CLIENTS") == "1":  # --fresh-clients: a new pool and SSL context per client
        from marketsync.sync import http

        http.shared_transport = lambda: None

    @signals.task_prerun.connect(weak=False)
    def started(task_id=None, task=None, **rest) -> None:
        if task.name != SYNC_TASK:
            return
        from django.db import connection

        _install_request_counter()
        _counts.queries, _counts.counter = 0, [0]
        _counts.cpu = time.thread_time()
        _counts.wall = time.monotonic()
        connection.execute_wrappers.append(_count_query)

    @signals.task_postrun.connect(weak=False)
    def finished(task_id=None, task=None, args=None, retval=None, state=None, **rest) -> None:
        if task.name != SYNC_TASK:
            return
        from django.db import connection

        if _count_query in connection.execute_wrappers:
            connection.execute_wrappers.remove(_count_query)
        calls, _counts.counter = _counts.counter[0], None
        status = retval.get("status") if isinstance(retval, dict) else str(state)
        _redis().rpush(STATS_KEY, json.dumps({
            "id": args[0], "status": status, "queries": _counts.queries, "calls": calls,
            "cpu_ms": (time.thread_time() - _counts.cpu) * 1000, "wall_ms": (time.monotonic() - _counts.wall) * 1000,
            "error": (retval or {}).get("error", "") if isinstance(retval, dict) else "",
        }))

    @signals.task_revoked.connect(weak=False)
    def revoked(request=None, expired=False, **rest) -> None:
        if getattr(request, "task", None) == SYNC_TASK or getattr(request, "name", None) == SYNC_TASK:
            _redis().rpush(STATS_KEY, json.dumps({"id": (request.args or [None])[0], "status": "expired" if expired
                                                  else "revoked", "queries": 0, "calls": 0, "cpu_ms": 0, "wall_ms": 0}))


# --- the simulator's process ------------------------------------------------------------------------------------


def simulator_app():
    """The simulator's WSGI app for gunicorn (``bench.scale_tick:simulator_app()``), configured by the environment."""
    from marketsync.simulator.core import SimulatorConfig, build_simulator

    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # the same data all day
    config = SimulatorConfig(seed=SEED, orders=int(os.environ["SCALE_SIM_ORDERS"]), speed=0, new_order_every_seconds=1e9,
                             start=start, accounts=int(os.environ["SCALE_SIM_ACCOUNTS"]),
                             latency_ms=int(os.environ["SCALE_SIM_LATENCY_MS"]))
    return build_simulator(config)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_simulator(accounts: int, orders: int, latency_ms: int, threads: int) -> tuple[subprocess.Popen, str]:
    """The simulator in a process of its own: gunicorn, one process (the simulator's state is in memory) with
    threads, and keep-alive like a marketplace's API (werkzeug's server closes every connection)."""
    import httpx

    port = free_port()
    env = {**os.environ, "SCALE_SIM_ACCOUNTS": str(accounts), "SCALE_SIM_ORDERS": str(orders),
           "SCALE_SIM_LATENCY_MS": str(latency_ms)}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread", "--threads", str(threads),
         "--keep-alive", "60", "--backlog", "4096", "--timeout", "0", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "bench.scale_tick:simulator_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_sim/state", timeout=1).status_code == 200:
                return process, f"http://127.0.0.1:{port}"
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the simulator did not start")


def set_latency(host: str, latency_ms: int) -> None:
    import httpx

    for market in MARKETS:
        httpx.post(f"{host}/_sim/{market}/faults", json={"latency_ms": latency_ms}, timeout=10).raise_for_status()


# --- processes' CPU from /proc ----------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def tree_cpu_seconds(root_pids: list[int]) -> float:
    """User + system CPU of these processes and their live children."""
    pids = set(root_pids)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) in root_pids:
                pids.add(int(entry.name))
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


# --- the bench --------------------------------------------------------------------------------------------------


def credentials(market: str, seed: int) -> dict[str, str]:
    from marketsync.simulator.core import simulator_token

    if market == "bricklink":
        return {p: simulator_token("bricklink", seed, p) for p in ("consumer_key", "consumer_secret", "token_value", "token_secret")}
    return {"api_key": simulator_token(market, seed)}


def setup(n: int, host: str, orders: int, reuse: bool) -> bool:
    """The N connections; returns True when they were created now (a warm tick is needed)."""
    from connections.models import Connection, Organization
    from connections.services import connection_create

    existing = Connection.objects.filter(organization__slug__startswith=SLUG_PREFIX)
    if reuse and existing.count() == n and all(
        (c.options or {}).get("bench_orders") == orders for c in existing.only("options")[:4]
    ):
        for market in MARKETS:  # the simulator listens on a new port
            existing.filter(marketplace=market).update(base_url=f"{host}/{market}{API_PATHS[market]}")
        return False
    print(f"setup: deleting {existing.count()} earlier bench connections, creating {n}", flush=True)
    Organization.objects.filter(slug__startswith=SLUG_PREFIX).delete()
    for i in range(n):
        market = MARKETS[i % 4]
        org = Organization.objects.create(slug=f"{SLUG_PREFIX}{i}", name=f"Scale {i}")
        connection_create(
            organization=org, marketplace=market, credentials=credentials(market, SEED + i // 4),
            base_url=f"{host}/{market}{API_PATHS[market]}", ops=True,
            options={"bench_orders": orders, **({"locale": "fr-fr"} if market == "backmarket" else {})},
        )
    return True


class ConnectionSampler(threading.Thread):
    """The most database connections open at once (pg_stat_activity, this bench's own left out)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg
        from django.db import connection

        params = connection.get_connection_params()
        with psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")},
                             autocommit=True) as db:
            while not self.stop.is_set():
                count = db.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND pid <> pg_backend_pid()").fetchone()[0]
                self.peak = max(self.peak, count - 1)  # the bench's Django connection
                self.stop.wait(0.25)


def run_tick(worker_pids: list[int], sim_pid: int, timeout: float) -> dict:
    from django.conf import settings

    from marketsync.marketplaces import Entity
    from marketsync.sync.tasks import dispatch_entity

    r = _redis()
    r.delete(STATS_KEY)
    sampler = ConnectionSampler()
    sampler.start()
    cpu_before, sim_before = tree_cpu_seconds(worker_pids), tree_cpu_seconds([sim_pid])
    started = time.monotonic()
    due = sum(dispatch_entity(entity.value) for entity in Entity)  # what beat's entries do at a tick
    done, last_progress, last = 0, time.monotonic(), -1
    while done < due and time.monotonic() - started < timeout:
        time.sleep(0.2)
        done = r.llen(STATS_KEY)
        if done != last:
            last, last_progress = done, time.monotonic()
        elif time.monotonic() - last_progress > max(60, settings.SYNC_INTERVAL_SECONDS + 30):
            break
    seconds = time.monotonic() - started
    cpu = tree_cpu_seconds(worker_pids) - cpu_before
    sim_cpu = tree_cpu_seconds([sim_pid]) - sim_before
    sampler.stop.set()
    sampler.join()
    rows = [json.loads(x) for x in r.lrange(STATS_KEY, 0, -1)]
    return {"due": due, "rows": rows, "seconds": seconds, "worker_cpu": cpu, "sim_cpu": sim_cpu,
            "db_connections": sampler.peak, "load": os.getloadavg()[0]}


def report(tick: dict, label: str) -> dict:
    from connections.models import EntitySync

    rows = tick["rows"]
    ran = [r for r in rows if r["status"] not in ("expired", "revoked")]
    markets = dict(EntitySync.objects.filter(pk__in=[r["id"] for r in rows]).values_list("pk", "connection__marketplace"))
    entities = dict(EntitySync.objects.filter(pk__in=[r["id"] for r in rows]).values_list("pk", "entity"))
    statuses = defaultdict(int)
    for r in rows:
        statuses[r["status"]] += 1
    n = max(1, len(ran))
    summary = {
        "label": label, "due": tick["due"], "ran": len(ran), "statuses": dict(statuses),
        "tick_s": round(tick["seconds"], 1), "syncs_per_s": round(len(ran) / tick["seconds"], 1),
        "worker_cpu_ms_per_sync": round(tick["worker_cpu"] * 1000 / n, 1),
        "task_cpu_ms_per_sync": round(statistics.median([r["cpu_ms"] for r in ran]), 1) if ran else None,
        "simulator_cores": round(tick["sim_cpu"] / tick["seconds"], 2),
        "worker_cores": round(tick["worker_cpu"] / tick["seconds"], 2),
        "db_connections_peak": tick["db_connections"],
        "every_due_sync_ran": len(ran) == tick["due"] and not statuses.get("failed"),
        "load_average": round(tick["load"], 1),
    }
    print(f"\n== {label}")
    print(f"tick {summary['tick_s']} s for {tick['due']} due syncs: {summary['syncs_per_s']} syncs/s; "
          f"ran {len(ran)} ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})")
    print(f"worker CPU {summary['worker_cpu_ms_per_sync']} ms per sync (whole processes, {summary['worker_cores']} cores); "
          f"task thread CPU median {summary['task_cpu_ms_per_sync']} ms; simulator {summary['simulator_cores']} cores")
    print(f"database connections open at most: {summary['db_connections_peak']}; "
          f"machine load average at the end: {summary['load_average']} (2 cores)")
    print(f"every due sync ran (and none failed): {'yes' if summary['every_due_sync_ran'] else 'NO'}")
    groups = defaultdict(list)
    for r in ran:
        groups[(markets.get(r["id"], "?"), entities.get(r["id"], "?"))].append(r)
    print(f"{'marketplace':<11} {'entity':<14} {'syncs':>5} {'queries':>8} {'calls':>6} {'cpu ms':>7} {'wall ms':>8}  (medians)")
    per_entity = {}
    for (market, entity), group in sorted(groups.items()):
        med = {k: statistics.median([g[k] for g in group]) for k in ("queries", "calls", "cpu_ms", "wall_ms")}
        per_entity[f"{market}.{entity}"] = med
        print(f"{market:<11} {entity:<14} {len(group):>5} {med['queries']:>8.0f} {med['calls']:>6.0f} "
              f"{med['cpu_ms']:>7.1f} {med['wall_ms']:>8.0f}")
    failed = [r for r in rows if r["status"] == "failed"][:3]
    for r in failed:
        print(f"  failed: {markets.get(r['id'])}.{entities.get(r['id'])}: {r.get('error', '')[:200]}")
    summary["per_entity"] = per_entity
    return summary


def profile_idle_syncs(rounds: int) -> None:
    """Every bench sync ``rounds`` times in this process under cProfile: where an idle sync's CPU goes."""
    import cProfile
    import pstats

    from connections.models import EntitySync
    from marketsync.sync.runner import run_entity_sync

    ids = list(EntitySync.objects.filter(connection__organization__slug__startswith=SLUG_PREFIX).values_list("pk", flat=True))
    for pk in ids:  # a first pass outside the profile: imports, the pool's connections
        run_entity_sync(pk)
    profiler = cProfile.Profile(time.process_time)  # CPU, not time spent waiting on the database or the network
    cpu = time.process_time()
    profiler.enable()
    for _ in range(rounds):
        for pk in ids:
            EntitySync.objects.filter(pk=pk).update(next_attempt_at=None, locked_until=None)
            run_entity_sync(pk)
    profiler.disable()
    cpu = time.process_time() - cpu
    print(f"\nprofile: {rounds * len(ids)} syncs in this process, {cpu * 1000 / (rounds * len(ids)):.1f} ms CPU per sync "
          f"(profiler overhead included)")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def start_workers(count: int, pool: str, concurrency: int, fresh_clients: bool) -> list[subprocess.Popen]:
    env = {**os.environ, "SCALE_TICK_WORKER": "1", "SCALE_TICK_FRESH_CLIENTS": "1" if fresh_clients else ""}
    workers = []
    for i in range(count):
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "bench.scale_tick", "worker", "-P", pool, "-c", str(concurrency),
             "-n", f"scale{i}-{os.getpid()}@%h", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-Q", "celery"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(Path(os.environ.get("MARKETSYNC_VAR_DIR", "/tmp"))
                                                                       / f"scale_worker{i}.log", "w"),
        ))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if sum(1 for reply in replies for name in reply if name.startswith("scale")) >= count:
            return workers
    raise SystemExit("the workers did not answer a ping within 60 s")


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--orders", type=int, default=0, help="orders seeded per merchant (0 / 100 / 1000)")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--warm-latency-ms", type=int, default=0, help="latency during the warm (first-sync) tick")
    parser.add_argument("--pool", default="threads", choices=("prefork", "threads", "gevent", "eventlet", "solo"))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (as on that many hosts)")
    parser.add_argument("--ticks", type=int, default=1, help="idle ticks measured")
    parser.add_argument("--reuse", action="store_true", help="keep the connections of an earlier run with the same N")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--fresh-clients", action="store_true",
                        help="for comparison: every sync builds its own connection pool and SSL context (as before)")
    parser.add_argument("--profile", type=int, metavar="ROUNDS", default=0,
                        help="instead of a tick, run every sync ROUNDS times in this process under cProfile")
    parser.add_argument("--json", help="append each idle tick's summary to this file")
    parser.add_argument("--simulator-threads", type=int, default=64, help="the simulator's request threads")
    args = parser.parse_args()
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection as db

    if db.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        raise SystemExit("scale_tick needs PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL, CELERY_RESULT_BACKEND).")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # Two benches on one broker would share the queue and the counters: one at a time.
    if not _redis().set("bench:scale_tick:running", os.getpid(), nx=True, ex=int(args.timeout) * (args.ticks + 1) + 900):
        raise SystemExit("another scale_tick runs on this broker (key bench:scale_tick:running); wait for it")
    try:
        run(args)
    finally:
        _redis().delete("bench:scale_tick:running")


def run(args) -> None:
    accounts = (args.connections + 3) // 4
    simulator, host = start_simulator(accounts, args.orders, args.warm_latency_ms, args.simulator_threads)
    workers: list[subprocess.Popen] = []
    try:
        fresh = setup(args.connections, host, args.orders, args.reuse)
        if args.profile:
            set_latency(host, args.latency_ms)
            profile_idle_syncs(args.profile)
            return
        app.control.purge()
        workers = start_workers(args.workers, args.pool, args.concurrency, args.fresh_clients)
        pids = [w.pid for w in workers]
        config = (f"{args.connections} connections, {args.orders} orders per merchant, {args.workers} × {args.pool} "
                  f"{args.concurrency}{' (fresh clients)' if args.fresh_clients else ''}, latency {args.latency_ms} ms; "
                  f"load average {os.getloadavg()[0]:.2f}")
        if fresh or not args.reuse:
            set_latency(host, args.warm_latency_ms)
            report(run_tick(pids, simulator.pid, args.timeout), f"warm tick (first syncs) at {args.warm_latency_ms} ms")
        set_latency(host, args.latency_ms)
        from connections.models import EntitySync
        from orders.models import Order

        stored = Order.objects.filter(organization__slug__startswith=SLUG_PREFIX).count()
        print(f"\norders stored: {stored / max(1, args.connections):.0f} per connection", flush=True)
        for tick in range(args.ticks):
            # Every sync due now, as after an interval: failures' backoff cleared (they are reported).
            EntitySync.objects.filter(connection__organization__slug__startswith=SLUG_PREFIX).update(
                next_attempt_at=None, locked_until=None)
            summary = report(run_tick(pids, simulator.pid, args.timeout), f"idle tick {tick + 1}: {config}")
            if args.json:
                with open(args.json, "a") as out:
                    out.write(json.dumps({"config": config, "args": vars(args), **summary}) + "\n")
    finally:
        stop(workers)
        stop([simulator])


if __name__ == "__main__":
    main()
