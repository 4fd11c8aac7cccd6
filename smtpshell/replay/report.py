"""How replay results look: a pass or fail line each, the first mismatch coloured.

Replies, the transcript's own lines and file names are other people's text: each
goes through :func:`~smtpshell.protocol.inert.inert` before it reaches the terminal.

The lines are built once, as runs of (text, style name from render/theme.py). A
console that shows colour prints them through rich; without colour they are plain
text, written without loading rich at all (its import and its per-line rendering
cost more than replaying a short transcript), and the text is the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from smtpshell.protocol.inert import inert
from smtpshell.replay.runner import ReplayResult

if TYPE_CHECKING:
    from rich.console import Console

Run = tuple[str, str]  # (text, style name; "" for none)
Line = tuple[Run, ...]

# rich's tab stops (rich.text.Text.expand_tabs), kept so plain text lines up alike.
_TAB_SIZE = 8


def result_lines(result: ReplayResult) -> list[Line]:
    """A result as lines of styled runs: the PASS or FAIL line, then the mismatch."""
    mismatch = result.mismatch
    if mismatch is None:
        timing = f"({result.steps} steps, {result.seconds:.2f} s)"
        return [(("PASS", "pass"), (f" {inert(result.path)} {timing}", ""))]
    # The step that failed, counted from 1, of how many: the line is in the path.
    at = f"step {result.steps} of {result.total}" if result.steps else "connecting"
    timing = f"({at}, {result.seconds:.2f} s)"
    where = f" {inert(result.path)}:{mismatch.line} {timing}"
    lines: list[Line] = [(("FAIL", "fail"), (where, ""))]
    if mismatch.sent:
        lines.append(((f"  sent      > {inert(mismatch.sent)}", "client"),))
    for index, line in enumerate(mismatch.expected):
        label = "expected " if index == 0 else "         "
        lines.append(((f"  {label} {inert(line)}", "reply.positive"),))
    for index, line in enumerate(mismatch.actual):
        label = "got      " if index == 0 else "         "
        lines.append(((f"  {label} {inert(line)}", "reply.permanent"),))
    if not (mismatch.expected and mismatch.reason.startswith("expected ")):
        lines.append(((f"  {inert(mismatch.reason)}", "error"),))
    return lines


def print_result(console: Console, result: ReplayResult) -> None:
    """One result through a rich console (colour, or a conversation shown with -v)."""
    from rich.text import Text

    for line in result_lines(result):
        console.print(Text.assemble(*line))


def write_result(out: TextIO, result: ReplayResult) -> None:
    """One result as plain text: what :func:`print_result` shows without colour."""
    out.write("".join(plain_line(line) + "\n" for line in result_lines(result)))
    out.flush()  # a result is shown when its transcript ends, as rich does


def plain_line(line: Line) -> str:
    text = "".join(run for run, _ in line)
    return _expand_tabs(text) if "\t" in text else text


def _expand_tabs(text: str) -> str:
    """Tabs as rich expands them: to the next stop counted in terminal cells, so a
    wide character before a tab counts two."""
    from rich.cells import cell_len

    out: list[str] = []
    position = 0
    for index, part in enumerate(text.split("\t")):
        if index:
            spaces = _TAB_SIZE - position % _TAB_SIZE
            out.append(" " * spaces)
            position += spaces
        out.append(part)
        position += cell_len(part)
    return "".join(out)


def summary_line(results: list[ReplayResult]) -> str:
    passed = sum(result.passed for result in results)
    return f"replay: {passed} passed, {len(results) - passed} failed"
