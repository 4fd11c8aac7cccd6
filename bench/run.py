"""Benchmark smtpshell as users run it: whole processes, against yardsticks, as ratios.

    python3 bench/run.py [--runs N] [--quick] [--only CASE ...] [--interop FILE]

Every figure is a whole process started from the shell: wall time, user + system CPU
and peak RSS as the OS reports them for that process (os.wait4). Commands compared
run interleaved (A B C A B C ...) after a warm-up round; the table shows medians and
ratios. Each run's messages must arrive intact in the server's maildir, or the row
says FAILED. The server is the real Postfix of the interop set-up when it answers
(its description file: --interop, else $SMTPSHELL_INTEROP_DIR/interop.json), else the
embedded server, and the header says which.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from cases_network import flow_control, round_trips
from cases_replay import replay
from cases_startup import start_up
from cases_transactions import large_messages, many_on_one_connection, one_transaction
from context import Bench, child_environment, smtpshell_command
from machine import header, load
from measure import rss_source
from report import Row, markdown
from servers import EmbeddedServer, Target, default_interop_file, find_postfix
from terminal import interactive

CASES: dict[str, Callable[[Bench], list[Row]]] = {
    "start-up": start_up,
    "one-transaction": one_transaction,
    "many-transactions": many_on_one_connection,
    "large-messages": large_messages,
    "round-trips": round_trips,
    "flow-control": flow_control,
    "interactive": interactive,
    "replay": replay,
}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--runs", type=int, default=5,
                        help="timed runs per command (default 5)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 2 runs: under a minute")  # fmt: skip
    parser.add_argument("--only", action="append", choices=list(CASES), metavar="CASE",
                        help=f"run only this case (repeatable): {', '.join(CASES)}")  # fmt: skip
    parser.add_argument("--interop", type=Path, default=None,
                        help="the interop servers' description file (default: "
                        "$SMTPSHELL_INTEROP_DIR/interop.json)")  # fmt: skip
    parser.add_argument("--embedded", action="store_true",
                        help="use the embedded server even when Postfix answers")  # fmt: skip
    parser.add_argument("--smtpshell", default=None,
                        help="the command to benchmark (default: the smtpshell script "
                        "beside this interpreter, with this checkout on PYTHONPATH)")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    runs = 2 if options.quick and options.runs == 5 else options.runs
    smtpshell = shlex.split(options.smtpshell) if options.smtpshell else smtpshell_command()
    started, load_at_start = time.monotonic(), load()
    with tempfile.TemporaryDirectory(prefix="smtpshell-bench-") as scratch, ExitStack() as stack:
        root = Path(scratch)
        env = child_environment(root / "data")
        embedded: list[Target] = []

        def start_embedded() -> Target:
            if not embedded:
                server = EmbeddedServer(smtpshell, root / "embedded", env)
                stack.callback(server.stop)
                embedded.append(server.target)
            return embedded[0]

        postfix = None if options.embedded else find_postfix(
            options.interop or default_interop_file()
        )  # fmt: skip
        target = postfix or start_embedded()
        bench = Bench(smtpshell, env, target, root, runs, options.quick, start_embedded)
        rows: list[Row] = []
        for name in options.only or list(CASES):
            print(f"running {name}...", file=sys.stderr, flush=True)
            rows += CASES[name](bench)
        date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
        took = time.monotonic() - started
        bench.notes.append(
            f"Wall: perf_counter around each process; CPU: user + system from wait4; "
            f"{rss_source()}. The whole run took {took:.0f} s."
        )
        print(markdown(header(target.label, runs, date, load_at_start), rows, bench.notes), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
