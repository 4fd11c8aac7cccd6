"""JUnit XML for CI systems that show test results.

Replies and file names pass through :func:`~smtpshell.protocol.inert.inert`: XML 1.0
cannot hold ESC, BEL, NUL or VT at all, so one raw control character in a reply
would make the whole report unreadable.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from smtpshell.protocol.inert import inert
from smtpshell.replay.runner import ReplayResult


def write_junit(path: Path, results: list[ReplayResult]) -> None:
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
                case, "failure", message=inert(f"line {mismatch.line}: {mismatch.reason}")
            )
            failure.text = "\n".join(
                inert(line)
                for line in [f"sent: {mismatch.sent}"]
                + [f"expected: {line}" for line in mismatch.expected]
                + [f"got: {line}" for line in mismatch.actual]
            )
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
