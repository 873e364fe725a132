"""The unmapped queue and the catalog run, from a shell as an operator runs them (a process of its own)."""

from __future__ import annotations

import json
import re
import threading

import pytest
from werkzeug.serving import make_server

from marketsync.simulator.core import simulator_token
from tests.manage_cli import operator_shell
from tests.marketplaces.bricklink.helpers import SEED, simulator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_brick_sim():
    app = simulator(orders=0)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}/brickowl/v1"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_an_operator_lists_the_unmapped_queue_and_runs_the_catalog(tmp_path, live_brick_sim):
    app, url = live_brick_sim
    shell = operator_shell(tmp_path)
    shell.ok("organization", "create", "acme", "--name", "Acme Bricks")
    nothing = shell.run("inventory", "catalog-refresh")
    assert nothing.returncode == 1 and "no enabled Brick Owl connection" in nothing.stderr and "Traceback" not in nothing.stderr
    created = shell.ok("connection", "create", "--org", "acme", "--marketplace", "brickowl", "--base-url", url,
                       "--options", json.dumps({"store_id": "1"}), stdin=json.dumps({"api_key": simulator_token("brickowl", SEED)}))
    connection = re.search(r"Created connection (\d+)", created).group(1)
    shell.ok("sync", "--connection", connection, "--entity", "inventory")

    waiting = shell.ok("inventory", "unmapped", "--org", "acme")
    assert f"{len(app['brickowl'].lots)} unmapped." in waiting and "not read yet" in waiting

    out = shell.ok("inventory", "catalog-refresh")
    assert out.startswith("Brick Owl catalog: colours read 9, BOIDs looked up") and "BOIDs still queued 0" in out
    rows = [json.loads(line) for line in shell.ok("inventory", "unmapped", "--org", "acme", "--json").splitlines()]
    assert [(r["kind"], r["boid"], r["type"]) for r in rows] == [("lot", "771010", "Gear")]
    assert "names no BrickLink number" in rows[0]["reason"]

    unknown = shell.run("inventory", "unmapped", "--org", "nope")
    assert unknown.returncode != 0 and "No organization with slug 'nope'." in unknown.stderr and "Traceback" not in unknown.stderr
    negative = shell.run("inventory", "catalog-refresh", "--lookups", "-1")
    assert negative.returncode != 0 and "--lookups must be 0 or more." in negative.stderr
