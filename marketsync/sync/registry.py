"""Which (marketplace, entity) pairs sync, and how: an adapter that yields pages, a service that stores them.

Each marketplace package registers its specs in ``<package>/entities.py``;
the registry imports those modules on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from marketsync.marketplaces import Entity, Marketplace
from marketsync.sync.errors import BadRecord

if TYPE_CHECKING:
    from connections.models import Connection


@dataclass
class Page:
    """One page of typed records and the cursor to store once they are stored.

    ``sweep_started_at`` is set on the last page of a full sweep: records of the
    connection not seen since that time are then marked removed, in the same
    transaction as that page.
    """

    records: list[Any]
    cursor: dict
    bad_records: list[BadRecord] = field(default_factory=list)
    sweep_started_at: datetime | None = None


def parse_records(
    raws: Iterable[Any], parse: Callable[[Any], Any], record_id: Callable[[Any], str]
) -> tuple[list[Any], list[BadRecord]]:
    """Parse each raw payload; one that does not parse becomes a BadRecord naming it, the rest are kept."""
    records, bad = [], []
    for raw in raws:
        try:
            records.append(parse(raw))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            bad.append(BadRecord(record_id(raw) if isinstance(raw, dict) else "?", str(exc) or type(exc).__name__))
    return records, bad


def whole_sweep_page(
    raws: Iterable[Any], parse: Callable[[Any], Any], record_id: Callable[[Any], str], *, started_at: datetime
) -> Page:
    """A full sweep the marketplace returns in one response, as one page.

    A record that did not parse is still listed at the marketplace, so a sweep
    with one marks nothing removed.
    """
    records, bad = parse_records(raws, parse, record_id)
    return Page(records=records, cursor={"last_import": started_at.isoformat()}, bad_records=bad,
                sweep_started_at=None if bad else started_at)


def fetched_pages(
    work: list[Any],
    fetch: Callable[[Any], Any],
    *,
    record_id: Callable[[Any], str],
    page_size: int,
    cursor: dict,
    holding_cursor: dict,
) -> Iterator[Page]:
    """Pages of records fetched one by one (APIs without a list of full records).

    A record that is gone or does not parse becomes a BadRecord naming it. Every
    page but the last carries ``holding_cursor``, so a run that stops part-way
    repeats the rest next time; the last carries ``cursor``.
    """
    from marketsync.sync.errors import NotFound

    for offset in range(0, len(work), page_size):
        records, bad = [], []
        for unit in work[offset : offset + page_size]:
            try:
                records.append(fetch(unit))
            except NotFound as exc:
                bad.append(BadRecord(record_id(unit), str(exc)))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                bad.append(BadRecord(record_id(unit), f"unreadable record: {exc}"))
        last = offset + page_size >= len(work)
        yield Page(records=records, cursor=cursor if last else holding_cursor, bad_records=bad)


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(self.created + other.created, self.updated + other.updated)


class EntityAdapter(Protocol):
    def pages(self, *, cursor: dict) -> Iterator[Page]: ...


@dataclass(frozen=True)
class EntitySpec:
    marketplace: Marketplace
    entity: Entity
    # Builds the adapter for one connection on an injected httpx.Client.
    adapter: Callable[[Connection, httpx.Client], EntityAdapter]
    # Stores one page's records; returns counts. Runs inside the page's transaction.
    upsert_page: Callable[..., UpsertResult]
    # After a complete sweep: mark what was not seen since ``started_at`` as removed; returns how many.
    mark_removed: Callable[..., int] | None = None
    # Before a run: a reason not to run now (e.g. a call budget), or None.
    admission: Callable[[Connection, Entity], str | None] | None = None
    # Re-read one record now (an order's "refresh", a webhook): fetches by the marketplace id and
    # stores it through ``upsert_page``; returns the counts.
    refresh_one: Callable[[Connection, httpx.Client, str], UpsertResult] | None = None


_SPECS: dict[tuple[Marketplace, Entity], EntitySpec] = {}
_LOADED = False
_MODULES = {m: f"marketsync.marketplaces.{m.value}.entities" for m in Marketplace}


def register(spec: EntitySpec) -> EntitySpec:
    _SPECS[(spec.marketplace, spec.entity)] = spec
    return spec


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    for module in _MODULES.values():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # the entities module, or its marketplace package, is not there (yet): nothing to register
            if exc.name != module and not module.startswith(f"{exc.name}."):
                raise
    _LOADED = True


def get_spec(marketplace: str, entity: str) -> EntitySpec | None:
    _load()
    return _SPECS.get((Marketplace(marketplace), Entity(entity)))


def all_specs() -> list[EntitySpec]:
    _load()
    return list(_SPECS.values())
