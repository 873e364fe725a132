"""A store on all four marketplaces, filled from the simulator in-process: what the order pages are tested on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from connections.models import EntitySync
from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
from marketsync.sync.runner import run_entity_sync
from tests.factories import make_connection

SEED = 42
ORDERS = 12


def sim_store(org, *, orders: int = ORDERS):
    """(simulator app, {marketplace: connection}) with each connection's orders synced."""
    app = build_simulator(SimulatorConfig(seed=SEED, orders=orders, speed=0, new_order_every_seconds=0,
                                          start=datetime.now(UTC) - timedelta(hours=1)))
    connections = {
        "refurbed": make_connection(org, "refurbed", credentials={"api_key": simulator_token("refurbed", SEED)},
                                    base_url="http://sim/refurbed"),
        "backmarket": make_connection(org, "backmarket", credentials={"api_key": simulator_token("backmarket", SEED)},
                                      base_url="http://sim/backmarket", platform="eu", options={"locale": "fr-fr"}),
        "bricklink": make_connection(org, "bricklink", base_url="http://sim/bricklink/api/store/v1", credentials={
            p: simulator_token("bricklink", SEED, p) for p in ("consumer_key", "consumer_secret", "token_value", "token_secret")}),
        "brickowl": make_connection(org, "brickowl", credentials={"api_key": simulator_token("brickowl", SEED)},
                                    base_url="http://sim/brickowl/v1", options={"store_id": "1"}),
    }
    for connection in connections.values():
        sync = EntitySync.objects.get(connection=connection, entity="orders")
        run_entity_sync(sync.pk, transport=httpx.WSGITransport(app=app), force=True)
        sync.refresh_from_db()
        assert not sync.last_error, (connection.marketplace, sync.last_error)
    return app, connections
