"""Shared pieces of the ops commands: one-line argument errors, bounded argument types, credentials read from stdin.

Every command of the project is an ``OpsCommand``: a junk argument is refused by its parser in one line naming
it (``manage.py sync: error: argument --connection: …``), before any query, never with a usage dump or a
traceback.
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connections import selectors
from connections.models import Connection, Organization
from marketsync.marketplaces import CREDENTIAL_FIELDS, Marketplace


class OneLineParser(CommandParser):
    """Argument errors as a single line (no usage dump) on the command line; CommandError when called in code."""

    def error(self, message):
        if self.called_from_command_line:
            self.exit(2, f"{self.prog}: error: {message}\n")
        raise CommandError(message)


def one_line_errors(parser: CommandParser) -> CommandParser:
    """``parser`` and its subcommands' parsers, giving argument errors in one line."""
    parser.__class__ = OneLineParser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                one_line_errors(sub)
    return parser


# What a byte that is not UTF-8 becomes in an argument (a lone surrogate), and NUL: no database can look them up.
NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


class OpsCommand(BaseCommand):
    """A management command whose argument errors (of its subcommands too) are one line, and whose arguments are
    text: a byte that is not UTF-8 (``$'\\xff'``) is refused by name before any query. A file's name may hold
    one (``file`` arguments): it is only opened."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        return one_line_errors(super().create_parser(prog_name, subcommand, **kwargs))

    def execute(self, *args, **options):
        for name, value in options.items():
            if name == "file":
                continue
            for text in value if isinstance(value, list | tuple) else [value]:
                if isinstance(text, str) and NOT_TEXT.search(text):
                    raise CommandError(f"Argument {name.replace('_', '-')} holds a byte that is not UTF-8 text.")
        return super().execute(*args, **options)


# The largest id a row can have (a 64-bit key): a 40-digit number is nobody's id, not an overflow in a query.
MAX_ID = 2**63 - 1


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else f"{value[:40]}…")


# How many valid values a "no such …" error lists (an operator's database may hold thousands).
LISTED_MAX = 10


def _listed(values: list[str]) -> str:
    """At most ``LISTED_MAX`` of the values (the caller fetched one more, to know there are more)."""
    if not values:
        return "none"
    return ", ".join(values[:LISTED_MAX]) + (", …" if len(values) > LISTED_MAX else "")


def organization_or_error(slug: str) -> Organization:
    """The organization with this slug (``--org``), or a one-line error naming it and the slugs there are."""
    organization = selectors.organization_get(slug=slug)
    if organization is None:
        slugs = list(selectors.organization_list().values_list("slug", flat=True)[:LISTED_MAX + 1])
        raise CommandError(f"No organization with slug {_shown(slug)}. Organizations: {_listed(slugs)}.")
    return organization


def connection_or_error(connection_id: int, *, organization: Organization | None = None, marketplace: str = ""
                        ) -> Connection:
    """The connection with this id (``--connection``) — of ``organization`` and to ``marketplace`` where given —
    or a one-line error naming it and the connections there are."""
    connection = selectors.connection_get(organization=organization, connection_id=connection_id, marketplace=marketplace)
    if connection is None:
        which = f"{Marketplace(marketplace).label} connection" if marketplace else "connection"
        where = f" in organization {organization.slug!r}" if organization is not None else ""
        valid = [f"{c.pk} ({c.organization.slug}, {c.marketplace_label})"
                 for c in selectors.connection_list(organization=organization, marketplace=marketplace)[:LISTED_MAX + 1]]
        raise CommandError(f"No {which} with id {connection_id}{where}. Connections: {_listed(valid)}.")
    return connection


def record_id(value: str) -> int:
    """An argument naming a row by its id: a whole number from 1 to ``MAX_ID``."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(value)} is not an id (a whole number)") from None
    if not 1 <= number <= MAX_ID:
        raise argparse.ArgumentTypeError(f"{_shown(value)} is not an id (ids run from 1 to {MAX_ID})")
    return number


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argument type: a whole number from ``low`` to ``high``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_shown(value)} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{_shown(value)} is not between {low} and {high}")
        return number

    parse.__name__ = "whole number"
    return parse


def decimal_number(low: float, high: float) -> Callable[[str], float]:
    """An argument type: a finite number from ``low`` to ``high``."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_shown(value)} is not a number") from None
        if not math.isfinite(number) or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{_shown(value)} is not between {low:g} and {high:g}")
        return number

    parse.__name__ = "number"
    return parse


def file_bytes(path: str) -> bytes:
    """The content of the file an argument names; what cannot be read (missing, a directory, a name too long for
    the system) is a one-line error naming it."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"{_shown(path)} is not a file that can be read ({exc.strerror or exc}).") from None


def json_argument(text: str, what: str) -> Any:
    """``text`` parsed as JSON, or a one-line error naming ``what`` and where it breaks (never echoing the text,
    which may hold a secret)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    except RecursionError:
        raise CommandError(f"{what} is not valid JSON: nested too deep.") from None


def read_credentials(stdin, marketplace: str, *, prompt_out=None) -> dict[str, str]:
    """A JSON object on stdin, or — on a terminal — one prompt per field without echo. Never from arguments."""
    stdin = stdin if stdin is not None else sys.stdin
    fields = CREDENTIAL_FIELDS[Marketplace(marketplace)]
    if hasattr(stdin, "isatty") and stdin.isatty():
        stream = prompt_out or sys.stderr
        try:
            return {field: getpass.getpass(f"{field}: ", stream=stream) for field in fields}
        except (EOFError, KeyboardInterrupt):
            raise CommandError("Credentials entry aborted.") from None
    raw = stdin.read()
    if not raw.strip():
        example = json.dumps({field: "..." for field in fields})
        raise CommandError(f"No credentials on stdin: pipe a JSON object such as {example}.")
    data = json_argument(raw, "Credentials on stdin")
    if not isinstance(data, dict):
        raise CommandError("Credentials on stdin must be a JSON object.")
    return data
