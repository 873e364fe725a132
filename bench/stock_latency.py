"""Stock latency: from an order appearing at one marketplace to the linked quantity changed on every other one.

    .venv/bin/python bench/stock_latency.py [--orders 5] [--interval 60] [--sweep 60] [--timeout SECONDS] [--seed 1]

Production processes on PostgreSQL and Redis (``DATABASE_URL``, ``CELERY_BROKER_URL``, ``CELERY_RESULT_BACKEND``;
defaults ``postgres://postgres@127.0.0.1:5432/marketsync_stocklatency`` and Redis dbs 0/1): gunicorn serving the
webhooks, one Celery worker (``--concurrency``, default 2) and one beat with ``SYNC_INTERVAL_SECONDS=--interval``
and ``STOCK_PUSH_SWEEP_SECONDS=--sweep``. The simulator of all four marketplaces runs in this process on loopback
(see ``bench/stockkit.py``); one organization has all four stores imported, its lots, listings and offers linked in
pairs (BrickLink ↔ Brick Owl, Back Market ↔ Refurbed), at least 100 units available on each, and stock push on for
all four connections.

Two paths, ``--orders`` orders per marketplace on each, a round placing one order on every marketplace at once
(on different stock items):

- notified: BrickLink posts its callback, Brick Owl its notify, Refurbed its Instant Order Notification to the
  connection's webhook as soon as the order exists; Back Market has no order notification, so it has no row here;
- tick: no notification; the order arrives with the next orders sync of the beat. Each round starts at a random
  moment of the interval (a seeded wait), as orders do.

The clock starts when the order exists at the marketplace and stops when every linked listing of its stock items on
the other marketplace shows local available less what the order took (read from the simulator every 0.2 s). It
prints, per path and marketplace, the orders measured, median, p95 and max; then whether the notified p95 is under
60 s. Exit status 1 when it is not, when an order's pushes never arrived within ``--timeout``, when a linked
quantity ends up different from local available, when ``inventory check`` finds a problem or a process logged a
traceback. The organization is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stockkit import MARKETPLACES, Processes, Shop, build_shop, configure_environment, percentile, print, setup_django  # noqa: E402

NOTIFIED = ("bricklink", "brickowl", "refurbed")  # Back Market sends no order notification
POLL_SECONDS = 0.2
STOCK = 100  # units available per paired item before the run


@dataclass
class Placed:
    marketplace: str
    order_id: str
    started: float
    sold: dict[int, int]  # stock item → units this order took
    watched: list[tuple[str, str, int]] = field(default_factory=list)  # (marketplace, external id, item)
    seconds: float | None = None
    wrong: str = ""


def _sold_items(shop: Shop, marketplace: str, lines: list[tuple[str, int]]) -> dict[int, int]:
    sold: dict[int, int] = {}
    for external_id, quantity in lines:
        item = shop.item_of(marketplace, external_id)
        if item is not None and shop.others(item, marketplace):
            sold[item] = sold.get(item, 0) + quantity
    return sold


def place(shop: Shop, marketplace: str, rng: random.Random, *, avoid: set[int], notify_url: str | None) -> Placed | None:
    """One buyer's order at ``marketplace`` on stock items not in ``avoid``; None when it touches none linked."""
    sim = shop.app[marketplace]
    order_id, lines = "", []
    if marketplace == "bricklink":
        sim.callback_url = notify_url or ""
        with sim.lock:
            order = sim.control("new_order", {"hold": True})  # posts the callback when one is set
            order_id = str(order["order_id"])
            lines = [(str(line["inventory_id"]), line["quantity"]) for line in sim.orders[int(order_id)]["batches"][0]]
    elif marketplace == "brickowl":
        lots = [ext for item, m, ext in shop.linked() if m == "brickowl" and item not in avoid and shop.others(item, m)]
        chosen = {ext: rng.randint(1, 3) for ext in rng.sample(sorted(lots), min(len(lots), rng.randint(1, 2)))}
        with sim.lock:
            order_id = sim.control("sell", {"lots": chosen})["order_id"]
        lines = list(chosen.items())
    elif marketplace == "refurbed":
        with sim.lock:
            order_id = sim.control("add_orders", {"count": 1})["ids"][0]
            items = sim.rpc_OrderService_GetOrder({"id": order_id})["order"]["items"]
        lines = [(i["offer_data"]["offer_id"], 1) for i in items]
    else:
        with sim.lock:
            order_id = str(sim.control("new_order", {})["order_id"])
            # Only lines awaiting acceptance hold stock (a line refused at once, state 4, never does).
            lines = [(sim.lines[i]["listing"], sim.lines[i]["quantity"]) for i in sim.orders[int(order_id)]["lines"]
                     if sim.lines[i]["state"] in (1, 2)]
        from listings.models import Listing

        by_sku = dict(Listing.objects.filter(connection=shop.conns["backmarket"]).values_list("sku", "external_id"))
        lines = [(by_sku.get(sku, ""), quantity) for sku, quantity in lines]
    started = time.monotonic()
    sold = _sold_items(shop, marketplace, lines)
    if not sold or set(sold) & avoid:
        return None
    placed = Placed(marketplace, order_id, started, sold)
    placed.watched = [(m, ext, item) for item in sold for m, ext in shop.others(item, marketplace)]
    if notify_url and marketplace in ("brickowl", "refurbed"):
        sim.control("notify", {"url": notify_url, "order_id": order_id})
    return placed


