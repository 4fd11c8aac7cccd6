"""TXT records through the configured resolver, for the policy checks.

MTA-STS (RFC 8461 3.1), TLS-RPT (RFC 8460 3), SPF (RFC 7208 4.5) and DMARC
(RFC 7489 6.1) all publish their records as TXT. One record may be split into
several character-strings of at most 255 octets; RFC 7208 3.3 (and the others,
by reference to it) joins them without any separator, which is done here.

The text is decoded as UTF-8 with undecodable bytes replaced (U+FFFD): the
records are ASCII by definition, so anything else is a syntax error for the
caller to report, never a reason to fail the lookup. It stays data: whoever
shows it makes it inert first.
"""

from __future__ import annotations

from dataclasses import dataclass

from smtpshell.core.dns import (
    DnsError,
    InvalidDomainError,
    NoSuchDomainError,
    ResolverConfig,
    _domain_name,
    _Lookup,
)

__all__ = ["DnsError", "InvalidDomainError", "TxtRecords", "lookup_txt"]


@dataclass(frozen=True)
class TxtRecords:
    """The TXT records of one name, each record's strings joined."""

    name: str  # as asked, lower case, without the final dot
    texts: tuple[str, ...]  # in the server's order; empty for NXDOMAIN or no data
    exists: bool = True  # False: the name does not exist (NXDOMAIN)

    def starting_with(self, prefix: str) -> tuple[str, ...]:
        """The records that begin with ``prefix`` (case-insensitive), a version tag."""
        folded = prefix.casefold()
        return tuple(text for text in self.texts if text[: len(prefix)].casefold() == folded)


async def lookup_txt(name: str, config: ResolverConfig) -> TxtRecords:
    """The TXT records of ``name``, asked of the configured resolver only.

    NXDOMAIN and "no TXT records" are answers, not errors: both give an empty
    tuple. Time-outs, server failures and invalid names raise `DnsError`
    (`InvalidDomainError`, `DnsTimeoutError`); `config.timeout` bounds the lookup.
    """
    subject = _domain_name(name)
    lookup = await _Lookup.open(config, subject)
    try:
        answer = await lookup.query(subject[0], "TXT")
    except NoSuchDomainError:
        return TxtRecords(subject[1], (), exists=False)
    if answer is None or answer.rrset is None:
        return TxtRecords(subject[1], ())
    texts = tuple(
        b"".join(rdata.strings).decode("utf-8", errors="replace") for rdata in answer.rrset
    )
    return TxtRecords(subject[1], texts)
