"""The parts of ``check`` on their own: TLSA matching (every usage, selector and
matching type), certificate findings, record queries with the AD bit, the shell
command, and the real Postfix of the interop set-up."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
from pathlib import Path

import pytest
from cli_runner import run_cli
from dns_responder import DnsResponder
from interop_env import InteropEnv

from smtpshell.check.dane import Tlsa, match_finding, matches, spki
from smtpshell.check.exchanger import certificate_findings
from smtpshell.check.model import Status
from smtpshell.core.dns import ResolverConfig
from smtpshell.core.dns_records import RecordAnswer, query_records, reverse_name


def make_cert(
    key_kind: str = "ec", days: int = 30, issuer_key: object = None
) -> tuple[bytes, object]:
    """A DER certificate (self-signed unless ``issuer_key``) and its private key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    if key_kind.startswith("rsa"):
        key: object = rsa.generate_private_key(65537, int(key_kind[3:]))
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.example.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(issuer_key or key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.DER), key


@pytest.fixture(scope="module")
def leaf() -> bytes:
    return make_cert()[0]


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("matching", [0, 1, 2])
def test_tlsa_matches_each_selector_and_matching_type(
    leaf: bytes, selector: int, matching: int
) -> None:
    data = leaf if selector == 0 else spki(leaf)
    digest = {0: data, 1: hashlib.sha256(data).digest(), 2: hashlib.sha512(data).digest()}[matching]
    record = Tlsa(3, selector, matching, digest)
    assert matches(record, leaf)
    other = make_cert()[0]
    assert not matches(record, other)


def tlsa_answer(*records: str) -> RecordAnswer:
    return RecordAnswer("_25._tcp.mx.example.test", "TLSA", records, 300, True)


def test_dane_ee_record_matches_the_leaf(leaf: bytes) -> None:
    good = f"3 1 1 {hashlib.sha256(spki(leaf)).hexdigest()}"
    assert match_finding(tlsa_answer(good), leaf, None).status is Status.PASS
    bad = f"3 1 1 {'00' * 32}"
    finding = match_finding(tlsa_answer(bad), leaf, None)
    assert finding.status is Status.FAIL and finding.rfc == "RFC 7672 3.1"


def test_dane_ta_matches_an_issuer_in_the_chain_and_says_when_it_cannot_look() -> None:
    ca_der, ca_key = make_cert()
    leaf_der, _ = make_cert(issuer_key=ca_key)
    record = f"2 0 1 {hashlib.sha256(ca_der).hexdigest()}"
    assert match_finding(tlsa_answer(record), leaf_der, (leaf_der, ca_der)).status is Status.PASS
    # The leaf itself is no trust anchor for usage 2.
    self_record = f"2 0 1 {hashlib.sha256(leaf_der).hexdigest()}"
    assert (
        match_finding(tlsa_answer(self_record), leaf_der, (leaf_der, ca_der)).status is Status.FAIL
    )
    # Python before 3.13 gives no chain: a warning that says so, not a false verdict.
    finding = match_finding(tlsa_answer(record), leaf_der, None)
    assert finding.status is Status.WARN and "3.13" in finding.summary


def test_pkix_usages_are_not_for_smtp(leaf: bytes) -> None:
    record = f"1 1 1 {hashlib.sha256(spki(leaf)).hexdigest()}"
    finding = match_finding(tlsa_answer(record), leaf, None)
    assert finding.status is Status.FAIL and finding.rfc == "RFC 7672 3.1.3"


@pytest.mark.parametrize(
    ("kind", "days", "expiry", "key"),
    [
        ("rsa1024", 30, Status.PASS, Status.WARN),
        ("rsa2048", 30, Status.PASS, Status.PASS),
        ("ec", 3, Status.WARN, Status.PASS),
        ("ec", 200, Status.PASS, Status.PASS),
    ],
)
def test_certificate_findings(kind: str, days: int, expiry: Status, key: Status) -> None:
    der, _ = make_cert(kind, days)
    found = {f.check: f for f in certificate_findings(der)}
    assert found["tls.expiry"].status is expiry
    assert found["tls.key"].status is key
    if kind.startswith("rsa"):
        assert found["tls.key"].details == {"type": "RSA", "bits": int(kind[3:])}


def test_certificate_expired_fails() -> None:
    der, _ = make_cert(days=1)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)
    found = {f.check: f for f in certificate_findings(der, now=later)}
    assert found["tls.expiry"].status is Status.FAIL


