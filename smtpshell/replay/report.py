"""How replay results look: a pass or fail line each, the first mismatch coloured.

Replies, the transcript's own lines and file names are other people's text: each
goes through :func:`~smtpshell.protocol.inert.inert` before it reaches the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtpshell.protocol.inert import inert
from smtpshell.replay.runner import ReplayResult

if TYPE_CHECKING:
    from rich.console import Console


def print_result(console: Console, result: ReplayResult) -> None:
    timing = f"({result.steps} steps, {result.seconds:.2f} s)"
    mismatch = result.mismatch
    if mismatch is None:
        console.print("PASS", style="pass", end=" ")
        console.print(f"{inert(result.path)} {timing}")
        return
    console.print("FAIL", style="fail", end=" ")
    console.print(f"{inert(result.path)}:{mismatch.line} {timing}")
    if mismatch.sent:
        console.print(f"  sent      > {inert(mismatch.sent)}", style="client")
    for index, line in enumerate(mismatch.expected):
        label = "expected " if index == 0 else "         "
        console.print(f"  {label} {inert(line)}", style="reply.positive")
    for index, line in enumerate(mismatch.actual):
        label = "got      " if index == 0 else "         "
        console.print(f"  {label} {inert(line)}", style="reply.permanent")
    if not (mismatch.expected and mismatch.reason.startswith("expected ")):
        console.print(f"  {inert(mismatch.reason)}", style="error")


def summary_line(results: list[ReplayResult]) -> str:
    passed = sum(result.passed for result in results)
    return f"replay: {passed} passed, {len(results) - passed} failed"
