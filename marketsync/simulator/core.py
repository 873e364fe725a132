"""The simulator's framework: clock, seeded randomness, fault knobs, and the WSGI mount.

Each marketplace simulator is a ``MarketplaceSimulator`` subclass that owns its
seeded data set, serves the real API's documented paths under its own prefix
(``/refurbed``, ``/backmarket``, ``/bricklink``, ``/brickowl``), evolves its
data as the clock advances, and renders faults the way that marketplace does.
The simulator holds no Django state: it runs in tests through
``httpx.WSGITransport`` and on loopback from ``manage.py runsimulator``.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Request, Response

FAULT_KINDS = ("rate_limit", "server_error", "timeout", "malformed", "truncated")
# A fixed origin so the same seed gives the same data on every machine.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def simulator_token(marketplace: str, seed: int, purpose: str = "api_key") -> str:
    """The credential the simulator accepts for a marketplace and seed (not a real secret)."""
    return "sim-" + hashlib.sha256(f"{marketplace}:{seed}:{purpose}".encode()).hexdigest()[:32]


class SimClock:
    """Virtual time. ``speed`` virtual seconds pass per real second; tests use speed 0 and ``advance``."""

    def __init__(self, *, start: datetime | None = None, speed: float = 1.0) -> None:
        self._start_virtual = start or datetime.now(UTC)
        self._start_real = time.monotonic()
        self._offset = 0.0
        self.speed = speed
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._start_real) * self.speed + self._offset
        return self._start_virtual + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += seconds
        return self.now()


@dataclass
class Faults:
    """Fault knobs: a rate per kind (0–1), latency, forced faults for deterministic tests."""

    rates: dict[str, float] = field(default_factory=lambda: {k: 0.0 for k in FAULT_KINDS})
    latency_ms: int = 0
    timeout_seconds: float = 35.0
    retry_after_seconds: int = 1
    forced: list[str] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed ^ 0xFA17)
        self._lock = threading.Lock()

    def force(self, kind: str, count: int = 1) -> None:
        if kind not in FAULT_KINDS and kind not in ("unauthorized", "forbidden"):
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self.forced.extend([kind] * count)

    def pick(self) -> str | None:
        with self._lock:
            if self.forced:
                return self.forced.pop(0)
            for kind in FAULT_KINDS:
                rate = self.rates.get(kind, 0.0)
                if rate and self._rng.random() < rate:
                    return kind
        return None

    def configure(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if key == "rates":
                for kind, rate in value.items():
                    if kind not in FAULT_KINDS:
                        raise ValueError(f"unknown fault kind {kind!r}")
                    self.rates[kind] = float(rate)
            elif key in ("latency_ms", "timeout_seconds", "retry_after_seconds"):
                setattr(self, key, type(getattr(self, key))(value))
            elif key == "force":
                for kind in value:
                    self.force(kind)
            else:
                raise ValueError(f"unknown fault setting {key!r}")


class RateWindow:
    """A fixed one-second window counter, for ``X-RateLimit-*`` style limits."""

    def __init__(self, limit_per_second: int) -> None:
        self.limit = limit_per_second
        self._window = 0
        self._count = 0
        self._lock = threading.Lock()

    def hit(self) -> tuple[bool, int, int]:
        """(allowed, remaining, reset epoch seconds)."""
        now = int(time.time())
        with self._lock:
            if now != self._window:
                self._window, self._count = now, 0
            self._count += 1
            remaining = max(0, self.limit - self._count)
            return (self.limit <= 0 or self._count <= self.limit), remaining, now + 1


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json")


class MarketplaceSimulator:
    """Base for one marketplace's API. Subclasses implement ``handle`` and ``fault_response``."""

    prefix = ""

    def __init__(self, *, seed: int, clock: SimClock, faults: Faults | None = None) -> None:
        self.seed = seed
        self.clock = clock
        self.faults = faults or Faults(seed=seed)
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.request_log: list[tuple[str, str]] = []

    # --- to implement --------------------------------------------------------------
    def handle(self, request: Request, path: str) -> Response:
        raise NotImplementedError

    def fault_response(self, kind: str) -> Response:
        """The marketplace's own shape for a rate limit or a server error."""
        if kind == "rate_limit":
            return json_response({"error": "rate limited"}, 429, {"Retry-After": str(self.faults.retry_after_seconds)})
        return json_response({"error": "internal"}, 500)

    def evolve(self, until: datetime) -> None:
        """Advance the data set to ``until``: new orders, state changes, stock moves."""

    def control(self, action: str, data: dict[str, Any]) -> Any:
        """Marketplace-specific control actions (``/_sim/<prefix>/<action>``)."""
        raise NotFound(f"unknown control action {action!r}")

    # --- the request path ------------------------------------------------------------
    def __call__(self, request: Request, path: str) -> Response:
        with self.lock:
            self.request_log.append((request.method, path))
            self.evolve(self.clock.now())
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        fault = self.faults.pick()
        if fault == "timeout":
            time.sleep(self.faults.timeout_seconds)
            return self.fault_response("server_error")
        if fault in ("rate_limit", "server_error", "unauthorized", "forbidden"):
            return self.fault_response(fault)
        with self.lock:
            response = self.handle(request, path)
        if fault == "malformed" and response.status_code < 400:
            response.set_data(b"{\"this is not\": json" + response.get_data()[:20])
        elif fault == "truncated" and response.status_code < 400:
            body = response.get_data()
            response.set_data(body[: max(1, len(body) // 2)])
        return response


class SimulatorApp:
    """The WSGI app: marketplaces under their prefixes, control under ``/_sim``."""

    def __init__(self, simulators: list[MarketplaceSimulator], clock: SimClock) -> None:
        self.clock = clock
        self.simulators = {sim.prefix: sim for sim in simulators}

    def __getitem__(self, prefix: str) -> MarketplaceSimulator:
        return self.simulators[prefix]

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.route(request)
        except HTTPException as exc:
            response = json_response({"error": exc.description}, exc.code or 500)
        except ValueError as exc:
            response = json_response({"error": str(exc)}, 400)
        return response(environ, start_response)

    def route(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/", 1)
        head, rest = parts[0], (parts[1] if len(parts) > 1 else "")
        if head == "_sim":
            return self.control(request, rest)
        simulator = self.simulators.get(head)
        if simulator is None:
            raise NotFound(f"no simulated marketplace at /{head}; have {', '.join(sorted(self.simulators))}")
        return simulator(request, "/" + rest)

    def control(self, request: Request, rest: str) -> Response:
        data = request.get_json(silent=True) or {}
        if rest == "state":
            return json_response(
                {"now": self.clock.now().isoformat(), "marketplaces": sorted(self.simulators)}
            )
        if rest == "advance" and request.method == "POST":
            return json_response({"now": self.clock.advance(float(data.get("seconds", 0))).isoformat()})
        prefix, _, action = rest.partition("/")
        simulator = self.simulators.get(prefix)
        if simulator is None:
            raise NotFound(f"no simulated marketplace {prefix!r}")
        if action == "faults" and request.method == "POST":
            simulator.faults.configure(data)
            return json_response({"ok": True})
        with simulator.lock:
            return json_response(simulator.control(action, data))


@dataclass
class SimulatorConfig:
    seed: int = 42
    orders: int = 200  # orders already placed per marketplace when the clock starts
    speed: float = 1.0
    new_order_every_seconds: float = 20.0  # virtual seconds between new orders, per marketplace
    rate_limit_per_second: int = 0  # 0 = unlimited
    start: datetime | None = None
    marketplaces: tuple[str, ...] = ("refurbed", "backmarket", "bricklink", "brickowl")


def build_simulator(config: SimulatorConfig | None = None, **overrides: Any) -> SimulatorApp:
    """The simulator for the configured marketplaces, each seeded from ``config.seed``."""
    import importlib

    config = config or SimulatorConfig()
    for key, value in overrides.items():
        setattr(config, key, value)
    clock = SimClock(start=config.start, speed=config.speed)
    simulators = []
    for name in config.marketplaces:
        module = importlib.import_module(f"marketsync.simulator.{name}")
        simulators.append(module.build(config=config, clock=clock))
    return SimulatorApp(simulators, clock)
