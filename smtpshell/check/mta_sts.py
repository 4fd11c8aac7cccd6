"""The MTA-STS section of ``check``: the TXT record, the policy over HTTPS, its
mode and max_age, and which MX hosts the policy covers (RFC 8461).

Whether each MX presents a valid certificate is the exchangers' part of the
report; this part says which of them the policy names.
"""

from __future__ import annotations

from pathlib import Path

from smtpshell.check.https_fetch import FetchError, HttpResponse, https_get
from smtpshell.check.model import Finding, Section, Status
from smtpshell.check.mta_sts_policy import (
    StsPolicy,
    covered,
    is_sts_record,
    parse_sts_policy,
    parse_sts_record,
)
from smtpshell.check.policy_record import RecordKind, one_record
from smtpshell.core.dns import DnsError, ResolverConfig, resolve_addresses
from smtpshell.core.tls import client_context
from smtpshell.errors import SmtpShellError
from smtpshell.protocol.inert import inert

POLICY_PATH = "/.well-known/mta-sts.txt"  # RFC 8461 3.3
ONE_DAY = 86_400


_STS_RECORD = RecordKind(
    "mta-sts.txt", "MTA-STS", is_sts_record, rfc="RFC 8461 3.1", lookup_rfc="RFC 8461 3.1"
)


def _finding(check: str, status: Status, summary: str, rfc: str, /, **details: object) -> Finding:
    return Finding(check, status, summary, rfc, dict(details))


async def mta_sts_section(
    domain: str,
    resolver: ResolverConfig,
    mx_names: list[str],
    *,
    timeout: float,
    cafile: Path | None,
    https_port: int = 443,
) -> Section:
    """Check the domain's MTA-STS record and policy; ``https_port`` is for tests."""
    section = Section("mta-sts", "MTA-STS (RFC 8461)")
    if not await _txt_record(section, domain, resolver):
        return section
    policy = await _policy(section, domain, resolver, timeout, cafile, https_port)
    if policy is None:
        return section
    _mode_and_max_age(section, policy)
    _mx_match(section, policy, mx_names)
    return section


async def _txt_record(section: Section, domain: str, resolver: ResolverConfig) -> bool:
    """Add the mta-sts.txt finding; True when a usable record was found."""
    name = f"_mta-sts.{domain}"
    rfc = _STS_RECORD.rfc
    text = await one_record(
        section, _STS_RECORD, name, resolver,
        missing="senders may deliver over unverified TLS",
        several="senders then assume no policy",
    )  # fmt: skip
    if text is None:
        return False
    record = parse_sts_record(text)
    if record.problems:
        summary = f"MTA-STS record at {name} is invalid: {inert(record.problems[0])}"
        section.add(
            _finding("mta-sts.txt", Status.FAIL, summary, rfc, record=text,
                     problems=record.problems)
        )  # fmt: skip
        return False
    summary = f"MTA-STS record at {name}, policy id {inert(record.id or '')}"
    section.add(_finding("mta-sts.txt", Status.PASS, summary, rfc, record=text))
    return True


async def _policy(
    section: Section,
    domain: str,
    resolver: ResolverConfig,
    timeout: float,
    cafile: Path | None,
    port: int,
) -> StsPolicy | None:
    host = f"mta-sts.{domain}"
    url = f"https://{host}{'' if port == 443 else f':{port}'}{POLICY_PATH}"
    try:
        response = await _fetch(host, resolver, timeout, cafile, port)
    except SmtpShellError as exc:
        summary = f"policy not fetched from {url}: {inert(str(exc))}"
        section.add(_finding("mta-sts.policy", Status.FAIL, summary, "RFC 8461 3.3", url=url))
        return None
    problem = _response_problem(response)
    if problem is not None:
        summary = f"policy at {url} refused: {problem}"
        details = {"url": url, "status": response.status}
        location = response.header("location")
        if location is not None:
            details["location"] = location
        section.add(_finding("mta-sts.policy", Status.FAIL, summary, "RFC 8461 3.3", **details))
        return None
    text = response.body.decode("utf-8", errors="replace")
    policy = parse_sts_policy(text)
    if policy.problems:
        summary = f"policy at {url} is invalid: {inert(policy.problems[0])}"
        section.add(
            _finding("mta-sts.policy", Status.FAIL, summary, "RFC 8461 3.2", url=url,
                     policy=text, problems=policy.problems)
        )  # fmt: skip
        return None
    status = Status.WARN if policy.notes else Status.PASS
    summary = f"policy fetched from {url} (certificate verified)"
    if policy.notes:
        summary += f"; {inert(policy.notes[0])}"
    section.add(_finding("mta-sts.policy", status, summary, "RFC 8461 3.2", url=url, policy=text))
    return policy


