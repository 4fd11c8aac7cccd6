"""The one policy record of a kind at a name: what MTA-STS, TLS-RPT, SPF and DMARC
each look up first, and fail the same ways (RFC 8461 3.1, RFC 8460 3, RFC 7208 4.5,
RFC 7489 6.6.3): a lookup that fails, no record, or more than one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from smtpshell.check.model import Finding, Section, Status
from smtpshell.core.dns import DnsError, ResolverConfig
from smtpshell.core.dns_records import lookup_txt
from smtpshell.protocol.inert import inert


@dataclass(frozen=True)
class RecordKind:
    check: str  # the finding's id: "spf.record"...
    what: str  # as said in a summary: "SPF"
    is_record: Callable[[str], bool]  # a TXT record of this kind (by its version tag)
    rfc: str  # for no record and for several
    lookup_rfc: str  # for a lookup that failed


async def one_record(
    section: Section,
    kind: RecordKind,
    name: str,
    resolver: ResolverConfig,
    *,
    missing: str,
    several: str,
) -> str | None:
    """The record of ``kind`` at ``name``; None after adding the finding that says
    why there is none to read: the lookup failed (FAIL), none is published (WARN,
    ``missing`` saying what that costs), or several are (FAIL, ``several``)."""
    try:
        records = await lookup_txt(name, resolver)
    except DnsError as exc:
        section.add(Finding(kind.check, Status.FAIL, inert(str(exc)), kind.lookup_rfc))
        return None
    found = [text for text in records.texts if kind.is_record(text)]
    if not found:
        summary = f"no {kind.what} record at {name}: {missing}"
        section.add(Finding(kind.check, Status.WARN, summary, kind.rfc))
        return None
    if len(found) > 1:
        summary = f"{len(found)} {kind.what} records at {name}: {several}"
        section.add(Finding(kind.check, Status.FAIL, summary, kind.rfc, {"records": found}))
        return None
    return found[0]
