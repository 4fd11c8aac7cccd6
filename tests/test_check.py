"""``smtpshell check DOMAIN``, end to end on loopback: the test DNS responder serves a
zone for each case, scripted SMTP servers (several loopback addresses, one port) hold
certificates from a test CA. Each finding is seen both ways: passing where the
setup is right, failing (or warning) where it is not.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import ssl
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run_cli
from dns_responder import DnsResponder
from hostile_server import HostileServer, Issued, Peer, TestCA, well_behaved

MX1, MX2 = "127.0.0.1", "127.0.0.2"
DEAD = "127.0.0.9"  # nothing listens there
DOMAIN = "example.test"
EXTENSIONS = ("PIPELINING", "SIZE 10240000", "8BITMIME", "STARTTLS")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("check-ca"))


def leaf(ca: TestCA, name: str, **kwargs: Any) -> Issued:
    return ca.issue(name, dns_names=kwargs.pop("dns_names", (name,)), **kwargs)


def tls_server(issued: Issued, legacy: bool = False) -> ssl.SSLContext:
    context = issued.server_context()
    if legacy:  # a server that still takes TLS 1.0 and 1.1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def smtp(name: str, tls: ssl.SSLContext | None, extensions: tuple[str, ...] = EXTENSIONS,
         rcpt: bytes | None = None) -> Any:  # fmt: skip
    """A well-behaved exchanger; ``rcpt`` replaces its answer to RCPT (a closed relay)."""
    if tls is None:
        extensions = tuple(e for e in extensions if e != "STARTTLS")

    async def script(peer: Peer) -> None:
        reply = b"250 ok\r\n" if rcpt is None else rcpt
        await well_behaved(peer, name=name, extensions=extensions, tls=tls, rcpt_reply=reply)

    return script


@contextlib.contextmanager
def exchangers(scripts: Mapping[str, Any]) -> Iterator[tuple[int, list[HostileServer]]]:
    """One server per loopback address, all on one port; yields the port."""
    with contextlib.ExitStack() as stack:
        servers: list[HostileServer] = []
        port = 0
        for address, script in scripts.items():
            server = stack.enter_context(HostileServer(script, host=address, port=port))
            port = server.port
            servers.append(server)
        yield port, servers


def zone(
    mx: tuple[tuple[int, str], ...] = ((10, "mx1"), (20, "mx2")),
    hosts: Mapping[str, str] | None = None,
    ptr: bool = True,
    **extra: list[tuple[int, str]],
) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """example.test with MX records and addresses; PTR records that confirm them."""
    hosts = {"mx1": MX1, "mx2": MX2} if hosts is None else hosts
    records: dict[tuple[str, str], list[tuple[int, str]]] = {}
    if mx:
        records[(DOMAIN, "MX")] = [(3600, f"{p} {n}.{DOMAIN}.") for p, n in mx]
    for host, address in hosts.items():
        records[(f"{host}.{DOMAIN}", "A")] = [(300, address)]
        if ptr:
            reverse = ".".join(reversed(address.split("."))) + ".in-addr.arpa"
            records[(reverse, "PTR")] = [(300, f"{host}.{DOMAIN}.")]
    for key, value in extra.items():
        name, _, rdtype = key.rpartition("__")
        records[(name.replace("_dot_", ".").replace("_us_", "_"), rdtype)] = value
    return records


@dataclass
class Outcome:
    status: int
    doc: dict[str, Any]
    err: str

    def findings(self, check: str, section: str | None = None) -> list[dict[str, Any]]:
        return [
            finding
            for s in self.doc["sections"]
            if section is None or s["key"] == section or s["key"].startswith(section + ":")
            for finding in s["findings"]
            if finding["check"] == check
        ]

    def status_of(self, check: str, section: str | None = None) -> list[str]:
        return [f["status"] for f in self.findings(check, section)]


def check(
    records: Mapping[tuple[str, str], list[tuple[int, str]]],
    port: int,
    ca: TestCA,
    *args: str,
    authenticated: tuple[str, ...] = (),
) -> Outcome:
    # The exchangers' part: the policies have tests of their own (test_check_policy_*).
    parts = () if "--only" in args else ("--only", "dns", "--only", "tls")
    with DnsResponder(records, authenticated=authenticated) as dns:
        out, err, status = run_cli(
            "check", DOMAIN, "--nameserver", dns.nameserver, "--port", str(port),
            "--cafile", str(ca.ca_file), "--timeout", "3", "--json", *parts, *args,
        )  # fmt: skip
        assert not dns.errors
    return Outcome(status, json.loads(out), err)


def spki_sha256(issued: Issued) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


# ------------------------------------------------------------------ a good domain


def test_good_domain_passes_everything_and_exits_0(ca: TestCA) -> None:
    one, two = leaf(ca, f"mx1.{DOMAIN}"), leaf(ca, f"mx2.{DOMAIN}")
    scripts = {MX1: smtp(f"mx1.{DOMAIN}", tls_server(one)),
               MX2: smtp(f"mx2.{DOMAIN}", tls_server(two))}  # fmt: skip
    with exchangers(scripts) as (port, servers):
        outcome = check(zone(), port, ca)
    assert outcome.status == 0, outcome.doc
    assert outcome.doc["status"] == "pass"
    assert outcome.doc["counts"]["fail"] == 0 and outcome.doc["counts"]["warn"] == 0
    assert [s["key"] for s in outcome.doc["sections"]] == [
        "dns", f"mx:mx1.{DOMAIN}:{MX1}", f"mx:mx2.{DOMAIN}:{MX2}",
    ]  # fmt: skip
    records = outcome.findings("mx.records")[0]["details"]["records"]
    assert [(r["preference"], r["host"], r["ttl"]) for r in records] == [
        (10, f"mx1.{DOMAIN}", 3600), (20, f"mx2.{DOMAIN}", 3600),
    ]  # fmt: skip
    assert outcome.status_of("ptr") == ["pass", "pass"]
    for check_name in ("smtp.greeting", "tls.starttls", "tls.verify", "tls.expiry", "tls.key",
                       "tls.legacy"):  # fmt: skip
        assert outcome.status_of(check_name) == ["pass", "pass"], check_name
    greeting = outcome.findings("smtp.greeting", f"mx:mx1.{DOMAIN}")[0]["details"]
    assert greeting["name"] == f"mx1.{DOMAIN}" and greeting["greeting_ms"] >= 0
    ehlo = outcome.findings("smtp.ehlo", f"mx:mx1.{DOMAIN}")[0]["details"]["extensions"]
    assert ehlo["STARTTLS"] and ehlo["PIPELINING"] and not ehlo["CHUNKING"]
    # No mail is ever sent: no MAIL, RCPT or DATA reached any server.
    for server in servers:
        sent = b"".join(bytes(p.clear) + bytes(p.secure) for p in server.peers).upper()
        assert b"MAIL FROM" not in sent and b"DATA" not in sent and b"QUIT" in sent


def test_report_text_reads_at_a_glance(ca: TestCA) -> None:
    one = leaf(ca, f"mx1.{DOMAIN}")
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    with (
        exchangers({MX1: smtp(f"mx1.{DOMAIN}", tls_server(one))}) as (port, _),
        DnsResponder(records) as dns,
    ):
        out, err, status = run_cli(
            "check", DOMAIN, "--nameserver", dns.nameserver, "--port", str(port),
            "--cafile", str(ca.ca_file), "--timeout", "3", "--only", "dns", "--only", "tls",
        )  # fmt: skip
    assert status == 0, out + err
    lines = out.splitlines()
    assert lines[0] == f"DNS for {DOMAIN}  PASS"
    assert any(
        line.startswith("PASS  1 MX record: 10 mx1.example.test (TTL 3600)") for line in lines
    )
    assert f"mx1.{DOMAIN} [{MX1}]:{port}  PASS" in lines
    assert any(
        "certificate chain verified, and valid for mx1.example.test" in line for line in lines
    )
    assert lines[-1].startswith(f"OK {DOMAIN}: 0 failed, 0 warnings, ")
    assert err == ""


# ------------------------------------------------------------------ DNS findings


def test_null_mx_is_said_and_no_exchanger_is_probed(ca: TestCA) -> None:
    records = {(DOMAIN, "MX"): [(3600, "0 .")]}
    outcome = check(records, 2525, ca)
    assert outcome.status == 0
    (finding,) = outcome.findings("mx.records")
    assert finding["status"] == "info" and finding["rfc"] == "RFC 7505 3"
    assert finding["details"]["null_mx"] is True
    assert [s["key"] for s in outcome.doc["sections"]] == ["dns"]


def test_implicit_mx_warns_and_an_mx_record_passes(ca: TestCA) -> None:
    records = {(DOMAIN, "A"): [(300, DEAD)]}
    outcome = check(records, 2525, ca, "--only", "dns")
    (finding,) = outcome.findings("mx.records")
    assert finding["status"] == "warn" and finding["details"]["implicit"] is True
    assert finding["rfc"] == "RFC 5321 5.1"
    outcome = check(zone(ptr=False), 2525, ca, "--only", "dns")
    assert outcome.status_of("mx.records") == ["pass"]


def test_an_mx_that_is_a_cname_is_flagged_and_a_plain_one_is_not(ca: TestCA) -> None:
    records = zone(mx=((10, "alias"),), hosts={"mx1": MX1})
    records[(f"alias.{DOMAIN}", "CNAME")] = [(300, f"mx1.{DOMAIN}.")]
    outcome = check(records, 2525, ca, "--only", "dns")
    (finding,) = outcome.findings("mx.cname")
    assert finding["status"] == "warn" and finding["rfc"] == "RFC 2181 10.3"
    assert finding["details"] == {"host": f"alias.{DOMAIN}", "cname": f"mx1.{DOMAIN}"}
    assert outcome.findings("mx.cname") and outcome.status == 0
    outcome = check(zone(mx=((10, "mx1"),), hosts={"mx1": MX1}), 2525, ca, "--only", "dns")
    assert outcome.findings("mx.cname") == []


def test_an_mx_that_is_an_ip_literal_fails(ca: TestCA) -> None:
    records = {(DOMAIN, "MX"): [(3600, "10 192.0.2.1.")]}
    outcome = check(records, 2525, ca, "--only", "dns")
    assert outcome.status == 1
    (finding,) = outcome.findings("mx.target")
    assert finding["status"] == "fail" and "is an IP address" in finding["summary"]


def test_an_mx_without_address_fails(ca: TestCA) -> None:
    records = zone(mx=((10, "mx1"), (20, "ghost")), hosts={"mx1": MX1})
    outcome = check(records, 2525, ca, "--only", "dns")
    assert outcome.status == 1
    assert outcome.status_of("mx.address") == ["pass", "fail"]


def test_ptr_missing_or_not_confirming_warns(ca: TestCA) -> None:
    records = zone(hosts={"mx1": MX1, "mx2": MX2}, ptr=False)
    records[("1.0.0.127.in-addr.arpa", "PTR")] = [(300, "elsewhere.example.test.")]
    records[("elsewhere.example.test", "A")] = [(300, "192.0.2.77")]
    outcome = check(records, 2525, ca, "--only", "dns")
    by_address = {f["details"]["address"]: f for f in outcome.findings("ptr")}
    assert by_address[MX1]["status"] == "warn"
    assert "does not resolve back" in by_address[MX1]["summary"]
    assert by_address[MX2]["status"] == "warn" and "no PTR record" in by_address[MX2]["summary"]
    assert outcome.status == 0  # a warning is not a failure


def test_nxdomain_fails_with_exit_1(ca: TestCA) -> None:
    outcome = check({("other.test", "A"): [(300, MX1)]}, 2525, ca)
    assert outcome.status == 1
    (finding,) = outcome.findings("mx.lookup")
    assert "NXDOMAIN" in finding["summary"]


# ------------------------------------------------------------------ exchangers and TLS


def test_dead_first_mx_fails_and_the_second_still_passes(ca: TestCA) -> None:
    two = leaf(ca, f"mx2.{DOMAIN}")
    with exchangers({MX2: smtp(f"mx2.{DOMAIN}", tls_server(two))}) as (port, _):
        outcome = check(zone(hosts={"mx1": DEAD, "mx2": MX2}, ptr=False), port, ca)
    assert outcome.status == 1
    (dead,) = outcome.findings("smtp.connect", f"mx:mx1.{DOMAIN}")
    assert dead["status"] == "fail" and "refused" in dead["summary"]
    assert outcome.status_of("tls.verify", f"mx:mx2.{DOMAIN}") == ["pass"]


def test_expired_certificate_fails_verification_and_expiry(ca: TestCA) -> None:
    expired = leaf(ca, f"mx1.{DOMAIN}", days_valid=(-30, -2))
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    with exchangers({MX1: smtp(f"mx1.{DOMAIN}", tls_server(expired))}) as (port, _):
        outcome = check(records, port, ca)
    assert outcome.status == 1
    (verify,) = outcome.findings("tls.verify")
    assert verify["status"] == "fail" and "expired" in verify["summary"]
    (expiry,) = outcome.findings("tls.expiry")
    assert expiry["status"] == "fail" and expiry["details"]["days_left"] < 0


def test_certificate_close_to_expiry_warns(ca: TestCA) -> None:
    soon = leaf(ca, f"mx1.{DOMAIN}", days_valid=(-1, 5))
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    with exchangers({MX1: smtp(f"mx1.{DOMAIN}", tls_server(soon))}) as (port, _):
        outcome = check(records, port, ca)
    assert outcome.status_of("tls.expiry") == ["warn"]
    assert outcome.status_of("tls.verify") == ["pass"]


def test_wrong_name_certificate_fails_verification(ca: TestCA) -> None:
    wrong = leaf(ca, "other.example.net")
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    with exchangers({MX1: smtp(f"mx1.{DOMAIN}", tls_server(wrong))}) as (port, _):
        outcome = check(records, port, ca, "--relay-test")
    # TLS failing ends that session; the relay test runs on one of its own, in clear
    # text (an open relay needs no certificate), and finds this server open.
    (relay,) = outcome.findings("relay")
    assert relay["status"] == "fail" and "OPEN RELAY" in relay["summary"]
    assert outcome.status == 1
    (verify,) = outcome.findings("tls.verify")
    assert verify["status"] == "fail" and "other.example.net" in verify["summary"]
    assert outcome.status_of("tls.expiry") == ["pass"]  # the certificate is read all the same


def test_untrusted_issuer_fails_without_cafile_trust(ca: TestCA, tmp_path: Path) -> None:
    stranger = TestCA(tmp_path, "some other CA").issue(f"mx1.{DOMAIN}", (f"mx1.{DOMAIN}",))
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    with exchangers({MX1: smtp(f"mx1.{DOMAIN}", tls_server(stranger))}) as (port, _):
        outcome = check(records, port, ca)
    (verify,) = outcome.findings("tls.verify")
    assert (
        verify["status"] == "fail"
        and "self-signed certificate is in the chain" in verify["summary"]
    )


def test_no_starttls_fails(ca: TestCA) -> None:
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    with exchangers({MX1: smtp(f"mx1.{DOMAIN}", None)}) as (port, _):
        outcome = check(records, port, ca)
    assert outcome.status == 1
    (finding,) = outcome.findings("tls.starttls")
    assert finding["status"] == "fail" and finding["rfc"] == "RFC 3207"
    assert outcome.findings("tls.verify") == []


def test_legacy_tls_versions_accepted_warn(ca: TestCA) -> None:
    one = leaf(ca, f"mx1.{DOMAIN}")
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    with exchangers({MX1: smtp(f"mx1.{DOMAIN}", tls_server(one, legacy=True))}) as (port, _):
        outcome = check(records, port, ca)
    (finding,) = outcome.findings("tls.legacy")
    assert finding["status"] == "warn", finding
    assert finding["details"] == {"tested": True, "accepted": True, "version": "TLSv1.1"}


def test_greeting_text_is_made_inert_in_the_report(ca: TestCA) -> None:
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    with (
        exchangers({MX1: smtp("evil\x1b[2J.example", None)}) as (port, _),
        DnsResponder(records) as dns,
    ):
        out, _err, _status = run_cli(
            "check", DOMAIN, "--nameserver", dns.nameserver, "--port", str(port),
            "--timeout", "3", "--only", "tls",
        )  # fmt: skip
    assert "\x1b" not in out and "evil\\x1b[2J.example" in out


# ------------------------------------------------------------------ DANE


def dane_zone(port: int, record: str) -> dict[tuple[str, str], list[tuple[int, str]]]:
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    records[(f"_{port}._tcp.mx1.{DOMAIN}", "TLSA")] = [(300, record)]
    return records


def test_dane_matching_record_authenticated_passes(ca: TestCA) -> None:
    one = leaf(ca, f"mx1.{DOMAIN}")
    with exchangers({MX1: smtp(f"mx1.{DOMAIN}", tls_server(one))}) as (port, _):
        records = dane_zone(port, f"3 1 1 {spki_sha256(one)}")
        outcome = check(records, port, ca, authenticated=(f"_{port}._tcp.mx1.{DOMAIN}",))
    assert outcome.status == 0, outcome.doc
    assert outcome.status_of("dane.dnssec") == ["pass"]
    assert outcome.status_of("dane.match") == ["pass"]


def test_dane_records_that_do_not_match_fail(ca: TestCA) -> None:
    one, other = leaf(ca, f"mx1.{DOMAIN}"), leaf(ca, f"mx1.{DOMAIN}")
    with exchangers({MX1: smtp(f"mx1.{DOMAIN}", tls_server(one))}) as (port, _):
        records = dane_zone(port, f"3 1 1 {spki_sha256(other)}")
        outcome = check(records, port, ca, authenticated=(f"_{port}._tcp.mx1.{DOMAIN}",))
    assert outcome.status == 1
    (finding,) = outcome.findings("dane.match")
    assert finding["status"] == "fail" and "no TLSA record matches" in finding["summary"]


def test_dane_records_without_dnssec_warn(ca: TestCA) -> None:
    one = leaf(ca, f"mx1.{DOMAIN}")
    with exchangers({MX1: smtp(f"mx1.{DOMAIN}", tls_server(one))}) as (port, _):
        outcome = check(dane_zone(port, f"3 1 1 {spki_sha256(one)}"), port, ca)
    assert outcome.status_of("dane.dnssec") == ["warn"]


def test_no_tlsa_records_is_information_only(ca: TestCA) -> None:
    one = leaf(ca, f"mx1.{DOMAIN}")
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    with exchangers({MX1: smtp(f"mx1.{DOMAIN}", tls_server(one))}) as (port, _):
        outcome = check(records, port, ca)
    assert outcome.status_of("dane.tlsa") == ["info"]
    assert outcome.findings("dane.match") == []


# ------------------------------------------------------------------ relay test


def test_relay_test_finds_an_open_relay_and_never_sends_data(ca: TestCA) -> None:
    one = leaf(ca, f"mx1.{DOMAIN}")
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    with exchangers({MX1: smtp(f"mx1.{DOMAIN}", tls_server(one))}) as (port, servers):
        outcome = check(records, port, ca, "--relay-test")
    assert outcome.status == 1
    (finding,) = outcome.findings("relay")
    assert finding["status"] == "fail" and "OPEN RELAY" in finding["summary"]
    sent = b"".join(bytes(p.secure) for p in servers[0].peers)
    assert b"RCPT TO:<relay-test@example.net>" in sent and b"DATA" not in sent


def test_relay_test_passes_a_closed_relay_and_is_off_by_default(ca: TestCA) -> None:
    one = leaf(ca, f"mx1.{DOMAIN}")
    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    denied = b"554 5.7.1 relay access denied\r\n"
    script = smtp(f"mx1.{DOMAIN}", tls_server(one), rcpt=denied)
    with exchangers({MX1: script}) as (port, _):
        outcome = check(records, port, ca, "--relay-test")
        assert outcome.status_of("relay") == ["pass"]
        outcome = check(records, port, ca)
    assert outcome.findings("relay") == []


# ------------------------------------------------------------------ the command


def test_json_document_has_stable_keys(ca: TestCA) -> None:
    outcome = check({(DOMAIN, "MX"): [(3600, "0 .")]}, 2525, ca)
    doc = outcome.doc
    assert list(doc) == ["schema", "domain", "status", "counts", "sections"]
    assert doc["schema"] == "smtpshell-check/1" and doc["domain"] == DOMAIN
    assert list(doc["counts"]) == ["pass", "warn", "fail", "info"]
    section = doc["sections"][0]
    assert list(section) == ["key", "title", "status", "findings"]
    assert list(section["findings"][0]) == ["check", "status", "summary", "rfc", "details"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad domain"], "a domain name has no spaces"),
        (["127.0.0.1"], "is an address, not a domain"),
        (["[::1]"], "is an address, not a domain"),
        (["example.test", "--helo", "two words"], "--helo"),
        (["example.test", "--port", "0"], "--port"),
        (["example.test", "--nameserver", "not a server"], "nameserver"),
        (["example.test", "--only", "mail"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    out, err, status = run_cli("check", *args)
    assert status == 2, err
    assert out == "" and len(err.splitlines()) == 1 and message in err


def test_help_says_the_relay_test_is_off_by_default() -> None:
    out, _err, status = run_cli("check", "--help")
    out = " ".join(out.split())
    assert status == 0
    assert "--relay-test" in out and "off by default" in out and "never DATA" in out


# ------------------------------------------------------------------ slow exchangers


async def silent(peer: Peer) -> None:
    await peer.drain_client()  # accepts, never greets


def test_silent_exchangers_time_out_in_parallel(ca: TestCA) -> None:
    hosts = {"mx1": MX1, "mx2": MX2, "mx3": "127.0.0.3"}
    records = zone(mx=((10, "mx1"), (20, "mx2"), (30, "mx3")), hosts=hosts)
    silent_servers = {address: silent for address in hosts.values()}
    with exchangers(silent_servers) as (port, _), DnsResponder(records) as dns:
        started = time.monotonic()
        out, err, status = run_cli(
            "check", DOMAIN, "--nameserver", dns.nameserver, "--port", str(port),
            "--timeout", "1", "--json", "--only", "tls",
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert status == 1, err
    doc = json.loads(out)
    greetings = [f for s in doc["sections"] for f in s["findings"] if f["check"] == "smtp.greeting"]
    assert len(greetings) == 3
    assert all(f["status"] == "fail" and "within 1 s" in f["summary"] for f in greetings)
    # Probed at once: three 1 s time-outs cost about one, not three.
    assert elapsed < 2.5, elapsed


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only(ca: TestCA) -> None:
    from smtpshell.cli.environment import Environment
    from smtpshell.cli.main import main

    records = zone(mx=((10, "mx1"),), hosts={"mx1": MX1})
    with exchangers({MX1: silent}) as (port, _), DnsResponder(records) as dns:
        args = ["check", DOMAIN, "--nameserver", dns.nameserver, "--port", str(port),
                "--timeout", "1", "--only", "tls"]  # fmt: skip
        terminal, out = _Terminal(), io.StringIO()
        main(args, Environment(io.StringIO(), out, terminal, {"NO_COLOR": "1"}))
        _out, err, _status = run_cli(*args)
    assert f"probing mx1.{DOMAIN} [{MX1}]:{port}" in terminal.getvalue()
    assert err == ""  # not a terminal: no progress
