"""TLS-RPT, SPF and DMARC in ``check``: each finding in both directions, against
the test DNS responder (RFC 8460, RFC 7208, RFC 7489)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from dns_responder import DnsResponder

from smtpshell.check.model import Finding, Section, Status
from smtpshell.check.policy import policy_sections
from smtpshell.check.spf_record import parse_spf
from smtpshell.core.dns import ResolverConfig

DOMAIN = "example.test"
Records = dict[tuple[str, str], list[tuple[int, str]]]


def txt(*texts: str) -> list[tuple[int, str]]:
    return [(300, f'"{text}"') for text in texts]


def base() -> Records:
    return {
        ("example.test", "SOA"): [(300, "ns.example.test. h.example.test. 1 3600 600 86400 300")]
    }


def run(records: Records, timeout: float = 3.0) -> dict[str, Section]:
    async def main() -> list[Section]:
        with DnsResponder({**base(), **records}) as dns:
            return await policy_sections(
                DOMAIN,
                ResolverConfig(dns.nameserver, timeout),
                [],
                timeout=timeout,
                cafile=None,
                https_port=9,  # never reached: no _mta-sts record in these zones
            )

    return {section.key: section for section in asyncio.run(main())}


def finding(sections: dict[str, Section], check: str) -> Finding:
    found = [f for s in sections.values() for f in s.findings if f.check == check]
    assert len(found) == 1, f"{check}: {found}"
    return found[0]


def spf(record: str, **records: list[tuple[int, str]]) -> dict[str, Section]:
    zone: Records = {(DOMAIN, "TXT"): txt(record)}
    zone.update({(name.replace("__", "."), "TXT"): value for name, value in records.items()})
    return run(zone)


# -- TLS-RPT ------------------------------------------------------------------------------


def test_tls_rpt_record_passes() -> None:
    record = "v=TLSRPTv1; rua=mailto:tls@example.test, https://reports.example.test/tls"
    sections = run({(f"_smtp._tls.{DOMAIN}", "TXT"): txt(record)})
    found = finding(sections, "tls-rpt.txt")
    assert found.status is Status.PASS
    assert found.details["rua"] == ["mailto:tls@example.test", "https://reports.example.test/tls"]


def test_tls_rpt_missing_warns() -> None:
    sections = run({(f"_smtp._tls.{DOMAIN}", "TXT"): txt("v=spf1 -all")})
    found = finding(sections, "tls-rpt.txt")
    assert found.status is Status.WARN
    assert "no TLS-RPT record" in found.summary


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("v=TLSRPTv1;", "no rua="),
        ("v=TLSRPTv1; rua=ftp://example.test/x", "only mailto: and https:"),
        ("v=TLSRPTv1; rua=mailto:nobody", "not a mailto: address"),
        ("v=TLSRPTv1; rua=mailto:a@example.test; rua=mailto:b@example.test", "more than once"),
        ("v=TLSRPTv1; rua mailto:a@example.test", "not name=value"),
    ],
)
def test_tls_rpt_malformed_fails(record: str, reason: str) -> None:
    sections = run({(f"_smtp._tls.{DOMAIN}", "TXT"): txt(record)})
    found = finding(sections, "tls-rpt.txt")
    assert found.status is Status.FAIL
    assert reason in found.summary


def test_tls_rpt_two_records_fail() -> None:
    records = txt("v=TLSRPTv1; rua=mailto:a@example.test", "v=TLSRPTv1; rua=mailto:b@example.test")
    sections = run({(f"_smtp._tls.{DOMAIN}", "TXT"): records})
    assert finding(sections, "tls-rpt.txt").status is Status.FAIL


# -- SPF ----------------------------------------------------------------------------------


def test_spf_good_record_passes() -> None:
    sections = spf(
        "v=spf1 mx a:relay.example.test ip4:192.0.2.0/24 ip6:2001:db8::/32"
        " include:_spf.example.test -all",
        _spf__example__test=txt("v=spf1 ip4:198.51.100.1 ~all"),
    )
    assert finding(sections, "spf.record").status is Status.PASS
    assert finding(sections, "spf.all").status is Status.PASS
    lookups = finding(sections, "spf.lookups")
    assert lookups.status is Status.PASS
    assert lookups.details["lookups"] == 3
    assert "3 of 10" in lookups.summary
    assert not [f for f in sections["spf"].findings if f.check == "spf.includes"]


def test_spf_missing_warns() -> None:
    sections = run({(DOMAIN, "TXT"): txt("google-site-verification=abc")})
    found = finding(sections, "spf.record")
    assert found.status is Status.WARN
    assert "no SPF record" in found.summary


def test_spf_plus_all_fails() -> None:
    sections = spf("v=spf1 mx +all")
    found = finding(sections, "spf.all")
    assert found.status is Status.FAIL
    assert "+all" in found.summary


def test_spf_bare_all_is_plus_all() -> None:
    assert finding(spf("v=spf1 all"), "spf.all").status is Status.FAIL


def test_spf_neutral_all_warns() -> None:
    assert finding(spf("v=spf1 mx ?all"), "spf.all").status is Status.WARN


def test_spf_without_all_warns() -> None:
    assert finding(spf("v=spf1 mx"), "spf.all").status is Status.WARN


def test_spf_all_comes_through_redirect() -> None:
    sections = spf("v=spf1 redirect=_spf.example.test", _spf__example__test=txt("v=spf1 +all"))
    assert finding(sections, "spf.all").status is Status.FAIL
    assert finding(sections, "spf.lookups").details["lookups"] == 1


def _chain(count: int) -> Records:
    """example.test includes i1, i1 includes i2... ; every record has one include."""
    zone: Records = {}
    for n in range(1, count + 1):
        nxt = f" include:i{n + 1}.example.test" if n < count else ""
        zone[(f"i{n}.example.test", "TXT")] = txt(f"v=spf1 a{nxt} -all")
    return zone


def test_spf_eleven_lookups_through_includes_fail() -> None:
    # mx + include:i1 + (a + include) in i1..i4 + a in i5 = 11.
    sections = run({(DOMAIN, "TXT"): txt("v=spf1 mx include:i1.example.test -all"), **_chain(5)})
    found = finding(sections, "spf.lookups")
    assert found.status is Status.FAIL
    assert found.details["lookups"] == 11
    assert "more than 10" in found.summary


def test_spf_ten_lookups_through_includes_pass() -> None:
    sections = run({(DOMAIN, "TXT"): txt("v=spf1 include:i1.example.test -all"), **_chain(5)})
    found = finding(sections, "spf.lookups")
    assert found.status is Status.PASS
    assert found.details["lookups"] == 10


def test_spf_redirect_is_counted_after_every_mechanism() -> None:
    sections = spf(
        "v=spf1 redirect=_spf.example.test mx a",
        _spf__example__test=txt("v=spf1 include:x.example.test -all"),
        x__example__test=txt("v=spf1 a -all"),
    )
    found = finding(sections, "spf.lookups")
    assert found.details["lookups"] == 5
    assert finding(sections, "spf.all").details["all"] == "-all"


def test_spf_redirect_is_ignored_beside_all() -> None:
    sections = spf("v=spf1 mx ~all redirect=gone.example.test")
    assert finding(sections, "spf.lookups").details["lookups"] == 1
    assert finding(sections, "spf.record").status is Status.WARN  # the note says why


def test_spf_two_records_fail() -> None:
    sections = run({(DOMAIN, "TXT"): txt("v=spf1 mx -all", "v=spf1 a -all")})
    found = finding(sections, "spf.record")
    assert found.status is Status.FAIL
    assert "2 SPF records" in found.summary
    assert [f.check for f in sections["spf"].findings] == ["spf.record"]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("v=spf1 ip4:192.0.2.300 -all", "not an IP address"),
        ("v=spf1 ip4:2001:db8::1 -all", "not an IPv4 address"),
        ("v=spf1 ip6:2001:db8::/129 -all", "prefix length 0 to 128"),
        ("v=spf1 a/33 -all", "prefix length 0 to 32"),
        ("v=spf1 include -all", "include needs :domain"),
        ("v=spf1 include:example -all", "top-level domain"),
        ("v=spf1 mx:%{z}.example.test -all", "macro-string"),
        ("v=spf1 foo:bar -all", "unknown mechanism"),
        ("v=spf1 all:x", "all takes no argument"),
        ("v=spf1 redirect=a.example.test redirect=b.example.test", "at most once"),
        ("v=spf1 -all\x00", "all takes no argument"),
    ],
)
def test_spf_syntax_error_fails(record: str, reason: str) -> None:
    sections = run({(DOMAIN, "TXT"): [(300, '"' + record.replace("\x00", "\\000") + '"')]})
    found = finding(sections, "spf.record")
    assert found.status is Status.FAIL
    assert reason in found.summary
    assert "\x00" not in found.summary


def test_spf_include_without_record_fails() -> None:
    sections = spf("v=spf1 include:gone.example.test -all")
    found = finding(sections, "spf.includes")
    assert found.status is Status.FAIL
    assert "include:gone.example.test has no SPF record" in found.summary
    assert finding(sections, "spf.lookups").details["void_lookups"] == 1


def test_spf_three_void_lookups_fail() -> None:
    record = "v=spf1 include:v1.example.test include:v2.example.test include:v3.example.test -all"
    found = finding(spf(record), "spf.lookups")
    assert found.status is Status.FAIL
    assert "3 void DNS lookups" in found.summary


def test_spf_include_loop_is_reported() -> None:
    sections = spf(
        "v=spf1 include:loop.example.test -all",
        loop__example__test=txt("v=spf1 include:example.test -all"),
    )
    assert "loops back" in finding(sections, "spf.includes").summary


def test_spf_macro_targets_are_counted_not_followed() -> None:
    found = finding(
        spf("v=spf1 exists:%{i}._spf.example.test include:%{d}.x.test -all"), "spf.lookups"
    )
    assert found.status is Status.PASS
    assert found.details["lookups"] == 2
    assert found.details["not_followed"] == ["include:%{d}.x.test"]


def test_spf_ptr_warns() -> None:
    found = finding(spf("v=spf1 ptr -all"), "spf.record")
    assert found.status is Status.WARN
    assert "ptr" in found.summary


def test_spf_parser_accepts_the_rfc_examples() -> None:
    for record in (
        "v=spf1 +all",
        "v=spf1 a -all",
        "v=spf1 a:example.org -all",
        "v=spf1 mx/30 mx:example.org/30 -all",
        "v=spf1 ip4:192.0.2.128/28 -all",
        "v=spf1 a//64 ip6:2001:db8::/32 -all",
        "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
        "v=spf1 mx -all exp=explain._spf.%{d}",
        "V=SPF1 -ALL",
        "v=spf1  mx   -all  ",
        "v=spf1 unknown-mod=anything -all",
    ):
        assert parse_spf(record).problems == [], record


# -- DMARC --------------------------------------------------------------------------------


def dmarc(*texts: str) -> dict[str, Section]:
    return run({(f"_dmarc.{DOMAIN}", "TXT"): txt(*texts)})


def test_dmarc_reject_passes() -> None:
    sections = dmarc("v=DMARC1; p=reject; rua=mailto:dmarc@example.test; adkim=s; aspf=r; pct=100")
    assert finding(sections, "dmarc.record").status is Status.PASS
    policy = finding(sections, "dmarc.policy")
    assert policy.status is Status.PASS
    assert policy.details == {"p": "reject", "sp": "reject", "pct": 100}
    assert finding(sections, "dmarc.reports").details["rua"] == "mailto:dmarc@example.test"


def test_dmarc_none_warns() -> None:
    policy = finding(dmarc("v=DMARC1; p=none"), "dmarc.policy")
    assert policy.status is Status.WARN
    assert "p=none" in policy.summary


def test_dmarc_partial_pct_warns() -> None:
    assert finding(dmarc("v=DMARC1; p=quarantine; pct=10"), "dmarc.policy").status is Status.WARN


def test_dmarc_missing_warns() -> None:
    sections = run({})
    found = finding(sections, "dmarc.record")
    assert found.status is Status.WARN
    assert "no DMARC record" in found.summary


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("v=DMARC1; rua=mailto:d@example.test", "no p= tag"),
        ("v=DMARC1; p=block", "none, quarantine or reject"),
        ("v=DMARC1; p=reject; sp=maybe", "sp="),
        ("v=DMARC1; p=reject; pct=150", "pct="),
        ("v=DMARC1; p=reject; adkim=x", "adkim="),
        ("v=DMARC1; p=reject; rua=dmarc@example.test", "not a report URI"),
        ("v=DMARC1; p=reject; p=none", "more than once"),
        ("v=DMARC1 p=reject", "DMARC1 expected"),
        ("v=DMARC1; p=reject; fo=2", "fo="),
    ],
)
def test_dmarc_malformed_fails(record: str, reason: str) -> None:
    sections = dmarc(record)
    found = finding(sections, "dmarc.record")
    assert found.status is Status.FAIL
    assert reason in found.summary
    assert [f.check for f in sections["dmarc"].findings] == ["dmarc.record"]


def test_dmarc_two_records_fail() -> None:
    found = finding(dmarc("v=DMARC1; p=reject", "v=DMARC1; p=none"), "dmarc.record")
    assert found.status is Status.FAIL
    assert "2 DMARC records" in found.summary


# -- failures of the resolver ---------------------------------------------------------------


def test_unreachable_resolver_makes_findings_not_exceptions(tmp_path: Path) -> None:
    async def main() -> list[Section]:
        with DnsResponder(base(), black_hole=True) as dns:
            return await policy_sections(
                DOMAIN, ResolverConfig(dns.nameserver, 0.3), ["mx.example.test"],
                timeout=0.3, cafile=None,
            )  # fmt: skip

    sections = asyncio.run(main())
    assert [s.key for s in sections] == ["mta-sts", "tls-rpt", "spf", "dmarc"]
    for section in sections:
        (only,) = section.findings
        assert only.status is Status.FAIL
        assert "timed out" in only.summary


def test_invalid_domain_makes_findings_not_exceptions() -> None:
    async def main() -> list[Section]:
        with DnsResponder(base()) as dns:
            return await policy_sections(
                "bad\x1b[2J domain", ResolverConfig(dns.nameserver, 1.0), [],
                timeout=1.0, cafile=None,
            )  # fmt: skip

    sections = asyncio.run(main())
    for section in sections:
        (only,) = section.findings
        assert only.status is Status.FAIL
        assert "\x1b" not in only.summary
