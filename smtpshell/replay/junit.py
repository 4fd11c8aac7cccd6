"""JUnit XML for CI systems that show test results."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

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
            suite, "testcase", classname="transcripts", name=result.path,
            time=f"{result.seconds:.3f}",
        )  # fmt: skip
        mismatch = result.mismatch
        if mismatch is not None:
            failure = ET.SubElement(
                case, "failure", message=f"line {mismatch.line}: {mismatch.reason}"
            )
            failure.text = "\n".join(
                [f"sent: {mismatch.sent}"]
                + [f"expected: {line}" for line in mismatch.expected]
                + [f"got: {line}" for line in mismatch.actual]
            )
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
