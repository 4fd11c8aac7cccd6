"""The SPF section of ``check``: the record, its policy for strangers (``all``),
and the DNS lookups a receiver must make to evaluate it (RFC 7208).

The lookups are counted through include: and redirect= recursively, as a
receiver evaluating a sender that matches nothing would make them: past 10
(RFC 7208 4.6.4) every receiver stops with a permerror, so all mail fails SPF.
Targets written with macros depend on the sender and are counted, not followed.
Void lookups (a name with no records, NXDOMAIN or no data; at most 2) are
counted for the records that include: and redirect= fetch.

Why not a library: checkdmarc can be handed our resolver, but it needs about
twenty other packages (two HTTP stacks among them) and a newer cryptography than
ours, runs synchronously (a thread that a time-out cannot stop), and passes
``+all`` as valid; pyspf evaluates a record for one sender's IP address rather
than checking a record as a whole, and takes its DNS settings from module globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from smtpshell.check.model import Finding, Section, Status
from smtpshell.check.policy_record import RecordKind, one_record
from smtpshell.check.spf_record import LOOKUP_TERMS, SpfRecord, has_macro, is_spf_record, parse_spf
from smtpshell.core.dns import DnsError, ResolverConfig
from smtpshell.core.dns_records import lookup_txt
from smtpshell.protocol.inert import inert

LOOKUP_LIMIT = 10  # RFC 7208 4.6.4
VOID_LIMIT = 2  # RFC 7208 4.6.4
_SHOWN = 120  # characters of a record in a summary line


@dataclass
class Walk:
    """What following a record's include: and redirect= found."""

    lookups: int = 0
    void: int = 0
    problems: list[str] = field(default_factory=list)  # permerrors and temperrors inside
    not_followed: list[str] = field(default_factory=list)  # targets with macros
    path: list[str] = field(default_factory=list)  # the records being walked, for loops


_SPF_RECORD = RecordKind(
    "spf.record", "SPF", is_spf_record, rfc="RFC 7208 4.5", lookup_rfc="RFC 7208 4.4"
)


