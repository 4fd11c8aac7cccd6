"""The shape of a ``check`` report: findings, grouped in sections, each PASS, WARN,
FAIL or INFO with a one-line reason and the RFC that says why.

Every part of the check (DNS, each exchanger, DANE, MTA-STS, sender policy) returns
findings in this shape; the report renders them for a terminal or as JSON. Text that
came from the network is kept as it came here and made inert where it is shown.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.Enum):
    PASS = "pass"
    WARN = "warn"  # works, but a receiver or an RFC would frown
    FAIL = "fail"  # broken: mail is refused, lost, or sent unprotected
    INFO = "info"  # a fact worth seeing, neither good nor bad


@dataclass(frozen=True)
class Finding:
    check: str  # a stable identifier for JSON consumers: "mx.null", "tls.expiry"...
    status: Status
    summary: str  # one line, for people
    rfc: str | None = None  # "RFC 7505 3", shown beside the reason
    details: dict[str, Any] = field(default_factory=dict)  # JSON-safe values only


@dataclass
class Section:
    """One group of findings: "DNS", one exchanger's address, "MTA-STS"..."""

    key: str  # stable: "dns", "mx:mx1.example.test:192.0.2.1", "mta-sts", "spf"...
    title: str  # for people
    findings: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> Finding:
        self.findings.append(finding)
        return finding

    @property
    def status(self) -> Status:
        return worst(f.status for f in self.findings)


@dataclass
class Report:
    domain: str
    sections: list[Section] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return worst(s.status for s in self.sections)

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for section in self.sections:
            for finding in section.findings:
                counts[finding.status.value] += 1
        return counts


_ORDER = {Status.FAIL: 3, Status.WARN: 2, Status.PASS: 1, Status.INFO: 0}


def worst(statuses: Any) -> Status:
    """The most serious of ``statuses`` (INFO when there are none)."""
    return max(statuses, key=_ORDER.__getitem__, default=Status.INFO)
