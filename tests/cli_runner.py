"""Run the real command line in-process, as (stdout, stderr, exit status)."""

from __future__ import annotations

import io

from smtpshell.cli.environment import Environment
from smtpshell.cli.main import main


def run_cli(
    *args: str, stdin: str = "", environ: dict[str, str] | None = None
) -> tuple[str, str, int]:
    """``environ`` replaces the program's environment; NO_COLOR is set unless given."""
    out, err = io.StringIO(), io.StringIO()
    env = Environment(
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
        environ={"NO_COLOR": "1"} if environ is None else environ,
    )
    status = main(list(args), env)
    return out.getvalue(), err.getvalue(), status
