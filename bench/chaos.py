"""The chaos suite: seeded fault schedules, crash-kills, concurrent syncs, hostile payloads and junk web
requests against the simulator, then a report of what held and what broke.

    .venv/bin/python bench/chaos.py --seed 1 --schedules 93 --kills 54 --junk 521

Options: --marketplace refurbed|backmarket|bricklink|brickowl (repeatable; default all four), --seed (the
first schedule's seed; schedule i uses seed + i), --schedules N (per marketplace), --kills N (crash-killed
``manage.py sync`` runs, spread over the schedules), --junk N (junk web requests), --horizon (seconds the
engine has to catch up after the faults, default eight hours, played out in ticks), --retry-wait (the
engine's SYNC_MAX_RETRY_WAIT_SECONDS during the run), --keep (leave each schedule's organization in the
database to look at).

Every schedule with an odd seed carries hostile records, every third seed two syncs of one entity at once.
The database is ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/marketsync_chaos``, created and
migrated when missing); each schedule works in an organization of its own, deleted afterwards. Crash-kills
and concurrent syncs need PostgreSQL (another process must see the rows); on SQLite they are skipped, said so.
The report prints, per marketplace, schedules run and converged, duplicates, losses, ledger problems,
hostile records (and those dropped silently), tracebacks in the logs, kills and concurrent runs; then 500s
of the junk requests, the wall time, and each failing schedule with what failed and the command that
re-runs it alone. The exit status is 1 when anything failed.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketsync_chaos")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketsync.settings")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")  # nothing a chaos run enqueues outlives it
os.environ.setdefault("LOG_LEVEL", "WARNING")
# As in production: no debug pages, so a 500 is a 500 (the test client needs its host allowed).
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "chaos-only-secret")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
if not os.environ.get("FIELD_ENCRYPTION_KEYS"):
    from cryptography.fernet import Fernet

    os.environ["FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()  # chaos credentials are throwaway

print = functools.partial(print, flush=True)  # noqa: A001 - progress shows while it runs

MARKETPLACES = ("refurbed", "backmarket", "bricklink", "brickowl")


def ensure_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def kill_slots(marketplaces: list[str], schedules: int, kills: int) -> Counter:
    """Kills per (marketplace, schedule index): spread over the first schedules of every marketplace."""
    slots: Counter = Counter()
    total = max(1, schedules * len(marketplaces))
    for number in range(kills):
        index, which = divmod(number % total, len(marketplaces))
        slots[(marketplaces[which], index)] += 1
    return slots


def run_suite(*, marketplaces: list[str], seed: int, schedules: int, kills: int, junk: int, horizon: int = 8 * 3600,
              retry_wait: float = 0.5, keep: bool = False, progress=print):
    from bench.chaoskit.junk import run_junk
    from bench.chaoskit.markets import DRIVERS
    from bench.chaoskit.report import Report
    from bench.chaoskit.schedule import make_plan, run_schedule

    started = time.monotonic()
    report = Report(seed=seed)
    slots = kill_slots(marketplaces, schedules, kills)
    for index in range(schedules):
        schedule_seed = seed + index
        for marketplace in marketplaces:
            driver = DRIVERS[marketplace]
            plan = make_plan(driver, schedule_seed, kills=slots[(marketplace, index)], concurrent=schedule_seed % 3 == 2,
                             hostile=schedule_seed % 2 == 1)
            report.kills_per_schedule[(marketplace, schedule_seed)] = slots[(marketplace, index)]
            result = run_schedule(driver, plan, horizon=horizon, retry_wait=retry_wait, keep=keep)
            report.results.append(result)
            verdict = "ok" if not result.failed else "FAILED: " + result.problems[0][:140]
            progress(f"{marketplace:<11} seed {schedule_seed:<6} [{', '.join(result.labels)}] {verdict} ({result.seconds:.1f} s)")
    if junk:
        report.junk = run_junk(junk, seed=seed)
        progress(f"junk web requests: {report.junk.requests}, 500s: {report.junk.five_hundreds} ({report.junk.seconds:.1f} s)")
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--marketplace", action="append", choices=MARKETPLACES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--schedules", type=int, default=4, help="per marketplace")
    parser.add_argument("--kills", type=int, default=0)
    parser.add_argument("--junk", type=int, default=50)
    parser.add_argument("--horizon", type=int, default=8 * 3600, help="seconds the engine has to catch up after the faults")
    parser.add_argument("--retry-wait", type=float, default=0.5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request without it
    for handler in logging.getLogger().handlers:  # findings are collected and reported; the console stays readable
        handler.setLevel(logging.CRITICAL + 1)
    marketplaces = args.marketplace or list(MARKETPLACES)
    print(f"chaos: seed {args.seed}, {args.schedules} schedule(s) × {', '.join(marketplaces)}, {args.kills} kill(s), "
          f"{args.junk} junk request(s)")
    report = run_suite(marketplaces=marketplaces, seed=args.seed, schedules=args.schedules, kills=args.kills, junk=args.junk,
                       horizon=args.horizon, retry_wait=args.retry_wait, keep=args.keep)
    print()
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
