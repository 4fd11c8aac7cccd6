"""Run the real command line in-process, as (stdout, stderr, exit status)."""

from __future__ import annotations

import io
from typing import TextIO

from smtpshell.cli.environment import Environment
from smtpshell.cli.main import main


def run_cli(
    *args: str, stdin: str | TextIO = "", environ: dict[str, str] | None = None
) -> tuple[str, str, int]:
    """``environ`` replaces the program's environment; NO_COLOR is set unless given.

    ``stdin`` is the text piped in, or a stream of one's own.
    """
    out, err = io.StringIO(), io.StringIO()
    env = Environment(
        stdin=io.StringIO(stdin) if isinstance(stdin, str) else stdin,
        stdout=out,
        stderr=err,
        environ={"NO_COLOR": "1"} if environ is None else environ,
    )
    status = main(list(args), env)
    return out.getvalue(), err.getvalue(), status
