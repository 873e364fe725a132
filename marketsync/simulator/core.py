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
from dataclasses import dataclass, field, replace
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

    # --- accounts: which merchant a request is for (SimulatorConfig.accounts) -------------------------------
    @classmethod
    def account_credential(cls, seed: int) -> str:
        """The credential that names the account seeded with ``seed`` (what ``request_credential`` finds)."""
        return simulator_token(cls.prefix, seed)

    @classmethod
    def request_credential(cls, request: Request) -> str:
        """The credential a request presents, to route it to its account; "" when it presents none."""
        return ""

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


class Accounts:
    """Many merchants on one marketplace, each with its own credentials and data set.

    Account 0 is the marketplace's simulator as built from the config (its seed, its token); account ``i`` is
    the same marketplace seeded with ``seed + i``, built on its first request. A request goes to the account
    whose credential it presents, anything else to account 0 (which refuses an unknown credential as before).
    Faults and latency are the marketplace's: every account shares account 0's knobs. Control actions act on
    account 0.
    """

    def __init__(self, primary: MarketplaceSimulator, build, config: SimulatorConfig) -> None:
        self.primary = primary
        self._build = build
        self._config = config
        kind = type(primary)
        self._index = {kind.account_credential(config.seed + i): i for i in range(1, max(1, config.accounts))}
        self._built: dict[int, MarketplaceSimulator] = {0: primary}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._index) + 1

    def account(self, index: int) -> MarketplaceSimulator:
        if not 0 <= index < len(self):
            raise IndexError(f"account {index} of {len(self)}")
        simulator = self._built.get(index)
        if simulator is None:
            with self._lock:
                simulator = self._built.get(index)
                if simulator is None:
                    config = replace(self._config, seed=self._config.seed + index)
                    simulator = self._build(config=config, clock=self.primary.clock)
                    simulator.faults = self.primary.faults
                    self._built[index] = simulator
        return simulator

    def for_request(self, request: Request) -> MarketplaceSimulator:
        if not self._index:
            return self.primary
        index = self._index.get(type(self.primary).request_credential(request) or "")
        return self.primary if index is None else self.account(index)


class SimulatorApp:
    """The WSGI app: marketplaces under their prefixes, control under ``/_sim``."""

    def __init__(self, simulators: list[MarketplaceSimulator], clock: SimClock,
                 accounts: dict[str, Accounts] | None = None) -> None:
        self.clock = clock
        self.simulators = {sim.prefix: sim for sim in simulators}
        self.accounts = accounts or {}

    def __getitem__(self, prefix: str) -> MarketplaceSimulator:
        return self.simulators[prefix]

    def account(self, prefix: str, index: int) -> MarketplaceSimulator:
        """One merchant's simulator on a marketplace (0 is ``app[prefix]``)."""
        accounts = self.accounts.get(prefix)
        if accounts is None:
            if index:
                raise IndexError(f"{prefix} simulates one account")
            return self.simulators[prefix]
        return accounts.account(index)

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
        accounts = self.accounts.get(head)
        if accounts is not None:
            simulator = accounts.for_request(request)
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
    # Merchants per marketplace: account i (0 ≤ i < accounts) is seeded with seed + i and has its own credentials.
    accounts: int = 1
    latency_ms: int = 0  # added to every marketplace request (the faults' latency knob, set at start)


def build_simulator(config: SimulatorConfig | None = None, **overrides: Any) -> SimulatorApp:
    """The simulator for the configured marketplaces, each seeded from ``config.seed``."""
    import importlib

    config = config or SimulatorConfig()
    for key, value in overrides.items():
        setattr(config, key, value)
    clock = SimClock(start=config.start, speed=config.speed)
    simulators, accounts = [], {}
    for name in config.marketplaces:
        module = importlib.import_module(f"marketsync.simulator.{name}")
        simulator = module.build(config=config, clock=clock)
        simulator.faults.latency_ms = config.latency_ms
        simulators.append(simulator)
        if config.accounts > 1:
            accounts[simulator.prefix] = Accounts(simulator, module.build, config)
    return SimulatorApp(simulators, clock, accounts)
