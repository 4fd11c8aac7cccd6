"""The DMARC section of ``check``: the ``_dmarc`` TXT record (RFC 7489 6.1, 6.3, 6.4).

A strict tag parser: v=DMARC1 first, p= required and valid, and every known tag's
value checked. Unknown tags are ignored, as receivers must (RFC 7489 6.3).
"""

from __future__ import annotations

import re

from smtpshell.check.model import Finding, Section, Status
from smtpshell.check.policy_record import RecordKind, one_record
from smtpshell.check.policy_tags import Tags, duplicates, split_tags
from smtpshell.core.dns import ResolverConfig
from smtpshell.protocol.inert import inert

POLICIES = ("none", "quarantine", "reject")
_SELECT = re.compile(r"[vV][ \t]*=[ \t]*DMARC1")  # RFC 7489 6.6.3, step 5
_URI = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):([^!\s]+)(?:!([0-9]+)[kmgtKMGT]?)?")
_REPORT_OPTIONS = {"0", "1", "d", "s"}


def is_dmarc_record(text: str) -> bool:
    return _SELECT.match(text) is not None


def dmarc_problems(tags: Tags) -> list[str]:
    """What makes a DMARC record unusable, in the order found."""
    problems = list(tags.problems)
    names = [name.lower() for name in tags.names()]
    if names[:1] != ["v"]:
        problems.append("v=DMARC1 must come first")
    elif tags.fields[0][1] != "DMARC1":
        # Often a missing ";": "v=DMARC1 p=reject" is one tag.
        problems.append(f"v={tags.fields[0][1]!r}: DMARC1 expected, then tags after ';'")
    problems += [f"{name}= given more than once" for name in duplicates(tags)]
    values = {name.lower(): value for name, value in reversed(tags.fields)}
    if "p" not in values:
        problems.append("no p= tag: the policy is required (RFC 7489 6.3)")
    for tag in ("p", "sp", "np"):
        if tag in values and values[tag] not in POLICIES:
            problems.append(f"{tag}={values[tag]!r}: none, quarantine or reject expected")
    for tag in ("adkim", "aspf"):
        if tag in values and values[tag] not in ("r", "s"):
            problems.append(f"{tag}={values[tag]!r}: r or s expected")
    pct = values.get("pct")
    if pct is not None and not (pct.isascii() and pct.isdigit() and int(pct) <= 100):
        problems.append(f"pct={pct!r}: 0 to 100 expected")
    ri = values.get("ri")
    if ri is not None and not (ri.isascii() and ri.isdigit() and int(ri) < 2**32):
        problems.append(f"ri={ri!r}: a number of seconds expected")
    fo = values.get("fo")
    if fo is not None and not set(fo.split(":")) <= _REPORT_OPTIONS:
        problems.append(f"fo={fo!r}: 0, 1, d or s, separated by colons, expected")
    for tag in ("rua", "ruf"):
        if tag in values:
            problems += [f"{tag}: {uri!r} is not a report URI" for uri in _bad_uris(values[tag])]
    return problems


def _bad_uris(value: str) -> list[str]:
    bad = []
    for uri in (part.strip(" \t") for part in value.split(",")):
        match = _URI.fullmatch(uri)
        if match is None or (match.group(1).lower() == "mailto" and "@" not in match.group(2)):
            bad.append(uri)
    return bad


_DMARC_RECORD = RecordKind(
    "dmarc.record", "DMARC", is_dmarc_record, rfc="RFC 7489 6.6.3", lookup_rfc="RFC 7489 6.6.3"
)


async def dmarc_section(domain: str, resolver: ResolverConfig) -> Section:
    section = Section("dmarc", "DMARC (RFC 7489)")
    name = f"_dmarc.{domain}"
    missing = "receivers apply no policy to forged mail"
    if domain.count(".") >= 2:
        missing += " (an organizational domain's record is not looked up)"
    record = await one_record(
        section, _DMARC_RECORD, name, resolver,
        missing=missing, several="receivers then apply none",
    )  # fmt: skip
    if record is None:
        return section
    tags = split_tags(record)
    problems = dmarc_problems(tags)
    if problems:
        summary = f"DMARC record at {name} is malformed: {inert(problems[0])}"
        details = {"record": record, "problems": problems}
        section.add(Finding("dmarc.record", Status.FAIL, summary, "RFC 7489 6.4", details))
        return section
    section.add(
        Finding("dmarc.record", Status.PASS, inert(record), "RFC 7489 6.3", {"record": record})
    )
    _policy_finding(section, {n.lower(): v for n, v in reversed(tags.fields)})
    return section


def _policy_finding(section: Section, values: dict[str, str]) -> None:
    policy, pct = values["p"], int(values.get("pct", "100"))
    details = {"p": policy, "sp": values.get("sp", policy), "pct": pct}
    if policy == "none":
        summary = "p=none: receivers only report, forged mail is delivered"
        section.add(Finding("dmarc.policy", Status.WARN, summary, "RFC 7489 6.3", details))
    elif pct < 100:
        summary = f"p={policy} applied to {pct}% of failing mail only"
        section.add(Finding("dmarc.policy", Status.WARN, summary, "RFC 7489 6.3", details))
    else:
        summary = f"p={policy}: receivers {policy} mail that fails DMARC"
        section.add(Finding("dmarc.policy", Status.PASS, summary, "RFC 7489 6.3", details))
    rua = values.get("rua")
    if rua is None:
        summary = "no rua=: the domain receives no aggregate reports"
        section.add(Finding("dmarc.reports", Status.INFO, summary, "RFC 7489 7.2"))
    else:
        summary = f"aggregate reports to {inert(rua)}"
        section.add(Finding("dmarc.reports", Status.INFO, summary, "RFC 7489 7.2", {"rua": rua}))
