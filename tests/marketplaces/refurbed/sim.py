"""Builders shared by the Refurbed, engine, offers and e2e tests: the simulator in-process and a connection to it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from connections.models import EntitySync
from marketsync.simulator.core import SimulatorConfig, build_simulator, simulator_token
from tests.factories import make_connection, make_organization

SEED = 42
START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_sim(**overrides):
    config = SimulatorConfig(marketplaces=("refurbed",), speed=0, seed=SEED, orders=300, new_order_every_seconds=0,
                             start=overrides.pop("start", None))
    for key, value in overrides.items():
        setattr(config, key, value)
    return build_simulator(config)


def token(purpose: str = "api_key", seed: int = SEED) -> str:
    return simulator_token("refurbed", seed, purpose)


def transport(app) -> httpx.WSGITransport:
    return httpx.WSGITransport(app=app)


def refurbed_connection(organization=None, *, api_key: str | None = None, base_url: str = "http://sim/refurbed"):
    organization = organization or make_organization("refurb")
    return make_connection(organization, "refurbed", credentials={"api_key": api_key or token()}, base_url=base_url)


def entity_sync(connection, entity: str) -> EntitySync:
    return EntitySync.objects.get(connection=connection, entity=entity)


class RecordingTransport(httpx.BaseTransport):
    """The simulator's WSGI transport, recording each request's path and JSON body; optionally rewriting responses.

    ``rewrite(path, data) -> data`` may change a decoded JSON body (malformed records);
    ``fail_after`` raises a crash (not an HTTP error) once that many requests were answered.
    """

    def __init__(self, app, *, rewrite=None, fail_after: int | None = None, fail_paths: tuple[str, ...] = ()) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.requests: list[tuple[str, dict]] = []
        self.rewrite = rewrite
        self.fail_after = fail_after
        self.fail_paths = fail_paths

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import json

        path = request.url.path
        if self.fail_after is not None and len(self.requests) >= self.fail_after:
            raise RuntimeError("worker killed between pages")
        body = json.loads(request.content or b"{}")
        self.requests.append((path, body))
        if any(p in path for p in self.fail_paths):
            return httpx.Response(200, content=b"<html>gateway says hello</html>", headers={"Content-Type": "text/html"})
        response = self.inner.handle_request(request)
        if self.rewrite is not None and response.status_code == 200:
            response.read()
            data = self.rewrite(path, json.loads(response.content))
            return httpx.Response(200, json=data, headers={k: v for k, v in response.headers.items() if k.lower() != "content-length"})
        return response

    def calls(self, method: str) -> list[dict]:
        return [body for path, body in self.requests if path.endswith("/" + method)]


class LoopbackServer:
    """The simulator on 127.0.0.1 and a free port, in a thread (for doors that build their own HTTP client)."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        import threading

        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=5)
