"""Every management command of the project, run as an operator runs it, with junk: a one-line error, never a traceback.

The commands and their subcommands, arguments and options are read from the commands' own parsers, so a new
command or option is swept the day it is added. Each is run with every argument set to one kind of junk at a
time — ids nobody has, 40-digit numbers, negative numbers, impossible dates, broken or wrong JSON, very long
text, a file of garbage — and junk on stdin for the commands that read credentials there. Each run must exit
non-zero with one line on stderr and no traceback.

The runs go through ``tests/cli_batch.py``: one process parses and runs every command line the way
``manage.py`` does (so it takes seconds, not minutes), on a database of its own set up by the commands
themselves.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest
from django.core.management import get_commands, load_command_class

from tests.manage_cli import ROOT, operator_shell

pytestmark = pytest.mark.django_db(transaction=True)

# Options every Django command has: not ours to sweep.
DJANGO_OPTIONS = {"help", "version", "verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color", "skip_checks"}

# One kind of junk per run: (for an integer argument, for any other argument, on stdin).
PROFILES = {
    "unknown": ("424242", "nope", ""),
    "huge": ("9" * 40, "9" * 40, "not json"),
    "negative": ("-1", "-1", "[]"),
    "impossible date": ("2026-13-45", "2026-13-45", "null"),
    "broken JSON": ("1e309", '{"a": ', '{"api_key": '),
    "wrong JSON": ("[]", '["not", "an", "object"]', '{"api_key": 1, "api_secret": [], "token": {}}'),
    "long": ("1" * 400, "x" * 3000, json.dumps({"api_key": "x" * 5000})),
    "quotes": ("0", "' OR 1=1 --", json.dumps({"api_key": "\u0000\u202e"})),
    "deep JSON": ("[" * 5000, '{"a": ' * 5000, "[" * 5000),
    "not UTF-8": ("\udcff", "x\udcff\udcfey", ""),  # what Python makes of the bytes FF FE in an argument
}


# What the setup below made, for the runs that get past the look-ups: connection 1 is acme's Back Market one.
PLAUSIBLE = {"org": "acme", "slug": "acme", "marketplace": "brickowl"}
# Command lines that read credentials from stdin: junk there is junk enough.
READS_STDIN = {("connection", "create"), ("connection", "rotate")}


def our_commands() -> dict[str, str]:
    """{command: app} for the commands of the project's own apps (not Django's, not a library's)."""
    found = {}
    for name, app in get_commands().items():
        if not app.startswith("django") and (ROOT / app.replace(".", "/")).is_dir():
            found[name] = app
    return found


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(subcommand path, parser) of every runnable command line, subcommands walked."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice, sub in action.choices.items():
                yield from _leaves(sub, (*path, choice))
            return
    yield path, parser


def _command_lines(name: str, app: str, junk_file: str) -> list[tuple[str, list[str], str]]:
    """(profile, arguments, stdin) of every junk command line of one command.

    Each profile runs twice: with junk in every argument, and with the ids and the organization naming what the
    setup made (so the junk in the other arguments is what the command meets, past its look-ups). A line with
    no junk left in it and nothing read from stdin is not junk: it is left out.
    """
    parser = load_command_class(app, name).create_parser("manage.py", name)
    lines = []
    for path, leaf in _leaves(parser):
        actions = [a for a in leaf._actions if a.dest not in DJANGO_OPTIONS and not isinstance(a, argparse._HelpAction)]
        for index, (profile, (as_int, as_text, stdin)) in enumerate(PROFILES.items()):
            for plausible in (False, True):
                args, junk = [name, *path], False
                for action in actions:
                    if action.nargs == 0:  # a flag: on in every other all-junk run (never with real ids: --yes deletes)
                        if index % 2 and not plausible:
                            args.append(action.option_strings[-1])
                        continue
                    numeric = action.type not in (None, str)
                    if action.choices:  # a valid choice, a different one each run, so the other junk is what is met
                        choices = list(action.choices)
                        value = str(choices[index % len(choices)])
                    elif plausible and (numeric or action.dest in PLAUSIBLE):
                        value = PLAUSIBLE.get(action.dest, "1")
                    else:
                        value = junk_file if action.dest == "file" and index % 2 else as_int if numeric else as_text
                        junk = True
                    args += [value] if not action.option_strings else [action.option_strings[-1], value]
                if not actions:  # a command that takes nothing gets something it does not take
                    args.append(as_text)
                    junk = True
                if junk or (name, *path) in READS_STDIN:
                    lines.append((f"{profile}{', real ids' if plausible else ''}", args, stdin))
    return lines


def test_every_command_answers_junk_with_a_one_line_error(tmp_path):
    shell = operator_shell(tmp_path)
    junk_file = tmp_path / "junk.bin"
    junk_file.write_bytes(b"\xff\xfe\x00garbage,\x00;\n" * 50)
    commands = our_commands()
    assert {"connection", "organization", "inventory", "orders", "export", "backmarket", "refurbed", "sync", "demo",
            "runsimulator", "rotate_credentials_key"} <= set(commands)
    setup = [
        {"args": ["organization", "create", "acme", "--name", "Acme"]},
        {"args": ["connection", "create", "--org", "acme", "--marketplace", "backmarket", "--base-url", "http://127.0.0.1:9/"],
         "stdin": json.dumps({"api_key": "k"})},
    ]
    lines = [(name, profile, args, stdin) for name, app in sorted(commands.items())
             for profile, args, stdin in _command_lines(name, app, str(junk_file))]
    plan = setup + [{"args": args, "stdin": stdin} for _name, _profile, args, stdin in lines]
    results_file = tmp_path / "results.json"
    subprocess.run([sys.executable, str(ROOT / "tests" / "cli_batch.py"), str(results_file)], cwd=ROOT, env=shell.env,
                   input=json.dumps(plan), text=True, check=True, timeout=600)
    results = json.loads(results_file.read_text())
    assert [r["code"] for r in results[:len(setup)]] == [0] * len(setup), results[:len(setup)]
    failures = []
    for (name, profile, args, _stdin), result in zip(lines, results[len(setup):], strict=True):
        error = result["stderr"].strip()
        if result["code"] == 0 or "Traceback" in error or len(error.splitlines()) != 1:
            shown = " ".join(a if len(a) < 50 else f"{a[:20]}…" for a in args)
            failures.append(f"[{profile}] manage.py {shown} -> exit {result['code']}: {error[-600:] or '(nothing on stderr)'}")
    assert len(lines) > 300
    assert not failures, f"{len(failures)} of {len(lines)} junk command lines:\n" + "\n".join(failures)
