"""Many ``manage.py`` command lines in one process, each run as the command line runs it.

``python tests/cli_batch.py RESULTS.json < PLAN.json`` where the plan is a list of ``{"args": [...], "stdin": "..."}``.
Each command line goes through ``execute_from_command_line`` — argument parsing from the command line, the
system checks, ``CommandError`` printed as one line and its exit code — with stdin, stdout, stderr and the log
handlers pointed at buffers of its own. An exception that escapes is printed as Python would print it
(``Traceback …``) and counted as exit code 1. One process for the lot: starting Django once per line would make a
sweep of every command take minutes.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import traceback
from pathlib import Path


def _run(args: list[str], stdin: str) -> dict:
    from django.core.management import execute_from_command_line

    out, err = io.StringIO(), io.StringIO()
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(err) for h in handlers]
    sys.stdin = io.StringIO(stdin)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                execute_from_command_line(["manage.py", *args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # what the interpreter would print for an uncaught exception
                err.write(traceback.format_exc())
                code = 1
    finally:
        sys.stdin = sys.__stdin__
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)
    return {"args": args, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketsync.settings")
    import django

    django.setup()
    plan = json.load(sys.stdin)
    results = [_run(step["args"], step.get("stdin", "")) for step in plan]
    Path(sys.argv[1]).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
