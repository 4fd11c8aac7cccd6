"""JUnit XML for CI systems that show test results.

Replies and file names pass through :func:`~smtpshell.protocol.inert.inert`: XML 1.0
cannot hold ESC, BEL, NUL or VT at all, so one raw control character in a reply
would make the whole report unreadable.
"""

from __future__ import annotations

import contextlib
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import BinaryIO

from smtpshell.protocol.inert import inert
from smtpshell.replay.runner import ReplayResult

_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"


class JunitReport:
    """A report file opened, and written to, before any transcript runs.

    A path that cannot be written (a directory, a missing folder, a full device, a
    FIFO nobody reads) is found before anything is sent, not after every transcript
    ran. :meth:`open` raises OSError; the caller says which option was wrong.
    """

    def __init__(self, path: Path, stream: BinaryIO) -> None:
        self.path = path
        self._stream = stream

    @classmethod
    def open(cls, path: Path) -> JunitReport:
        # O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of blocking.
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(path, flags, 0o644)
        os.set_blocking(descriptor, True)
        stream = os.fdopen(descriptor, "wb")
        try:
            # Writing the declaration now is what finds a full device (ENOSPC).
            stream.write(_DECLARATION)
            stream.flush()
        except OSError:
            _close_quietly(stream)
            raise
        return cls(path, stream)

    def write(self, results: list[ReplayResult]) -> None:
        """The results, then close; raises OSError if the file cannot take them."""
        try:
            ET.ElementTree(_suite(results)).write(self._stream, encoding="utf-8")
            self._stream.flush()
        finally:
            _close_quietly(self._stream)

    def close(self) -> None:
        _close_quietly(self._stream)


def _close_quietly(stream: BinaryIO) -> None:
    # A write error was (or will be) reported by the caller; closing repeats it.
    with contextlib.suppress(OSError):
        stream.close()


def _suite(results: list[ReplayResult]) -> ET.Element:
    failures = sum(not result.passed for result in results)
    suite = ET.Element(
        "testsuite",
        name="smtpshell replay",
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        time=f"{sum(result.seconds for result in results):.3f}",
    )
    for result in results:
        case = ET.SubElement(
            suite, "testcase", classname="transcripts", name=inert(result.path),
            time=f"{result.seconds:.3f}",
        )  # fmt: skip
        mismatch = result.mismatch
        if mismatch is not None:
            failure = ET.SubElement(
                case,
                "failure",
                message=inert(f"line {mismatch.line}{_step(result)}: {mismatch.reason}"),
            )
            failure.text = "\n".join(
                inert(line)
                for line in [f"sent: {mismatch.sent}"]
                + [f"expected: {line}" for line in mismatch.expected]
                + [f"got: {line}" for line in mismatch.actual]
            )
    return suite


def _step(result: ReplayResult) -> str:
    return f" (step {result.steps} of {result.total})" if result.steps else ""
