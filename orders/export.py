"""Formats for the order export (CSV, JSON), written as a stream of text chunks.

The page streams them through ``StreamingHttpResponse`` and ``manage.py export orders`` writes them to
stdout: the same rows (``orders.selectors.order_export_rows``), the same columns, the same text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

# A cell starting with one of these is read as a formula by spreadsheets: quote it so a buyer's name
# like "=HYPERLINK(...)" from a marketplace payload stays text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMERIC = {"items_count", "total_amount", "subtotal_amount", "shipping_amount", "quantity", "unit_price", "connection_id"}


class _Line:
    def write(self, value: str) -> str:
        return value


def _safe(column: str, value: str) -> str:
    if value and column not in _NUMERIC and value.startswith(_FORMULA_START):
        return "'" + value
    return value


CHUNK_CHARS = 64 * 1024  # lines are sent in pieces of about this size, not one write per line


def _chunked(lines: Iterable[str]) -> Iterator[str]:
    buffer: list[str] = []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line)
        if size >= CHUNK_CHARS:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


def csv_stream(rows: Iterable[dict[str, str]], columns: list[str]) -> Iterator[str]:
    """A header row, then one CSV line per row; rows are consumed lazily, sent in ~64 KB pieces."""
    writer = csv.writer(_Line())

    def lines() -> Iterator[str]:
        yield writer.writerow(columns)
        for row in rows:
            yield writer.writerow([_safe(c, row.get(c, "")) for c in columns])

    return _chunked(lines())


def json_stream(rows: Iterable[dict[str, str]], columns: list[str]) -> Iterator[str]:
    """A JSON array of objects, one per line, streamed in ~64 KB pieces."""

    def lines() -> Iterator[str]:
        yield "["
        first = True
        for row in rows:
            yield ("\n" if first else ",\n") + json.dumps({c: row.get(c, "") for c in columns}, ensure_ascii=False)
            first = False
        yield "\n]\n"

    return _chunked(lines())
