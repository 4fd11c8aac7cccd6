"""A check report for people: a table per section, a status per finding, a summary.

Server and DNS text goes into cells as ``Text`` passed through ``inert``: a greeting
or a certificate subject cannot drive the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtpshell.check.model import Report, Section, Status
from smtpshell.protocol.inert import inert

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

# Theme styles (render/theme.py) by meaning.
STYLE = {Status.PASS: "pass", Status.WARN: "warning", Status.FAIL: "fail", Status.INFO: "notice"}
LABEL = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.INFO: "info"}


def print_report(console: Console, report: Report) -> None:
    console.print(report_renderable(report))


def report_renderable(report: Report) -> RenderableType:
    """Every section, a blank line after each, then the summary line."""
    from rich.console import Group
    from rich.text import Text

    parts: list[RenderableType] = []
    for section in report.sections:
        parts += [section_renderable(section), Text()]
    return Group(*parts, summary_text(report))


def section_renderable(section: Section) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    from smtpshell.render.wrapping import WrappingTable

    heading = Text()
    heading.append(inert(section.title), style="heading")
    heading.append("  ")
    heading.append(LABEL[section.status], style=STYLE[section.status])
    table = WrappingTable(show_header=False, box=None, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column("status", no_wrap=True)
    table.add_column("finding")
    table.add_column("rfc", no_wrap=True, style="notice")
    for finding in section.findings:
        table.add_row(
            Text(LABEL[finding.status], style=STYLE[finding.status]),
            Text(inert(finding.summary)),
            Text(finding.rfc or ""),
        )
    return Group(heading, table)


def summary_text(report: Report) -> Text:
    from rich.text import Text

    counts = report.counts()
    status = report.status
    text = Text()
    # A report of facts alone (a null MX) has nothing wrong: OK, as for passes.
    label = "FAIL" if status is Status.FAIL else "WARN" if status is Status.WARN else "OK"
    text.append(label, style=STYLE[status] if status is not Status.INFO else "pass")
    text.append(f" {inert(report.domain)}: ")
    parts = [
        (counts["fail"], "failed", "fail"),
        (counts["warn"], "warning" + ("s" if counts["warn"] != 1 else ""), "warning"),
        (counts["pass"], "passed", "pass"),
    ]
    for index, (count, word, style) in enumerate(parts):
        if index:
            text.append(", ")
        text.append(f"{count} {word}", style=style if count else "")
    text.append(f" ({counts['info']} for information)")
    return text
