"""A check report as one JSON document, with keys that stay put.

    {"schema": "smtpshell-check/1", "domain": "example.test", "status": "fail",
     "counts": {"pass": 14, "warn": 2, "fail": 1, "info": 5},
     "sections": [{"key": "dns", "title": "...", "status": "pass",
                   "findings": [{"check": "mx.records", "status": "pass",
                                 "summary": "...", "rfc": "RFC 5321 5.1",
                                 "details": {...}}]}]}

``json.dumps`` escapes every control character (``\\u001b``), so server text in it
cannot act on a terminal that shows the document.
"""

from __future__ import annotations

import json
from typing import Any

from smtpshell.check.model import Finding, Report, Section

SCHEMA = "smtpshell-check/1"


def report_document(report: Report) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "domain": report.domain,
        "status": report.status.value,
        "counts": report.counts(),
        "sections": [_section(section) for section in report.sections],
    }


def _section(section: Section) -> dict[str, Any]:
    return {
        "key": section.key,
        "title": section.title,
        "status": section.status.value,
        "findings": [_finding(finding) for finding in section.findings],
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "check": finding.check,
        "status": finding.status.value,
        "summary": finding.summary,
        "rfc": finding.rfc,
        "details": finding.details,
    }


def report_json(report: Report) -> str:
    # default=str: a detail that is not JSON (a date, a path) becomes its text
    # rather than a traceback after the whole check has run.
    return json.dumps(report_document(report), indent=2, sort_keys=False, default=str)
