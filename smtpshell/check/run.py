"""The whole check of a domain: DNS, then every exchanger address and DANE in
parallel, then the sender policies; progress reported as it goes.

Every exchanger address is probed at once, up to `CONCURRENCY` at a time, each step
bounded by the time-out: one dead or slow exchanger costs its own time-out, not
the sum of everyone's. The parts to run are chosen with ``only`` ("dns", "tls",
"policy"); the policy part (MTA-STS, TLS-RPT, SPF, DMARC) is
``smtpshell.check.policy``, skipped where the MX lookup failed or the domain takes
no mail.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from smtpshell.check import dane
from smtpshell.check.dns_section import Exchanger, dns_section
from smtpshell.check.exchanger import ProbeResult, ProbeSettings, probe, section_key
from smtpshell.check.model import Finding, Report, Section, Status
from smtpshell.core.dns import MxResult, ResolverConfig
from smtpshell.core.dns_records import RecordAnswer
from smtpshell.errors import SmtpShellError

CONCURRENCY = 8
PARTS = ("dns", "tls", "policy")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CheckSettings:
    resolver: ResolverConfig
    probe: ProbeSettings
    only: frozenset[str] | None = None  # some of PARTS, or (None) everything
    mta_sts_port: int = 443  # where the MTA-STS policy is fetched; another port is for tests

    def wants(self, part: str) -> bool:
        return self.only is None or part in self.only


async def check_domain(
    domain: str, settings: CheckSettings, progress: Progress | None = None
) -> Report:
    """The report on ``domain``'s mail setup, as seen from outside."""
    say = progress or (lambda _text: None)
    say(f"looking up the MX records of {domain}")
    outcome = await dns_section(domain, settings.resolver)
    report = Report(outcome.mx.domain if outcome.mx is not None else domain)
    if settings.wants("dns"):
        report.sections.append(outcome.section)
    elif outcome.section.status is Status.FAIL:
        report.sections.append(outcome.section)  # without it, nothing else makes sense
    tasks: list[Awaitable[list[Section]]] = []
    if settings.wants("tls"):
        tasks.append(_exchangers(outcome.exchangers, settings, say))
    if settings.wants("policy"):
        skipped = _no_policies(outcome.mx)
        if skipped is None:
            names = [e.name for e in outcome.exchangers]
            tasks.append(_policy(report.domain, names, settings, say))
        else:
            section = Section("policy", "Sender and transport policies")
            section.add(Finding("policy.skipped", Status.INFO, skipped))
            report.sections.append(section)
    for sections in await asyncio.gather(*tasks):
        report.sections.extend(sections)
    return report


def _no_policies(mx: MxResult | None) -> str | None:
    """Why the policies are not worth checking, or None: a domain whose MX lookup
    failed would fail every one for the same reason, and one that takes no mail
    (null MX) has no transport to protect."""
    if mx is None:
        return "policies not checked: the MX lookup failed (see DNS)"
    if mx.null_mx:
        return "policies not checked: the domain takes no mail (null MX, RFC 7505)"
    return None


async def _exchangers(
    exchangers: list[Exchanger], settings: CheckSettings, say: Progress
) -> list[Section]:
    gate = asyncio.Semaphore(CONCURRENCY)
    port = settings.probe.port
    pending = {section_key(e.name, a) for e in exchangers for a in e.addresses}

    async def one(name: str, address: str) -> ProbeResult:
        async with gate:
            say(f"probing {name} [{address}]:{port}")
            result = await probe(name, address, settings.probe)
        pending.discard(result.section.key)
        if pending:
            say(f"{name} [{address}] done; waiting for {len(pending)} more")
        return result

    names = list(dict.fromkeys(e.name for e in exchangers))
    tlsa = asyncio.gather(*(dane.lookup_tlsa(name, port, settings.resolver) for name in names))
    probes = asyncio.gather(*(one(e.name, a) for e in exchangers for a in e.addresses))
    answers, results = await asyncio.gather(tlsa, probes)
    by_name = dict(zip(names, answers, strict=True))
    sections: list[Section] = []
    for result, (name, _address) in zip(
        results, [(e.name, a) for e in exchangers for a in e.addresses], strict=True
    ):
        for finding in _dane_findings(name, port, by_name[name], result):
            result.section.add(finding)
        sections.append(result.section)
    return sections


def _dane_findings(
    name: str, port: int, answer: RecordAnswer | Exception, result: ProbeResult
) -> list[Finding]:
    from smtpshell.core.dns import DnsError

    assert isinstance(answer, RecordAnswer | DnsError)
    findings = dane.record_findings(name, port, answer)
    if isinstance(answer, RecordAnswer) and answer.found:
        if not result.starttls:
            summary = "TLSA records published, but no STARTTLS: DANE senders will not deliver"
            findings.append(Finding("dane.match", Status.FAIL, summary, "RFC 7672 2.2"))
        else:
            findings.append(dane.match_finding(answer, result.leaf, result.chain))
    return findings


async def _policy(
    domain: str, mx_names: list[str], settings: CheckSettings, say: Progress
) -> list[Section]:
    # Imported here: the policies bring an HTTPS client that DNS and TLS checks need not.
    module = importlib.import_module("smtpshell.check.policy")
    say(f"checking the policies of {domain}")
    probe_settings = settings.probe
    try:
        sections: list[Section] = await module.policy_sections(
            domain,
            settings.resolver,
            mx_names,
            timeout=probe_settings.timeout,
            cafile=probe_settings.cafile,
            https_port=settings.mta_sts_port,
        )
    except (SmtpShellError, OSError) as exc:
        # The rest of the report stands; say what could not be checked.
        section = Section("policy", "Sender and transport policies")
        section.add(Finding("policy.error", Status.FAIL, f"policy checks failed: {exc}"))
        return [section]
    return sections
