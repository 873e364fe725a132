"""Stock oversell: a busy week compressed into minutes, buyers on all four marketplaces drawing on shared stock.

    .venv/bin/python bench/stock_oversell.py [--minutes 3] [--orders 40] [--items 8] [--stock 3 10] [--lost 0.3]
                                             [--interval 60] [--sweep 30] [--seed 1]

The same production processes and simulator as ``bench/stock_latency.py`` (``bench/stockkit.py``: gunicorn for the
webhooks, one Celery worker, one beat, PostgreSQL and Redis from ``DATABASE_URL``, ``CELERY_BROKER_URL``,
``CELERY_RESULT_BACKEND``; default database ``marketsync_stockoversell``). Twice, each time on a fresh simulator and
organization with the same seed:

1. stock push on: ``--items`` stock items per pair of marketplaces (BrickLink ↔ Brick Owl, Back Market ↔
   Refurbed) get between ``--stock`` units on hand, reconciled so every linked listing shows them;
2. stock push off, the seller's situation today: the same units listed on both marketplaces of each pair, and
   nothing tells one marketplace what the other sold.

During ``--minutes``, ``--orders`` buyers per marketplace arrive at random moments; each picks one of those items'
listings that shows stock and buys one to three units (no more than it shows), through the simulator's checkout.
Brick Owl's notify, BrickLink's callback and Refurbed's notification of each order are lost with probability
``--lost`` (Back Market has none); meanwhile each marketplace runs the faults of its chaos-suite schedule (rate
limits, 5xx, timeouts, malformed and truncated answers: ``bench/chaoskit/schedule.py``'s ``make_plan`` for the
seed), one step after another. Then the buyers stop and the faults clear.

It prints, per run, orders and units sold per marketplace, buyers turned away (nothing shown), and units oversold:
for each item, units sold on all marketplaces beyond what the seller had. With push on, it then waits (at most
``--settle`` seconds) until every order is stored, no push is pending and every linked marketplace quantity equals
local available, and runs ``manage.py inventory check --org SLUG`` as an operator would; the exit status is 1 when
either fails or a process logged a traceback. The week is compressed: orders are hundreds of times denser than a
real week's, so oversold units with push on are an upper bound for a store of that size.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stockkit import (  # noqa: E402
    MARKETPLACES,
    ROOT,
    Processes,
    Shop,
    build_shop,
    configure_environment,
    drain_until_converged,
    print,
    setup_django,
)

WEEK = 7 * 24 * 3600
NOTIFIED = ("bricklink", "brickowl", "refurbed")
FAULT_TIMEOUT_SECONDS = 3.0  # the simulator's timeout fault: a slow 5xx


@dataclass
class Outcome:
    push: bool
    orders: Counter = field(default_factory=Counter)
    units: Counter = field(default_factory=Counter)
    turned_away: Counter = field(default_factory=Counter)
    notifications_lost: int = 0
    notifications_sent: int = 0
    oversold: int = 0
    oversold_items: int = 0
    stock: int = 0
    converged_seconds: float | None = None
    problems: list[str] = field(default_factory=list)
    check: str = ""


def stock_items(shop: Shop, rng: random.Random, count: int) -> dict[str, list[int]]:
    """``count`` paired stock items per family (brick, SKU), drawn from the seed."""
    linked = shop.linked()
    chosen = {}
    for first in ("bricklink", "backmarket"):
        paired = sorted({item for item, m, _ in linked if m == first and shop.others(item, m)})
        chosen[first] = sorted(rng.sample(paired, min(count, len(paired))))
    return chosen


def set_stock(shop: Shop, items: list[int], rng: random.Random, low: int, high: int) -> dict[int, int]:
    from inventory.services import inventory_adjust

    available = shop.available()
    start = {}
    for item in items:
        start[item] = rng.randint(low, high)
        if start[item] != available[item]:
            inventory_adjust(organization=shop.organization, item_id=item, delta=start[item] - available[item],
                             reason="oversell bench: the week's stock", actor="stock bench", source="cli")
    return start


def buy(shop: Shop, marketplace: str, listings: list[tuple[int, str]], rng: random.Random, *,
        notify: str | None) -> tuple[int, int] | None:
    """One buyer: a listing that shows stock, one to three units of it (no more than shown), checked out at the
    simulated marketplace (what it shows cannot move in between: a push waits for the simulator's lock); then its
    notification when ``notify`` names the webhook. (item, units), or None when nothing is shown."""
    sim = shop.app[marketplace]
    with sim.lock:
        shown = [(item, ext, q) for item, ext in listings if (q := shop.quantity(marketplace, ext)) > 0]
        if not shown:
            return None
        item, external_id, quantity = rng.choice(shown)
        quantity = min(quantity, rng.randint(1, 3))
        if marketplace == "bricklink":
            sim.callback_url = notify or ""
            order_id = str(sim.control("sell", {"lots": {external_id: quantity}})["order_id"])
        elif marketplace == "brickowl":
            order_id = sim.control("sell", {"lots": {external_id: quantity}})["order_id"]
        elif marketplace == "backmarket":
            order_id = str(sim.control("sell", {"listings": {external_id: quantity}})["order_id"])
        else:
            order_id = sim.control("sell", {"offers": {external_id: quantity}})["order_id"]
    if notify and marketplace in ("brickowl", "refurbed"):
        try:
            sim.control("notify", {"url": notify, "order_id": order_id})
        except Exception as exc:  # noqa: BLE001 - a notification that fails is one more lost
            print(f"  {marketplace} notification for {order_id} failed: {exc}")
    return item, quantity


def fault_steps(seed: int) -> dict[str, list[dict[str, float]]]:
    """Each marketplace's chaos-suite fault rates for the seed, step by step."""
    from bench.chaoskit.markets import DRIVERS
    from bench.chaoskit.schedule import make_plan

    return {m: [step.rates for step in make_plan(DRIVERS[m], seed).steps] for m in MARKETPLACES}


def faults(shop: Shop, rates: dict[str, dict[str, float]]) -> None:
    from marketsync.simulator.core import FAULT_KINDS

    for marketplace, wanted in rates.items():
        sim = shop.app[marketplace]
        sim.faults.timeout_seconds = FAULT_TIMEOUT_SECONDS
        sim.faults.retry_after_seconds = 1
        sim.faults.configure({"rates": {kind: wanted.get(kind, 0.0) for kind in FAULT_KINDS}})


def stored_orders(shop: Shop) -> Counter:
    from orders.models import Order

    return Counter({m: Order.objects.filter(connection=c).count() for m, c in shop.conns.items()})


def pending_pushes(shop: Shop) -> int:
    from inventory.models import StockPush

    return StockPush.objects.filter(organization=shop.organization, state=StockPush.State.PENDING).count()


def week(shop: Shop, args, *, push: bool, web: str) -> Outcome:
    rng = random.Random(args.seed)
    outcome = Outcome(push=push)
    chosen = stock_items(shop, rng, args.items)
    start = set_stock(shop, chosen["bricklink"] + chosen["backmarket"], rng, *args.stock)
    outcome.stock = sum(start.values())
    shop.push(True)
    shop.reconcile()  # every linked listing shows the seller's units, on both marketplaces of its pair
    unequal = drain_until_converged(shop)  # pushes a running worker claimed meanwhile
    if unequal:
        outcome.problems.append(f"before the week: {len(unequal)} linked quantities differ from local available")
    if not push:
        shop.push(False)
    listings = {m: [(item, ext) for item, mm, ext in shop.linked() if mm == m and item in start] for m in MARKETPLACES}
    arrivals = sorted((rng.uniform(0, args.minutes * 60), m) for m in MARKETPLACES for _ in range(args.orders))
    steps = fault_steps(args.seed)
    sold: Counter = Counter()
    began, step_now = time.monotonic(), ()
    for at, marketplace in arrivals:
        step = tuple(min(len(s) - 1, int(at / (args.minutes * 60) * len(s))) for s in steps.values())
        if step != step_now:  # each marketplace's schedule, its steps spread over the week
            step_now = step
            faults(shop, {m: s[i] for (m, s), i in zip(steps.items(), step, strict=True)})
        time.sleep(max(0.0, began + at - time.monotonic()))
        lost = marketplace in NOTIFIED and rng.random() < args.lost
        bought = buy(shop, marketplace, listings[marketplace], rng,
                     notify=shop.webhook(web, marketplace) if marketplace in NOTIFIED and not lost else None)
        if bought is None:
            outcome.turned_away[marketplace] += 1
            continue
        outcome.notifications_lost += lost
        outcome.notifications_sent += marketplace in NOTIFIED and not lost
        item, quantity = bought
        sold[item] += quantity
        outcome.orders[marketplace] += 1
        outcome.units[marketplace] += quantity
    faults(shop, {m: {} for m in MARKETPLACES})
    for item, units in sold.items():
        over = max(0, units - start[item])
        outcome.oversold += over
        outcome.oversold_items += over > 0
    if push:
        stopped = time.monotonic()
        deadline = stopped + args.settle
        while time.monotonic() < deadline:
            stored = stored_orders(shop)
            if all(stored[m] >= outcome.orders[m] for m in MARKETPLACES) and not pending_pushes(shop) and not shop.mismatches():
                outcome.converged_seconds = time.monotonic() - stopped
                break
            time.sleep(2)
        stored = stored_orders(shop)
        outcome.problems += shop.mismatches() + [
            f"{m}: {stored[m]} of {outcome.orders[m]} orders stored" for m in MARKETPLACES if stored[m] < outcome.orders[m]]
        if pending_pushes(shop):
            outcome.problems.append(f"{pending_pushes(shop)} push(es) still pending")
        check = subprocess.run([sys.executable, "manage.py", "inventory", "check", "--org", shop.organization.slug],
                               cwd=ROOT, env=os.environ, capture_output=True, text=True, timeout=300)
        outcome.check = "ok" if check.returncode == 0 else f"FAILED (exit {check.returncode}): {(check.stdout + check.stderr)[-500:]}"
    return outcome


def report(outcome: Outcome, args) -> list[str]:
    name = "push on " if outcome.push else "push off"
    sold = sum(outcome.units.values())
    lines = [f"{name}: {sum(outcome.orders.values())} orders, {sold} units sold of {outcome.stock} on hand, "
             f"{outcome.oversold} units oversold ({outcome.oversold_items} items); turned away (nothing shown) "
             f"{sum(outcome.turned_away.values())}; notifications sent {outcome.notifications_sent}, lost "
             f"{outcome.notifications_lost}"]
    lines.append("          per marketplace: " + ", ".join(
        f"{m} {outcome.orders[m]} orders / {outcome.units[m]} units / {outcome.turned_away[m]} away" for m in MARKETPLACES))
    if outcome.push:
        converged = f"{outcome.converged_seconds:.0f} s" if outcome.converged_seconds is not None else f"NOT within {args.settle} s"
        lines.append(f"          after the buyers stopped: converged {converged}; linked quantities different from local "
                     f"available or orders missing: {len(outcome.problems)}; inventory check: {outcome.check}")
        lines += [f"            {p}" for p in outcome.problems[:20]]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0, help="the compressed week, in real minutes")
    parser.add_argument("--orders", type=int, default=40, help="buyers per marketplace during the week")
    parser.add_argument("--items", type=int, default=8, help="stock items per pair of marketplaces")
    parser.add_argument("--stock", type=int, nargs=2, default=(3, 10), metavar=("LOW", "HIGH"), help="units on hand per item")
    parser.add_argument("--lost", type=float, default=0.3, help="probability that an order's notification is lost")
    parser.add_argument("--interval", type=int, default=60, help="SYNC_INTERVAL_SECONDS of the beat")
    parser.add_argument("--sweep", type=int, default=30, help="STOCK_PUSH_SWEEP_SECONDS of the beat")
    parser.add_argument("--settle", type=float, help="seconds to converge after the buyers stop (default 3 ticks + 120 s)")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--only", choices=("on", "off"), help="run only push on, or only push off")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    args.settle = args.settle or 3 * args.interval + 120
    configure_environment("stockoversell")
    setup_django()
    started = time.monotonic()
    processes = Processes(interval=args.interval, sweep=args.sweep, concurrency=args.concurrency)
    outcomes = []
    try:
        print(f"stock oversell: a week in {args.minutes:g} min ({WEEK / (args.minutes * 60):.0f}× compressed), "
              f"{args.orders} buyers per marketplace, {args.items} items per pair with {args.stock[0]}-{args.stock[1]} "
              f"units, {args.lost:.0%} of notifications lost, chaos fault schedules of seed {args.seed}; tick "
              f"{args.interval} s, sweep {args.sweep} s; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        for push in {"on": (True,), "off": (False,)}.get(args.only or "", (True, False)):
            shop = build_shop(seed=args.seed)
            try:
                outcome = week(shop, args, push=push, web=processes.web)
            finally:
                shop.close()
            outcomes.append(outcome)
            for line in report(outcome, args):
                print(line)
        tracebacks = processes.tracebacks()
    finally:
        processes.stop()
    failed = any(o.push and (o.problems or o.check != "ok" or o.converged_seconds is None) for o in outcomes) or tracebacks
    print(f"tracebacks in the processes' logs: {tracebacks}; wall {time.monotonic() - started:.0f} s; "
          f"{'FAILED' if failed else 'ok'}" + (f" (logs in {processes.dir})" if failed or args.keep_logs else ""))
    processes.cleanup(keep_logs=bool(failed) or args.keep_logs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
