"""Shared pieces of the ops commands: one-line argument errors and credentials read from stdin."""

from __future__ import annotations

import getpass
import json
import sys

from django.core.management.base import CommandError, CommandParser

from marketsync.marketplaces import CREDENTIAL_FIELDS, Marketplace


class OneLineParser(CommandParser):
    """Argument errors as a single line (no usage dump) on the command line; CommandError when called in code."""

    def error(self, message):
        if self.called_from_command_line:
            self.exit(2, f"{self.prog}: error: {message}\n")
        raise CommandError(message)


def one_line_errors(parser: CommandParser) -> CommandParser:
    parser.__class__ = OneLineParser
    return parser


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
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        # The message and position only; never the text, which may hold a secret.
        raise CommandError(f"Credentials on stdin are not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    if not isinstance(data, dict):
        raise CommandError("Credentials on stdin must be a JSON object.")
    return data
