"""Fixtures shared by the Back Market, BackShip and listing tests (imported by their conftest/test modules)."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from connections.models import EntitySync
from marketsync.sync.runner import run_entity_sync
from tests.factories import make_organization, make_user
from tests.marketplaces.backmarket.helpers import CountingTransport, bm_connection, build_sim


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def sim():
    return build_sim()


@pytest.fixture
def bm(sim):
    return sim["backmarket"]


@pytest.fixture
def transport(sim):
    return CountingTransport(sim)


@pytest.fixture
def org(db):
    return make_organization("acme", "Acme Refurb")


@pytest.fixture
def connection(org):
    return bm_connection(org)


@pytest.fixture
def owner(org):
    return make_user("owner", org)


@pytest.fixture
def stored(connection, transport, media):
    """The connection with its orders, deliveries (labels included) and returns synced from the simulator."""
    for entity in ("orders", "deliveries", "returns"):
        outcome = run_entity_sync(EntitySync.objects.get(connection=connection, entity=entity).pk, transport=transport)
        assert outcome.status == "ok", outcome.error
    return connection


@pytest.fixture
def stranger(db):
    """A user of another organization, which has a Back Market connection of its own."""
    other = make_organization("other", "Other Co")
    bm_connection(other)
    return make_user("stranger", other)


@pytest.fixture
def live_sim():
    """The simulator served on loopback (for doors that cannot take a transport: pages, CLI, workers)."""
    app = build_sim()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}/backmarket"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def live_connection(org, live_sim):
    connection = bm_connection(org)
    connection.base_url = live_sim[1]
    connection.save(update_fields=["base_url"])
    return connection
