"""Replay at scale: 200 one-transaction transcripts against a smtplib loop doing the same."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from context import Bench
from invocations import checked, fresh, smtplib_many
from measure import Contender, Invocation, interleave
from messages import transcript
from report import WALL, Row, comparison


def replay(bench: Bench) -> list[Row]:
    target = bench.target
    count = 50 if bench.quick else 200
    cores = os.cpu_count() or 1

    def replayer(jobs: int) -> Callable[[], Invocation]:
        def prepare() -> Invocation:
            sent = fresh(target, count=count)
            folder = bench.scratch / f"transcripts-{next(iter(sent))}"
            folder.mkdir()
            for token, text in sent.items():
                (folder / f"{token}.smtp").write_text(
                    transcript(target.address, target.sender, target.recipient, text)
                )
            argv = [*bench.smtpshell, "replay", str(folder), "--connect", target.address,
                    "--jobs", str(jobs)]  # fmt: skip
            verify = checked(target, sent, [])

            def verify_and_clean() -> None:
                verify()
                shutil.rmtree(folder)

            return Invocation(argv, None, verify_and_clean)

        return prepare

    contenders = [
        Contender("replay --jobs 1", replayer(1)),
        Contender(f"replay --jobs {cores}", replayer(cores)),
        Contender(
            "smtplib loop",
            lambda: smtplib_many(bench, target, count, one_connection=False),
        ),
    ]
    results = interleave(contenders, bench.runs, bench.env)
    what = f"replay {count} one-transaction transcripts (each its own connection)"
    jobs_n = f"replay --jobs {cores}"
    return [
        comparison(
            f"{what}: wall",
            {k: results[k] for k in ("replay --jobs 1", "smtplib loop")},
            "replay --jobs 1",
            WALL,
            {"smtplib loop": 1.5},
        ),
        comparison(
            f"{what}: `--jobs {cores}` against `--jobs 1`",
            {k: results[k] for k in (jobs_n, "replay --jobs 1", "smtplib loop")},
            jobs_n,
            WALL,
        ),
    ]
