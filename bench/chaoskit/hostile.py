"""A hostile layer in front of the simulator: chosen records come back with absurd fields.

The simulator modules stay as they are: ``HostileApp`` wraps the simulator's WSGI app, decodes each JSON
response, lets the marketplace driver find the records in it (orders, their items, lots, listings, offers)
and applies the hostile rules aimed at them (an amount of 1e20, a quantity of -4, a 40-character colour id,
a NUL byte, an unknown status, a missing field). The same wrapper serves in-process tests (through
``httpx.WSGITransport``) and a simulator on loopback (a ``manage.py sync`` subprocess).

It also lets the harness act at a chosen request: ``on_request(n)`` is called before the n-th request is
answered (a crash-kill lands there), and ``hold`` parks the next answer, already computed, until released
(a worker that stalls with what the marketplace said a while ago, while another one syncs).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs


class RawNumber:
    """A JSON number token Python's json cannot write (``1e400`` is not a float Python keeps)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


@dataclass(frozen=True)
class HostileKind:
    """One way to make a record hostile: ``kind`` is the record's kind (order, item, lot, listing, offer)."""

    entity: str
    kind: str
    label: str
    mutate: Callable[[dict], None]


@dataclass(frozen=True)
class HostileRule:
    """A hostile kind aimed at one record; ``owner_id`` is the id the marketplace gives the record (for an
    item, its order's id): the record a sync must name as bad or store."""

    hostile: HostileKind
    owner_id: str

    @property
    def entity(self) -> str:
        return self.hostile.entity

    def __str__(self) -> str:
        return f"{self.hostile.kind} {self.owner_id} ({self.hostile.label})"


# (kind, owner id, the record's dict) for every record a response carries
Locator = Callable[[str, str, dict, Any], Iterator[tuple[str, str, dict]]]


def set_field(path: str, value: Any) -> Callable[[dict], None]:
    """A mutation setting ``a.b.c`` (creating nothing that is missing but the last key)."""
    keys = path.split(".")

    def mutate(record: dict) -> None:
        target = record
        for key in keys[:-1]:
            target = target.get(key)
            if not isinstance(target, dict):
                return
        target[keys[-1]] = value

    return mutate


def drop_field(name: str) -> Callable[[dict], None]:
    def mutate(record: dict) -> None:
        record.pop(name, None)

    return mutate


def both(*mutations: Callable[[dict], None]) -> Callable[[dict], None]:
    def mutate(record: dict) -> None:
        for step in mutations:
            step(record)

    return mutate


def _encode(data: Any) -> bytes:
    raws: list[str] = []

    def default(value: Any) -> Any:
        if isinstance(value, RawNumber):
            raws.append(value.token)
            return f"@@chaos-raw-{len(raws) - 1}@@"
        raise TypeError(f"cannot encode {type(value).__name__}")

    text = json.dumps(data, default=default)
    for index, token in enumerate(raws):
        text = text.replace(f'"@@chaos-raw-{index}@@"', token)
    return text.encode()


class HostileApp:
    """WSGI middleware: the simulator, with ``rules`` applied to the records its JSON responses carry."""

    def __init__(self, app, *, locate: Locator, rules: list[HostileRule] | None = None) -> None:
        self.app = app
        self.locate = locate
        self.rules: list[HostileRule] = list(rules or [])
        self.requests = 0
        self.rewritten = 0
        self.on_request: Callable[[int], None] | None = None
        self._lock = threading.Lock()
        self._hold: threading.Event | None = None
        self._hold_left = 0
        self.held = threading.Event()

    # --- the harness's handles --------------------------------------------------------------------------
    def hold(self, count: int = 1) -> None:
        """Park the answers to the next ``count`` requests (the first sets ``held``) until ``release``."""
        self.held.clear()
        self._hold = threading.Event()
        self._hold_left = count

    def release(self) -> None:
        if self._hold is not None:
            self._hold.set()
        self._hold = None

    # --- WSGI ------------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        with self._lock:
            self.requests += 1
            number = self.requests
        if self.on_request is not None:
            self.on_request(number)
        gate = None
        with self._lock:
            if self._hold is not None and self._hold_left > 0:
                self._hold_left -= 1
                gate = self._hold
        if not self.rules and gate is None:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            content = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status, headers = captured["status"], captured["headers"]
        content = self._rewrite(environ, body, status, headers, content)
        if gate is not None:  # the answer is ready (what the marketplace held then); the caller gets it late
            self.held.set()
            gate.wait(timeout=60)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(content)))]
        start_response(status, headers)
        return [content]

    def _rewrite(self, environ, body: bytes, status: str, headers, content: bytes) -> bytes:
        if not self.rules:
            return content
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        if not status.startswith("200") or "json" not in content_type:
            return content
        try:
            data = json.loads(content)
        except ValueError:
            return content  # a malformed or truncated body (a fault): passed on as it is
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            request_body = json.loads(body) if body else {}
        except ValueError:
            request_body = {}
        request = {"query": query, "body": request_body}
        changed = False
        for kind, owner_id, record in self.locate(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), request, data):
            for rule in self.rules:
                if rule.hostile.kind == kind and rule.owner_id == str(owner_id):
                    rule.hostile.mutate(record)
                    changed = True
        if not changed:
            return content
        with self._lock:
            self.rewritten += 1
        return _encode(data)
