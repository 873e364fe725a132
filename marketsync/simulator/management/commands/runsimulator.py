"""``manage.py runsimulator``: the marketplace simulator on loopback (werkzeug, threaded)."""

from __future__ import annotations

import argparse
import importlib

from django.core.management.base import CommandError
from werkzeug.serving import run_simple

from connections.management.cli import OpsCommand, decimal_number, whole_number
from marketsync.simulator.core import SimulatorConfig, build_simulator

DEFAULT_MARKETPLACES = "refurbed,backmarket,bricklink,brickowl"
MAX_ORDERS = 100_000  # per marketplace, held in memory


def marketplace_names(value: str) -> list[str]:
    """``--marketplaces``: a comma-separated list of the simulated marketplaces."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    known = DEFAULT_MARKETPLACES.split(",")
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        shown = repr(unknown[0][:40]) if unknown else "nothing"
        raise argparse.ArgumentTypeError(f"{shown} is not a simulated marketplace; give some of {DEFAULT_MARKETPLACES}")
    return names


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


class Command(OpsCommand):
    help = "Serve the marketplace simulator (Refurbed, Back Market, BrickLink, Brick Owl) on loopback."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=whole_number(1, 65535), default=8765)
        parser.add_argument("--seed", type=whole_number(0, 2**63 - 1), default=42)
        parser.add_argument("--orders", type=whole_number(0, MAX_ORDERS), default=200, help="orders already placed per marketplace")
        parser.add_argument("--speed", type=decimal_number(0, 1e6), default=1.0, help="virtual seconds per real second")
        parser.add_argument("--new-order-every", type=decimal_number(0.001, 1e9), default=20.0,
                            help="virtual seconds between new orders")
        parser.add_argument("--rate-limit", type=whole_number(0, 1_000_000), default=0,
                            help="requests per second per marketplace (0 = unlimited)")
        parser.add_argument("--marketplaces", type=marketplace_names, default=DEFAULT_MARKETPLACES, help="comma-separated")
        parser.add_argument("--latency-ms", type=whole_number(0, 60_000), default=0,
                            help="added to every marketplace request, as a real API's round trip would be")

    def handle(self, *args, **options):
        names = available_marketplaces(options["marketplaces"], lambda text: self.stderr.write(text))
        if not names:
            raise CommandError("No simulated marketplace to serve.")
        config = SimulatorConfig(
            seed=options["seed"], orders=options["orders"], speed=options["speed"],
            new_order_every_seconds=options["new_order_every"], rate_limit_per_second=options["rate_limit"],
            marketplaces=tuple(names), latency_ms=options["latency_ms"],
        )
        app = build_simulator(config)
        base = f"http://{options['host']}:{options['port']}"
        self.stdout.write(f"Simulating {', '.join(names)} on {base}/<marketplace> (control: {base}/_sim/state)")
        run_simple(options["host"], options["port"], app, threaded=True, use_reloader=False, use_debugger=False)