def test_query_records_reports_the_ad_bit_both_ways() -> None:
    records = {
        ("_25._tcp.mx.example.test", "TLSA"): [(300, "3 1 1 " + "ab" * 32)],
        ("signed.example.test", "TXT"): [(300, '"v=spf1 -all"')],
        ("alias.example.test", "CNAME"): [(300, "signed.example.test.")],
    }
    with DnsResponder(records, authenticated=("signed.example.test",)) as dns:
        config = ResolverConfig(dns.nameserver, timeout=3)

        async def ask() -> list[RecordAnswer]:
            return [
                await query_records("_25._tcp.mx.example.test", "TLSA", config),
                await query_records("signed.example.test", "TXT", config),
                await query_records("missing.example.test", "TXT", config),
                await query_records("alias.example.test", "TXT", config),
            ]

        tlsa, txt, missing, alias = asyncio.run(ask())
        asked = {(name, kind) for _via, name, kind in dns.queries}
    assert tlsa.records == ("3 1 1 " + "ab" * 32,) and tlsa.ttl == 300
    assert not tlsa.authenticated
    assert txt.authenticated and txt.records == ('"v=spf1 -all"',)
    assert missing.exists is False and not missing.found
    assert alias.cname == "signed.example.test" and alias.found
    assert ("_25._tcp.mx.example.test.", "TLSA") in asked


def test_reverse_name() -> None:
    assert reverse_name("192.0.2.1") == "1.2.0.192.in-addr.arpa"
    assert reverse_name("::1").endswith(".ip6.arpa")


def test_shell_command_check_in_a_piped_session() -> None:
    records = {("example.test", "MX"): [(3600, "0 .")]}
    with DnsResponder(records) as dns:
        out, err, status = run_cli(
            "--nameserver", dns.nameserver, stdin="check example.test --only dns\n"
        )
    assert status == 0, err
    assert "example.test has a null MX: it accepts no mail" in out
    assert "OK example.test: 0 failed" in out


def test_shell_command_check_json_and_failure_status() -> None:
    records = {("example.test", "MX"): [(3600, "10 192.0.2.1.")]}
    with DnsResponder(records) as dns:
        out, err, status = run_cli(
            "--nameserver", dns.nameserver, stdin="check example.test --only dns --json\n"
        )
    assert status == 1
    start = out.index("{")
    doc = json.loads(out[start : out.rindex("}") + 1])
    assert doc["status"] == "fail"
    assert "check example.test: 1 check(s) failed" in err


@pytest.mark.interop
def test_check_against_postfix(env: InteropEnv, tmp_path: Path) -> None:
    out, err, status = run_cli(
        "check", env.domain, "--nameserver", env.nameserver, "--port", str(env.smtp_port),
        "--cafile", str(env.ca_file), "--json", "--relay-test",
    )  # fmt: skip
    doc = json.loads(out)
    statuses = {
        f["check"]: f["status"] for s in doc["sections"] if s["key"].startswith("mx:")
        for f in s["findings"]
    }  # fmt: skip
    assert statuses["smtp.greeting"] == "pass"
    assert statuses["tls.verify"] == "pass", doc
    assert statuses["tls.starttls"] == "pass"
    assert statuses["relay"] == "pass"  # Postfix relays nothing for anonymous clients
    assert status == (1 if doc["counts"]["fail"] else 0), err


def test_policy_sections_come_from_the_policy_module_when_it_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys
    import types

    from smtpshell.check.model import Finding, Section

    calls: list[tuple[object, ...]] = []

    async def policy_sections(
        domain: str, resolver: ResolverConfig, mx_names: list[str], *, timeout: float,
        cafile: Path | None, https_port: int = 443,
    ) -> list[Section]:  # fmt: skip
        calls.append((domain, resolver.nameserver, mx_names, timeout, cafile))
        return [Section("spf", "SPF", [Finding("spf.record", Status.PASS, "v=spf1 -all")])]

    fake = types.ModuleType("smtpshell.check.policy")
    fake.policy_sections = policy_sections  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "smtpshell.check.policy", fake)
    records = {("example.test", "MX"): [(3600, "10 192.0.2.1.")]}
    with DnsResponder(records) as dns:
        out, _err, status = run_cli(
            "check", "example.test", "--nameserver", dns.nameserver, "--only", "policy",
            "--json", "--timeout", "2",
        )  # fmt: skip
    doc = json.loads(out)
    # The DNS section is there only because it failed: nothing else makes sense without it.
    assert [s["key"] for s in doc["sections"]] == ["dns", "spf"]
    assert calls == [("example.test", dns.nameserver, [], 2.0, None)]
    assert status == 1


@pytest.mark.parametrize(
    ("records", "why"),
    [
        ({("example.test", "MX"): [(3600, "0 .")]}, "the domain takes no mail"),
        ({("other.test", "A"): [(60, "127.0.0.1")]}, "the MX lookup failed"),
    ],
)
def test_policies_are_not_checked_where_they_cannot_matter(
    records: dict[tuple[str, str], list[tuple[int, str]]], why: str
) -> None:
    with DnsResponder(records) as dns:
        out, err, _ = run_cli(
            "check", "example.test", "--nameserver", dns.nameserver, "--json"
        )
    sections = {s["key"]: s for s in json.loads(out)["sections"]}
    assert not {"mta-sts", "tls-rpt", "spf", "dmarc"} & set(sections), err
    (finding,) = sections["policy"]["findings"]
    assert finding["status"] == "info" and why in finding["summary"]