async def _fetch(
    host: str, resolver: ResolverConfig, timeout: float, cafile: Path | None, port: int
) -> HttpResponse:
    try:
        ipv4, ipv6 = await resolve_addresses(host, resolver)
    except DnsError as exc:
        raise FetchError(f"cannot resolve {host}: {exc}") from exc
    context = client_context(cafile)  # verifies the chain and the name (RFC 8461 3.3)
    return await https_get(
        host, POLICY_PATH, addresses=[*ipv4, *ipv6], port=port, context=context, timeout=timeout
    )


def _response_problem(response: HttpResponse) -> str | None:
    if 300 <= response.status < 400:
        where = inert(response.header("location") or "nowhere")
        return f"HTTP {response.status} redirect to {where} (senders must not follow it)"
    if response.status != 200:
        return f"HTTP {response.status} {inert(response.reason)}"
    media = (response.header("content-type") or "").partition(";")[0].strip().lower()
    if media != "text/plain":
        # RFC 8461 3.2: served as text/plain, so that a page of other content on
        # the same host cannot be taken for a policy.
        return f"Content-Type {inert(media) or 'missing'}, text/plain required"
    return None


def _mode_and_max_age(section: Section, policy: StsPolicy) -> None:
    rfc = "RFC 8461 5"
    if policy.mode == "enforce":
        summary = "mode enforce: senders refuse to deliver without valid TLS to a listed MX"
        section.add(_finding("mta-sts.mode", Status.PASS, summary, rfc, mode=policy.mode))
    elif policy.mode == "testing":
        summary = "mode testing: failures are reported (TLS-RPT), mail still delivered"
        section.add(_finding("mta-sts.mode", Status.WARN, summary, rfc, mode=policy.mode))
    else:
        summary = "mode none: the policy is withdrawn, senders protect nothing"
        section.add(_finding("mta-sts.mode", Status.WARN, summary, rfc, mode=policy.mode))
    max_age = policy.max_age or 0
    days = f"{max_age / ONE_DAY:.1f}".removesuffix(".0")
    if max_age < ONE_DAY:
        # RFC 8461 3.2 suggests weeks or more: a short max_age leaves senders
        # without a cached policy, open to downgrades, soon after each fetch.
        summary = f"max_age {max_age} s ({days} days): senders forget the policy quickly"
        status = Status.WARN
    else:
        summary = f"max_age {max_age} s ({days} days)"
        status = Status.PASS
    section.add(_finding("mta-sts.max-age", status, summary, "RFC 8461 3.2", max_age=max_age))


def _mx_match(section: Section, policy: StsPolicy, mx_names: list[str]) -> None:
    rfc = "RFC 8461 4.1"
    if policy.mode == "none":
        return
    if not mx_names:
        summary = "no MX hosts to match against the policy's mx patterns"
        section.add(_finding("mta-sts.mx-match", Status.INFO, summary, rfc, patterns=policy.mx))
        return
    matched, missed = covered(mx_names, policy.mx)
    details = {"patterns": policy.mx, "covered": matched, "not_covered": missed}
    if not missed:
        summary = f"every MX matches the policy: {', '.join(inert(h) for h in matched)}"
        section.add(_finding("mta-sts.mx-match", Status.PASS, summary, rfc, **details))
        return
    status = Status.FAIL if policy.mode == "enforce" else Status.WARN
    consequence = (
        "senders refuse to deliver to them" if status is Status.FAIL else "reported in testing"
    )
    summary = f"MX not covered by the policy: {', '.join(inert(h) for h in missed)} ({consequence})"
    section.add(_finding("mta-sts.mx-match", status, summary, rfc, **details))
