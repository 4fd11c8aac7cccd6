"""DANE for SMTP (RFC 7672): TLSA records and whether the presented chain matches.

A TLSA record counts only when DNSSEC authenticated it (RFC 7672 2.2): here, when
the resolver set the AD bit, which means something from a validating resolver
the user trusts (one on loopback, say). SMTP uses DANE-TA(2) and DANE-EE(3); PKIX
usages 0 and 1 are not for SMTP (RFC 7672 3.1.3). Selector 0 is the whole
certificate, 1 its SubjectPublicKeyInfo; matching type 0 is the data itself, 1
its SHA-256, 2 its SHA-512 (RFC 6698 2.1).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from smtpshell.check.model import Finding, Status
from smtpshell.core.dns import DnsError, ResolverConfig
from smtpshell.core.dns_records import RecordAnswer, query_records

_RFC = "RFC 7672"


@dataclass(frozen=True)
class Tlsa:
    usage: int
    selector: int
    matching: int
    data: bytes

    @classmethod
    def parse(cls, text: str) -> Tlsa:
        usage, selector, matching, *hexes = text.split()
        return cls(int(usage), int(selector), int(matching), bytes.fromhex("".join(hexes)))

    def __str__(self) -> str:
        return f"{self.usage} {self.selector} {self.matching} {self.data.hex()[:16]}..."


def tlsa_name(mx: str, port: int) -> str:
    return f"_{port}._tcp.{mx}"


async def lookup_tlsa(mx: str, port: int, resolver: ResolverConfig) -> RecordAnswer | DnsError:
    try:
        return await query_records(tlsa_name(mx, port), "TLSA", resolver)
    except DnsError as exc:
        return exc


def record_findings(mx: str, port: int, answer: RecordAnswer | DnsError) -> list[Finding]:
    """What the TLSA lookup says, before any certificate is looked at."""
    name = tlsa_name(mx, port)
    if isinstance(answer, DnsError):
        # RFC 7672 2.2.2: a failed TLSA lookup is not "no DANE"; senders defer.
        return [
            Finding("dane.tlsa", Status.FAIL, f"TLSA lookup failed: {answer}", "RFC 7672 2.2.2")
        ]
    if not answer.found:
        summary = f"no TLSA records at {name}: no DANE for this exchanger"
        return [Finding("dane.tlsa", Status.INFO, summary, _RFC, {"name": name, "records": []})]
    details = {"name": name, "records": list(answer.records), "authenticated": answer.authenticated}
    findings = [
        Finding(
            "dane.tlsa",
            Status.INFO,
            f"{len(answer.records)} TLSA record(s) at {name}",
            _RFC,
            details,
        )
    ]
    if answer.authenticated:
        summary = "the TLSA records are DNSSEC-authenticated (AD bit from the resolver)"
        findings.append(Finding("dane.dnssec", Status.PASS, summary, "RFC 7672 2.2", details))
    else:
        summary = (
            "the TLSA records are not DNSSEC-authenticated (no AD bit): senders ignore "
            "them; sign the zone, or ask a validating resolver"
        )
        findings.append(Finding("dane.dnssec", Status.WARN, summary, "RFC 7672 2.2", details))
    return findings


def match_finding(
    answer: RecordAnswer, leaf: bytes | None, chain: tuple[bytes, ...] | None
) -> Finding:
    """Whether any usable TLSA record matches the certificates presented."""
    records = [Tlsa.parse(text) for text in answer.records]
    usable = [r for r in records if r.usage in (2, 3)]
    if not usable:
        summary = "no TLSA record has usage 2 or 3, the only ones SMTP uses"
        return Finding("dane.match", Status.FAIL, summary, "RFC 7672 3.1.3")
    if leaf is None:
        return Finding("dane.match", Status.FAIL, "TLSA records, but no certificate to match", _RFC)
    for record in usable:
        if record.usage == 3 and matches(record, leaf):
            return Finding(
                "dane.match",
                Status.PASS,
                f"the certificate matches TLSA {record} (DANE-EE)",
                "RFC 7672 3.1.1",
                {"record": str(record)},
            )
        if record.usage == 2 and chain is not None:
            for cert in chain[1:]:
                if matches(record, cert):
                    return Finding(
                        "dane.match",
                        Status.PASS,
                        f"the chain matches TLSA {record} (DANE-TA)",
                        "RFC 7672 3.1.2",
                        {"record": str(record)},
                    )
    if chain is None and any(r.usage == 2 for r in usable):
        summary = (
            "no DANE-EE(3) record matches the certificate; DANE-TA(2) records need the "
            "whole chain, which this Python (before 3.13) cannot give: not checked"
        )
        return Finding("dane.match", Status.WARN, summary, "RFC 7672 3.1.2")
    summary = "no TLSA record matches the certificates presented: DANE senders will not deliver"
    return Finding("dane.match", Status.FAIL, summary, "RFC 7672 3.1")


def matches(record: Tlsa, der: bytes) -> bool:
    data = der if record.selector == 0 else spki(der)
    if record.matching == 0:
        return data == record.data
    if record.matching == 1:
        return hashlib.sha256(data).digest() == record.data
    if record.matching == 2:
        return hashlib.sha512(data).digest() == record.data
    return False


def spki(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo of a certificate, DER (selector 1)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_der_x509_certificate(der)
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
