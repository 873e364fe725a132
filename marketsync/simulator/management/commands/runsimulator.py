"""``manage.py runsimulator``: the marketplace simulator on loopback (werkzeug, threaded)."""

from __future__ import annotations

import importlib

from django.core.management.base import BaseCommand, CommandError
from werkzeug.serving import run_simple

from marketsync.simulator.core import SimulatorConfig, build_simulator

DEFAULT_MARKETPLACES = "refurbed,backmarket,bricklink,brickowl"


def available_marketplaces(names: list[str], note) -> list[str]:
    """The marketplaces whose simulator module exists; a missing module is skipped with a note."""
    found = []
    for name in names:
        module = f"marketsync.simulator.{name}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            note(f"note: no simulator for {name} yet ({module} is missing); skipping it")
            continue
        found.append(name)
    return found


class Command(BaseCommand):
    help = "Serve the marketplace simulator (Refurbed, Back Market, BrickLink, Brick Owl) on loopback."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--orders", type=int, default=200, help="orders already placed per marketplace")
        parser.add_argument("--speed", type=float, default=1.0, help="virtual seconds per real second")
        parser.add_argument("--new-order-every", type=float, default=20.0, help="virtual seconds between new orders")
        parser.add_argument("--rate-limit", type=int, default=0, help="requests per second per marketplace (0 = unlimited)")
        parser.add_argument("--marketplaces", default=DEFAULT_MARKETPLACES, help="comma-separated")

    def handle(self, *args, **options):
        names = [n.strip() for n in options["marketplaces"].split(",") if n.strip()]
        names = available_marketplaces(names, lambda text: self.stderr.write(text))
        if not names:
            raise CommandError("No simulated marketplace to serve.")
        config = SimulatorConfig(
            seed=options["seed"], orders=options["orders"], speed=options["speed"],
            new_order_every_seconds=options["new_order_every"], rate_limit_per_second=options["rate_limit"],
            marketplaces=tuple(names),
        )
        app = build_simulator(config)
        base = f"http://{options['host']}:{options['port']}"
        self.stdout.write(f"Simulating {', '.join(names)} on {base}/<marketplace> (control: {base}/_sim/state)")
        run_simple(options["host"], options["port"], app, threaded=True, use_reloader=False, use_debugger=False)
