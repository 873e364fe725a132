"""One HTTP connection pool and SSL context per process, lent to every sync's client (marketsync/sync/http.py)."""

from __future__ import annotations

import threading

import httpx
import pytest
import respx

from marketsync.sync import http as sync_http
from marketsync.sync.http import SharedTransport, build_http_client, shared_transport, shared_transport_reset


@pytest.fixture(autouse=True)
def fresh_pool():
    shared_transport_reset()
    yield
    shared_transport_reset()


def test_every_client_of_a_process_shares_one_transport_that_closing_a_client_leaves_open():
    with build_http_client() as first:
        pool = first._transport
    second = build_http_client()
    assert isinstance(pool, SharedTransport) and second._transport is pool
    with respx.mock(assert_all_called=True) as mock:
        mock.get("https://api.example.test/ping").respond(200, json={"ok": True})
        assert second.get("https://api.example.test/ping").json() == {"ok": True}  # after the first client closed
    second.close()
    assert shared_transport() is pool


def test_an_injected_transport_is_used_as_before():
    injected = httpx.MockTransport(lambda request: httpx.Response(204))
    with build_http_client(transport=injected) as client:
        assert client._transport is injected
        assert client.get("http://sim/x").status_code == 204


def test_a_forked_child_builds_its_own_pool(monkeypatch):
    parent = shared_transport()
    monkeypatch.setattr(sync_http.os, "getpid", lambda: parent.pid + 1)
    child = shared_transport()
    assert child is not parent and child.pid == parent.pid + 1
    assert shared_transport() is child


def test_threads_share_the_pool_and_each_keeps_its_own_event_hooks():
    seen: dict[int, list[str]] = {}
    errors: list[BaseException] = []
    transports = set()

    def sync(n: int) -> None:
        try:
            with build_http_client() as client:
                transports.add(id(client._transport))
                seen[n] = []
                client.event_hooks["request"].append(lambda request, n=n: seen[n].append(request.url.path))
                for _ in range(5):
                    assert client.get(f"https://api.example.test/s/{n}").status_code == 200
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with respx.mock() as mock:
        mock.get(url__regex=r"https://api.example.test/s/\d+").respond(200, json={})
        threads = [threading.Thread(target=sync, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    assert len(transports) == 1
    assert all(paths == [f"/s/{n}"] * 5 for n, paths in seen.items()) and len(seen) == 16