def stock_up(shop: Shop, units: int = STOCK) -> None:
    """Every paired item gets at least ``units`` available, so each order's effect shows (an item at 0 stays 0)."""
    from inventory.services import inventory_adjust

    paired = {item for item, m, _ in shop.linked() if shop.others(item, m)}
    for item, available in shop.available().items():
        if item in paired and available < units:
            inventory_adjust(organization=shop.organization, item_id=item, delta=units - available,
                             reason="latency bench: stock to sell", actor="stock bench", source="cli")


def run_round(shop: Shop, marketplaces: tuple[str, ...], rng: random.Random, *, notified: bool, web: str,
              timeout: float) -> list[Placed]:
    available = shop.available()
    placed: list[Placed] = []
    for marketplace in marketplaces:
        avoid = {item for p in placed for item in p.sold}
        url = shop.webhook(web, marketplace) if notified else None
        for _ in range(10):  # an order of unlinked items only, or of items another order of the round took: again
            one = place(shop, marketplace, rng, avoid=avoid, notify_url=url)
            if one is not None:
                placed.append(one)
                break
    expected = {}
    for p in placed:
        for m, ext, item in p.watched:
            expected[(m, ext)] = max(0, available[item] - sum(q.sold.get(item, 0) for q in placed))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(p.seconds is None for p in placed):
        now = time.monotonic()
        for p in placed:
            if p.seconds is None and all(shop.quantity(m, ext) == expected[(m, ext)] for m, ext, _ in p.watched):
                p.seconds = now - p.started
        time.sleep(POLL_SECONDS)
    for p in placed:
        if p.seconds is None:
            p.wrong = "; ".join(f"{m} {ext}: {shop.quantity(m, ext)}, expected {expected[(m, ext)]}" for m, ext, _ in p.watched)
    return placed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5, help="orders per marketplace on each path")
    parser.add_argument("--interval", type=int, default=60, help="SYNC_INTERVAL_SECONDS of the beat (the tick)")
    parser.add_argument("--sweep", type=int, default=60, help="STOCK_PUSH_SWEEP_SECONDS of the beat")
    parser.add_argument("--timeout", type=float, help="seconds a round may take (default 3 ticks + 60 s)")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--path", choices=("notified", "tick"), action="append", help="default both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (their folder is printed)")
    args = parser.parse_args(argv)
    configure_environment("stocklatency")
    setup_django()
    from inventory.selectors import inventory_check

    timeout = args.timeout or 3 * args.interval + 60
    rng = random.Random(args.seed)
    started = time.monotonic()
    shop = build_shop(seed=args.seed)
    processes = None
    results: dict[str, list[Placed]] = {}
    try:
        stock_up(shop)
        shop.push(True)
        shop.reconcile()
        processes = Processes(interval=args.interval, sweep=args.sweep, concurrency=args.concurrency)
        print(f"stock latency: {args.orders} order(s) per marketplace and path, tick {args.interval} s, sweep "
              f"{args.sweep} s, worker concurrency {args.concurrency}, {os.cpu_count()} CPUs, load "
              f"{os.getloadavg()[0]:.1f}; logs in {processes.dir}")
        for path in args.path or ("notified", "tick"):
            marketplaces = NOTIFIED if path == "notified" else ("backmarket", "refurbed", "bricklink", "brickowl")
            results[path] = []
            for number in range(args.orders):
                if path == "tick":  # orders come at any moment of the tick interval, not just after a tick
                    time.sleep(rng.uniform(0, args.interval))
                done = run_round(shop, marketplaces, rng, notified=path == "notified", web=processes.web, timeout=timeout)
                results[path] += done
                print(f"{path:<8} round {number + 1}: " + ", ".join(
                    f"{p.marketplace} {p.seconds:.1f} s" if p.seconds is not None else f"{p.marketplace} NEVER"
                    for p in done))
        time.sleep(2)
        problems = shop.mismatches()
        check = inventory_check()
        tracebacks = processes.tracebacks()
    finally:
        if processes is not None:
            processes.stop()
        shop.close()
    print()
    print(f"{'path':<9} {'marketplace':<11} {'orders':>6} {'median s':>9} {'p95 s':>7} {'max s':>7} never")
    ok = True
    for path, placed in results.items():
        for marketplace in MARKETPLACES:
            times = [p.seconds for p in placed if p.marketplace == marketplace and p.seconds is not None]
            never = sum(1 for p in placed if p.marketplace == marketplace and p.seconds is None)
            if path == "notified" and marketplace == "backmarket":
                print(f"{path:<9} {marketplace:<11} Back Market sends no order notification: its orders arrive by the tick")
                continue
            if times or never:
                print(f"{path:<9} {marketplace:<11} {len(times):>6} {statistics.median(times) if times else float('nan'):>9.1f} "
                      f"{percentile(times, 0.95):>7.1f} {max(times) if times else float('nan'):>7.1f} {never}")
        times = [p.seconds for p in placed if p.seconds is not None]
        print(f"{path:<9} {'all':<11} {len(times):>6} {statistics.median(times) if times else float('nan'):>9.1f} "
              f"{percentile(times, 0.95):>7.1f} {max(times) if times else float('nan'):>7.1f} "
              f"{sum(1 for p in placed if p.seconds is None)}")
        for p in placed:
            if p.seconds is None:
                ok = False
                print(f"  never arrived: {p.marketplace} order {p.order_id}: {p.wrong}")
    if "notified" in results:
        p95 = percentile([p.seconds if p.seconds is not None else float("inf") for p in results["notified"]], 0.95)
        goal = p95 < 60
        ok = ok and goal
        print(f"goal: notified p95 under 60 s → {p95:.1f} s {'ok' if goal else 'MISSED'}")
    print(f"linked quantities different from local available: {len(problems)}" + "".join(f"\n  {x}" for x in problems[:20]))
    print(f"inventory check: {'ok' if not check else '; '.join(map(str, check[:5]))}; tracebacks in the processes' logs: "
          f"{tracebacks}; wall {time.monotonic() - started:.0f} s")
    if not args.keep_logs and processes is not None:
        processes.cleanup(keep_logs=not ok)
    return 0 if ok and not problems and not check and not tracebacks else 1


if __name__ == "__main__":
    sys.exit(main())
