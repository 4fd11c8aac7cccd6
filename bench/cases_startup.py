"""Start-up: how long ``smtpshell --version`` and ``--help`` take, against a bare interpreter."""

from __future__ import annotations

import sys
from functools import partial

from context import Bench
from measure import Contender, Invocation, interleave
from report import Row, comparison


def start_up(bench: Bench) -> list[Row]:
    def command(argv: list[str]) -> Contender:
        return Contender(" ".join(argv), lambda: Invocation(argv))

    yardsticks = [Contender("python -c pass", lambda: Invocation([sys.executable, "-c", "pass"]))]
    if bench.swaks():
        yardsticks.append(Contender("swaks --version", lambda: Invocation(["swaks", "--version"])))
    rows = []
    for option in ("--version", "--help"):
        mine = Contender(f"smtpshell {option}", partial(Invocation, [*bench.smtpshell, option]))
        results = interleave([mine, *yardsticks], bench.runs * 2, bench.env)
        rows.append(
            comparison(
                f"start-up: `smtpshell {option}`",
                results,
                mine.name,
                limits={"python -c pass": 1.5},
            )
        )
    return rows
