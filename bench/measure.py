"""Run a whole process as a user would and read its cost from the OS.

Each child is started with ``posix_spawn`` and reaped with ``os.wait4``, which gives
that child's own resource usage (user + system CPU), where
``getrusage(RUSAGE_CHILDREN)`` would give the maximum over every child ever reaped.

Peak RSS needs one more step. Linux keeps ``ru_maxrss`` across ``execve``, and a
process forked (or vforked) from this benchmark starts with the benchmark's own
resident set, about 40 MiB of Python: every child would report at least that. So
the command runs under ``/usr/bin/time``, a small C program, and the peak RSS is the
one it reports (``%M``) for its own child. Wall time is taken here with
``perf_counter`` around the whole, and CPU from ``wait4`` (which includes the
waited-for grandchild, and the fraction of a millisecond ``time`` itself uses).
"""

from __future__ import annotations

import os
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class BenchFailure(Exception):
    """A run that must not be timed: the command failed or a message arrived wrong."""


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds, from perf_counter around spawn and wait4
    cpu: float  # user + system seconds of the child
    rss: int  # peak resident set, bytes


@dataclass(frozen=True)
class Invocation:
    """One run of one command, with what to check after it exits."""

    argv: Sequence[str]
    stdin: Path | None = None
    verify: Callable[[], None] = lambda: None
    timeout: float = 300.0


@dataclass(frozen=True)
class Contender:
    """A command compared with others; ``prepare`` makes a fresh run (new token, files)."""

    name: str
    prepare: Callable[[], Invocation]


@dataclass
class Measured:
    name: str
    samples: list[Sample] = field(default_factory=list)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.samples)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def rss(self) -> float:
        return statistics.median(s.rss for s in self.samples)


TIME = "/usr/bin/time"


def rss_source() -> str:
    if os.access(TIME, os.X_OK):
        return "peak RSS as /usr/bin/time reports it"
    return "peak RSS from wait4, which counts this benchmark's own ~40 MiB: install GNU time"


def run_process(invocation: Invocation, env: Mapping[str, str]) -> Sample:
    """Run ``invocation`` to its end; raise BenchFailure unless it exits 0."""
    timed = os.access(TIME, os.X_OK)
    with (
        tempfile.NamedTemporaryFile(prefix="bench-stderr-") as errors,
        tempfile.NamedTemporaryFile(prefix="bench-rss-") as rss,
    ):
        argv = list(invocation.argv)
        if timed:
            argv = [TIME, "-f", "%M", "-o", rss.name, "--", *argv]
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, str(invocation.stdin or os.devnull), os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, errors.fileno(), 2),
        ]
        start = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, env, file_actions=actions)
        # A hung child must not hang the benchmark: kill it (by its id) after the time-out.
        watchdog = threading.Timer(invocation.timeout, os.kill, (pid, signal.SIGKILL))
        watchdog.start()
        try:
            _, status, usage = os.wait4(pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            errors.seek(0)
            tail = errors.read()[-400:].decode("utf-8", "replace").strip().replace("\n", " / ")
            raise BenchFailure(f"{Path(invocation.argv[0]).name} exited {code}: {tail}")
        # Both in KiB on Linux; time's file ends with the %M line.
        peak = int(rss.read().split()[-1]) if timed else usage.ru_maxrss
    return Sample(wall, usage.ru_utime + usage.ru_stime, peak * 1024)


def interleave(
    contenders: Sequence[Contender], runs: int, env: Mapping[str, str], warmups: int = 1
) -> dict[str, Measured]:
    """Run A B C A B C ...: ``warmups`` untimed rounds, then ``runs`` timed ones.

    Interleaving spreads whatever else the machine does over every contender alike.
    Every run, warm-ups included, is verified; a contender that fails once is out.
    """
    results = {c.name: Measured(c.name) for c in contenders}
    for round_number in range(warmups + runs):
        for contender in contenders:
            result = results[contender.name]
            if result.failure is not None:
                continue
            try:
                invocation = contender.prepare()
                sample = run_process(invocation, env)
                invocation.verify()
            except BenchFailure as failure:
                result.failure = str(failure)
                continue
            if round_number >= warmups:
                result.samples.append(sample)
    return results