async def spf_section(domain: str, resolver: ResolverConfig) -> Section:
    section = Section("spf", "SPF (RFC 7208)")
    text = await one_record(
        section, _SPF_RECORD, domain, resolver,
        missing="receivers cannot tell mail forged in its name",
        several="a permerror for every receiver",
    )  # fmt: skip
    if text is None:
        return section
    record = parse_spf(text)
    details: dict[str, object] = {"record": text}
    if record.problems:
        summary = f"SPF record has a syntax error, a permerror: {inert(record.problems[0])}"
        details["problems"] = record.problems
        section.add(Finding("spf.record", Status.FAIL, summary, "RFC 7208 4.6", details))
        return section
    shown = inert(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")
    if record.notes:
        summary = f"{shown}; {inert(record.notes[0])}"
        section.add(Finding("spf.record", Status.WARN, summary, "RFC 7208 5.5", details))
    else:
        section.add(Finding("spf.record", Status.PASS, shown, "RFC 7208 4.5", details))
    walk = Walk(path=[domain])
    effective_all = await _follow(record, walk, resolver)
    _all_finding(section, effective_all)
    _lookup_findings(section, walk)
    return section


async def _follow(record: SpfRecord, walk: Walk, resolver: ResolverConfig) -> str | None:
    """Count the record's lookups, recursively; the qualifier of its effective all."""
    for term in record.mechanisms:
        if term.name in LOOKUP_TERMS:
            walk.lookups += 1
            if term.name == "include":
                await _descend(term.name, term.value, walk, resolver)
    redirect = record.modifier("redirect")
    # RFC 7208 6.1: redirect= is used (and looked up) only when no mechanism
    # matched, whatever its place in the record, and never when all is present.
    if redirect is None or record.all_qualifier is not None:
        return record.all_qualifier
    walk.lookups += 1
    return await _descend("redirect", redirect, walk, resolver)


async def _descend(kind: str, spec: str | None, walk: Walk, resolver: ResolverConfig) -> str | None:
    """Follow one include: or redirect=; the all qualifier of the record it names."""
    if walk.lookups > LOOKUP_LIMIT or spec is None:
        return None  # over the limit already: a receiver would stop here
    if has_macro(spec):
        walk.not_followed.append(f"{kind}:{spec}")
        return None
    domain = spec.rstrip(".").lower()
    target = await _target(kind, domain, walk, resolver)
    if target is None:
        return None
    walk.path.append(domain)
    try:
        return await _follow(target, walk, resolver)
    finally:
        walk.path.pop()


async def _target(kind: str, domain: str, walk: Walk, resolver: ResolverConfig) -> SpfRecord | None:
    """The record an include: or redirect= points at, or None (a problem noted)."""
    where = f"{kind}:{domain}" if kind == "include" else f"redirect={domain}"
    if domain in walk.path:
        walk.problems.append(f"{where} loops back to {domain}")
        return None
    try:
        records = await lookup_txt(domain, resolver)
    except DnsError as exc:
        walk.problems.append(f"{where}: {exc} (a temperror)")
        return None
    if not records.texts:
        walk.void += 1
    found = [text for text in records.texts if is_spf_record(text)]
    if len(found) != 1:
        # RFC 7208 5.2 and 6.1: a target without exactly one record is a permerror.
        what = "no SPF record" if not found else f"{len(found)} SPF records"
        walk.problems.append(f"{where} has {what} (a permerror)")
        return None
    target = parse_spf(found[0])
    if target.problems:
        walk.problems.append(f"{where}: {target.problems[0]} (a permerror)")
        return None
    return target


def _all_finding(section: Section, qualifier: str | None) -> None:
    rfc = "RFC 7208 5.1"
    if qualifier == "+":
        summary = "+all: any host on the Internet may send mail as this domain"
        section.add(Finding("spf.all", Status.FAIL, summary, rfc, {"all": "+all"}))
    elif qualifier == "?":
        summary = "?all: mail from unlisted hosts is neutral, as if there were no SPF"
        section.add(Finding("spf.all", Status.WARN, summary, rfc, {"all": "?all"}))
    elif qualifier is None:
        summary = "no all: mail from unlisted hosts is neutral (RFC 7208 4.7)"
        section.add(Finding("spf.all", Status.WARN, summary, rfc, {"all": None}))
    else:
        verdict = "fail" if qualifier == "-" else "softfail"
        summary = f"{qualifier}all: mail from unlisted hosts gets {verdict}"
        section.add(Finding("spf.all", Status.PASS, summary, rfc, {"all": f"{qualifier}all"}))


def _lookup_findings(section: Section, walk: Walk) -> None:
    rfc = "RFC 7208 4.6.4"
    details = {
        "lookups": walk.lookups,
        "void_lookups": walk.void,
        "not_followed": walk.not_followed,
    }
    if walk.lookups > LOOKUP_LIMIT:
        summary = f"more than {LOOKUP_LIMIT} DNS lookups ({walk.lookups} counted): a permerror"
        section.add(Finding("spf.lookups", Status.FAIL, summary, rfc, details))
    elif walk.void > VOID_LIMIT:
        summary = f"{walk.void} void DNS lookups (at most {VOID_LIMIT}): a permerror"
        section.add(Finding("spf.lookups", Status.FAIL, summary, rfc, details))
    else:
        summary = f"{walk.lookups} of {LOOKUP_LIMIT} DNS lookups"
        if walk.not_followed:
            summary += f", {len(walk.not_followed)} macro target(s) not followed"
        section.add(Finding("spf.lookups", Status.PASS, summary, rfc, details))
    if walk.problems:
        summary = inert(walk.problems[0])
        extra = len(walk.problems) - 1
        if extra:
            summary += f" (and {extra} more)"
        problems = {"problems": walk.problems}
        section.add(Finding("spf.includes", Status.FAIL, summary, "RFC 7208 5.2", problems))
