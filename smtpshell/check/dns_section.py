"""The DNS part of a check: MX records, the exchangers' addresses, reverse DNS.

What an MX lookup web site shows (preference, host name, address, TTL), plus what
it leaves out: a null MX (RFC 7505), an implicit MX (RFC 5321 5.1), an exchanger
that is an alias or an address (RFC 2181 10.3, RFC 5321 5.1), and whether each
address has a PTR record that leads back to it (forward-confirmed reverse DNS),
which many receivers demand of the hosts that send to them.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field

from smtpshell.check.model import Finding, Section, Status
from smtpshell.core.dns import (
    DnsError,
    MxHost,
    MxResult,
    NoSuchDomainError,
    ResolverConfig,
    lookup_mx,
    resolve_addresses,
)
from smtpshell.core.dns_records import query_records, reverse_name


@dataclass(frozen=True)
class Exchanger:
    """One mail exchanger to probe: its MX preference, name and addresses."""

    preference: int
    name: str
    addresses: tuple[str, ...]


@dataclass
class DnsOutcome:
    section: Section
    exchangers: list[Exchanger] = field(default_factory=list)
    mx: MxResult | None = None


async def dns_section(domain: str, resolver: ResolverConfig) -> DnsOutcome:
    """Findings about the domain's MX records and each exchanger's addresses."""
    section = Section("dns", f"DNS for {domain}")
    outcome = DnsOutcome(section)
    try:
        result = await lookup_mx(domain, resolver)
    except NoSuchDomainError as exc:
        section.add(Finding("mx.lookup", Status.FAIL, str(exc), "RFC 1035 4.3.1"))
        return outcome
    except DnsError as exc:
        section.add(Finding("mx.lookup", Status.FAIL, str(exc)))
        return outcome
    outcome.mx = result
    section.add(_mx_finding(result))
    if result.null_mx:
        return outcome
    checks = await asyncio.gather(*(_exchanger(host, resolver) for host in _unique(result)))
    for findings, exchanger in checks:
        for finding in findings:
            section.add(finding)
        if exchanger is not None:
            outcome.exchangers.append(exchanger)
    return outcome


def _unique(result: MxResult) -> list[MxHost]:
    seen: dict[str, MxHost] = {}
    for host in result.hosts:
        seen.setdefault(host.name, host)
    return list(seen.values())


def _mx_finding(result: MxResult) -> Finding:
    records = [
        {"preference": h.preference, "host": h.name, "ttl": h.ttl, "ipv4": list(h.ipv4),
         "ipv6": list(h.ipv6)}
        for h in result.hosts
    ]  # fmt: skip
    details = {"records": records, "null_mx": result.null_mx, "implicit": result.implicit}
    if result.null_mx:
        summary = f"{result.domain} has a null MX: it accepts no mail"
        return Finding("mx.records", Status.INFO, summary, "RFC 7505 3", details)
    if result.implicit:
        summary = (
            f"no MX records: mail goes to {result.domain}'s own address (implicit MX); "
            "publish an MX record"
        )
        return Finding("mx.records", Status.WARN, summary, "RFC 5321 5.1", details)
    shown = ", ".join(f"{h.preference} {h.name} (TTL {h.ttl})" for h in result.hosts)
    count = len(result.hosts)
    summary = f"{count} MX record{'s' if count != 1 else ''}: {shown}"
    return Finding("mx.records", Status.PASS, summary, "RFC 5321 5.1", details)


async def _exchanger(
    host: MxHost, resolver: ResolverConfig
) -> tuple[list[Finding], Exchanger | None]:
    name = host.name
    if _is_address(name):
        summary = f"MX {name} is an IP address: an MX names a host, senders look it up as one"
        finding = Finding("mx.target", Status.FAIL, summary, "RFC 5321 5.1", {"host": name})
        return [finding], None
    findings: list[Finding] = []
    alias = await _alias_of(name, resolver)
    if alias is not None:
        summary = f"MX {name} is an alias (CNAME to {alias}); an MX must name the host itself"
        cname = {"host": name, "cname": alias}
        findings.append(Finding("mx.cname", Status.WARN, summary, "RFC 2181 10.3", cname))
    addresses = (*host.ipv4, *host.ipv6)
    if not addresses:
        summary = f"MX {name} has no A or AAAA record: nobody can deliver to it"
        findings.append(Finding("mx.address", Status.FAIL, summary, "RFC 5321 5.1", {"host": name}))
        return findings, None
    details: dict[str, object] = {"host": name, "ipv4": list(host.ipv4), "ipv6": list(host.ipv6)}
    summary = f"{name} has the address{'es' if len(addresses) > 1 else ''} {', '.join(addresses)}"
    findings.append(Finding("mx.address", Status.PASS, summary, "RFC 5321 5.1", details))
    reverse = await asyncio.gather(*(_reverse(address, resolver) for address in addresses))
    findings.extend(reverse)
    return findings, Exchanger(host.preference, name, addresses)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


async def _alias_of(name: str, resolver: ResolverConfig) -> str | None:
    try:
        answer = await query_records(name, "CNAME", resolver)
    except DnsError:
        return None  # the address lookup reports what is wrong with the name
    return answer.records[0].rstrip(".").lower() if answer.found else None


async def _reverse(address: str, resolver: ResolverConfig) -> Finding:
    """PTR of an address, and whether one of its names resolves back to it (FCrDNS)."""
    rfc = "RFC 1912 2.1"
    try:
        answer = await query_records(reverse_name(address), "PTR", resolver)
    except DnsError as exc:
        return Finding("ptr", Status.WARN, f"{address}: PTR lookup failed: {exc}", rfc)
    names = [record.rstrip(".").lower() for record in answer.records]
    details: dict[str, object] = {"address": address, "ptr": names, "confirmed": False}
    if not names:
        summary = f"{address} has no PTR record; receivers often distrust such hosts"
        return Finding("ptr", Status.WARN, summary, rfc, details)
    for ptr in names:
        try:
            ipv4, ipv6 = await resolve_addresses(ptr, resolver)
        except DnsError:
            continue
        if ipaddress.ip_address(address) in {ipaddress.ip_address(a) for a in (*ipv4, *ipv6)}:
            details["confirmed"] = True
            summary = f"{address} -> PTR {ptr} -> {address}: forward-confirmed"
            return Finding("ptr", Status.PASS, summary, rfc, details)
    summary = f"{address} -> PTR {', '.join(names)}, which does not resolve back to {address}"
    return Finding("ptr", Status.WARN, summary, rfc, details)
