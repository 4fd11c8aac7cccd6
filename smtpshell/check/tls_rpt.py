"""The TLS-RPT section of ``check``: the ``_smtp._tls`` TXT record (RFC 8460 3).

It tells sending servers where to report TLS failures (MTA-STS, DANE), so that a
broken certificate is noticed by the domain before its mail is lost.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from smtpshell.check.model import Finding, Section, Status
from smtpshell.check.policy_record import RecordKind, one_record
from smtpshell.check.policy_tags import EXTENSION_NAME, EXTENSION_VALUE, duplicates, split_tags
from smtpshell.core.dns import ResolverConfig
from smtpshell.protocol.inert import inert

RFC = "RFC 8460 3"
VERSION = "v=TLSRPTv1"
_MAILTO = re.compile(r"mailto:[^@\s]+@[^@\s]+\.[^@\s]+", re.IGNORECASE)


def is_tlsrpt_record(text: str) -> bool:
    """RFC 8460 3: records not beginning with "v=TLSRPTv1;" are discarded."""
    rest = text[len(VERSION) :]
    return text.startswith(VERSION) and (not rest or rest.lstrip(" \t")[:1] == ";")


def tlsrpt_problems(text: str) -> tuple[list[str], list[str]]:
    """(problems, report URIs) of one record."""
    tags = split_tags(text)
    problems = list(tags.problems)
    if tags.fields[:1] != [("v", "TLSRPTv1")]:
        problems.append("the record must start with v=TLSRPTv1")
    problems += [f"{name}= given more than once" for name in duplicates(tags)]
    for name, value in tags.fields[1:]:
        if name != "rua" and not (
            EXTENSION_NAME.fullmatch(name) and EXTENSION_VALUE.fullmatch(value)
        ):
            problems.append(f"{name}={value!r}: not a valid field")
    rua = tags.first("rua")
    if rua is None:
        problems.append("no rua= field: reports have nowhere to go")
        return problems, []
    uris = [uri.strip(" \t") for uri in rua.split(",")]
    problems += [f"rua {uri!r}: {why}" for uri in uris if (why := _uri_problem(uri))]
    return problems, uris


def _uri_problem(uri: str) -> str | None:
    if uri.lower().startswith("mailto:"):
        return None if _MAILTO.fullmatch(uri) else "not a mailto: address"
    if uri.lower().startswith("https:"):
        parts = urlsplit(uri)
        return None if parts.hostname and not any(c in uri for c in " \t") else "not an https URL"
    return "only mailto: and https: report URIs are defined"


_TLSRPT_RECORD = RecordKind("tls-rpt.txt", "TLS-RPT", is_tlsrpt_record, rfc=RFC, lookup_rfc=RFC)


async def tls_rpt_section(domain: str, resolver: ResolverConfig) -> Section:
    section = Section("tls-rpt", "TLS-RPT (RFC 8460)")
    name = f"_smtp._tls.{domain}"
    record = await one_record(
        section, _TLSRPT_RECORD, name, resolver,
        missing="nobody hears of TLS failures sending here",
        several="senders then report nothing",
    )  # fmt: skip
    if record is None:
        return section
    if (result := tlsrpt_problems(record))[0]:
        problems = result[0]
        summary = f"TLS-RPT record at {name} is invalid: {inert(problems[0])}"
        details = {"record": record, "problems": problems}
        section.add(Finding("tls-rpt.txt", Status.FAIL, summary, RFC, details))
    else:
        uris = result[1]
        summary = f"TLS reports go to {', '.join(inert(u) for u in uris)}"
        details = {"record": record, "rua": uris}
        section.add(Finding("tls-rpt.txt", Status.PASS, summary, RFC, details))
    return section
