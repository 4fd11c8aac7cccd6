"""The policy part of ``check``: MTA-STS, TLS-RPT, SPF and DMARC, one section each.

Every lookup goes through the configured resolver, every failure is a finding:
nothing a domain publishes can make this raise or hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

from smtpshell.check.dmarc import dmarc_section
from smtpshell.check.model import Finding, Section, Status
from smtpshell.check.mta_sts import mta_sts_section
from smtpshell.check.spf import spf_section
from smtpshell.check.tls_rpt import tls_rpt_section
from smtpshell.core.dns import ResolverConfig
from smtpshell.protocol.inert import inert

# Each section gets this many of the longer of the two time-outs: MTA-STS asks
# DNS twice then fetches over HTTPS; SPF follows includes one after another.
_SECTION_BUDGET = 12


async def policy_sections(
    domain: str,
    resolver: ResolverConfig,
    mx_names: list[str],
    *,
    timeout: float,
    cafile: Path | None,
    https_port: int = 443,
) -> list[Section]:
    """The "mta-sts", "tls-rpt", "spf" and "dmarc" sections for ``domain``.

    ``mx_names`` are the domain's MX hosts, matched against the MTA-STS policy.
    ``timeout`` bounds the HTTPS fetch of the policy; ``cafile`` replaces the
    system's CA store for it; ``https_port`` is a test override (the policy host
    is always asked on 443 in real use, RFC 8461 3.3).
    """
    domain = domain.strip().rstrip(".").lower()
    budget = max(timeout, resolver.timeout) * _SECTION_BUDGET
    parts: list[tuple[str, str, Awaitable[Section]]] = [
        (
            "mta-sts",
            "MTA-STS (RFC 8461)",
            mta_sts_section(
                domain, resolver, mx_names, timeout=timeout, cafile=cafile, https_port=https_port
            ),
        ),
        ("tls-rpt", "TLS-RPT (RFC 8460)", tls_rpt_section(domain, resolver)),
        ("spf", "SPF (RFC 7208)", spf_section(domain, resolver)),
        ("dmarc", "DMARC (RFC 7489)", dmarc_section(domain, resolver)),
    ]
    return list(
        await asyncio.gather(*(_guarded(key, title, part, budget) for key, title, part in parts))
    )


async def _guarded(key: str, title: str, part: Awaitable[Section], budget: float) -> Section:
    """The section, or one FAIL finding saying why it could not be built."""
    try:
        async with asyncio.timeout(budget):
            return await part
    except TimeoutError:
        reason = f"not finished within {budget:g} s"
    except Exception as exc:
        # The report must still come out: one broken part (a bug, or input no
        # parser foresaw) costs its own section, not the whole check.
        reason = f"could not be checked: {type(exc).__name__}: {exc}"
    finding = Finding(f"{key}.error", Status.FAIL, inert(reason), None)
    return Section(key, title, [finding])
