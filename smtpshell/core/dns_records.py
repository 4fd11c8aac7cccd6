"""Any record type through the configured resolver: TXT, TLSA, PTR, CNAME...

`lookup_mx` (dns.py) answers one question well; the checks of a domain
(``smtpshell check``) ask many small ones. Each call here is one question with its
own deadline, answered as a `RecordAnswer`: the records in master-file syntax, their
TTL, and whether the resolver vouched for them with DNSSEC (the AD bit, RFC 4035
3.2.3, RFC 6840 5.8: it means something only from a validating resolver the
client trusts, such as one on loopback).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smtpshell.core.dns import (
    DnsError,
    NoSuchDomainError,
    ResolverConfig,
    _domain_name,
    _Lookup,
)

if TYPE_CHECKING:
    import dns.resolver


@dataclass(frozen=True)
class RecordAnswer:
    """The answer to one question; no records when the name has none of that type."""

    name: str  # the name asked about, lower case, without the final dot
    rdtype: str  # "TXT", "TLSA"...
    records: tuple[str, ...]  # each in master-file syntax, as the server sent it
    ttl: int = 0
    authenticated: bool = False  # AD bit: the resolver validated it with DNSSEC
    exists: bool = True  # False for NXDOMAIN
    cname: str | None = None  # the name the answer came from, when a CNAME led there

    @property
    def found(self) -> bool:
        return bool(self.records)


async def query_records(name: str, rdtype: str, config: ResolverConfig) -> RecordAnswer:
    """Ask for ``rdtype`` records of ``name``; NXDOMAIN and NODATA are answers too.

    Raises `DnsError` for time-outs, server failures and names that are not names.
    The AD bit is asked for (RFC 6840 5.7) so that a validating resolver says
    whether the data was authenticated.
    """
    shown, answer, exists = await _ask(name, rdtype, config)
    if answer is None:
        return RecordAnswer(shown, rdtype, (), exists=exists)
    return _from_answer(shown, rdtype, answer)


@dataclass(frozen=True)
class TxtRecords:
    """The TXT records of one name, each record's character-strings joined."""

    name: str  # as asked, lower case, without the final dot
    texts: tuple[str, ...]  # in the server's order; empty for NXDOMAIN or no data


async def lookup_txt(name: str, config: ResolverConfig) -> TxtRecords:
    """The TXT records of ``name``, for the policy checks (MTA-STS, TLS-RPT, SPF,
    DMARC), with NXDOMAIN and NODATA as no records; raises `DnsError` as
    :func:`query_records` does.

    A record's strings are joined without a separator (RFC 7208 3.3, which the
    others follow) and decoded as UTF-8 with bad bytes replaced: the records are
    ASCII by definition, so anything else is the caller's syntax error to report,
    never a failed lookup. The text stays data: whoever shows it makes it inert.
    """
    shown, answer, _exists = await _ask(name, "TXT", config)
    if answer is None or answer.rrset is None:
        return TxtRecords(shown, ())
    texts = tuple(
        b"".join(rdata.strings).decode("utf-8", errors="replace") for rdata in answer.rrset
    )
    return TxtRecords(shown, texts)


async def _ask(
    name: str, rdtype: str, config: ResolverConfig
) -> tuple[str, dns.resolver.Answer | None, bool]:
    """(the name as shown, the answer or None when there are no records, whether
    the name exists): one question with its own deadline, the AD bit asked for."""
    import dns.flags

    qname, shown = _domain_name(name)
    lookup = await _Lookup.open(config, (qname, shown))
    lookup.resolver.flags = dns.flags.RD | dns.flags.AD
    try:
        answer = await lookup.query(qname, rdtype)
    except NoSuchDomainError:
        return shown, None, False
    if answer is None or answer.rrset is None:
        return shown, None, True
    return shown, answer, True


def _from_answer(shown: str, rdtype: str, answer: dns.resolver.Answer) -> RecordAnswer:
    import dns.flags

    rrset = answer.rrset
    assert rrset is not None
    records = tuple(dict.fromkeys(rdata.to_text() for rdata in rrset))
    authenticated = bool(answer.response.flags & dns.flags.AD)
    owner = rrset.name.to_text(omit_final_dot=True).lower()
    cname = owner if owner != shown else None
    return RecordAnswer(shown, rdtype, records, rrset.ttl, authenticated, cname=cname)


def reverse_name(address: str) -> str:
    """The in-addr.arpa / ip6.arpa name of an address (RFC 1035 3.5, RFC 3596 2.5)."""
    try:
        return ipaddress.ip_address(address).reverse_pointer
    except ValueError as exc:
        raise DnsError(f"{address!r}: not an IP address") from exc
