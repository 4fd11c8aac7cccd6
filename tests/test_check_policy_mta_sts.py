"""MTA-STS in ``check``: the TXT record, the policy over HTTPS, mode, max_age and MX
coverage (RFC 8461), against the test DNS responder and a local HTTPS server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_runner import run_cli
from dns_responder import DnsResponder
from hostile_server import TestCA

from smtpshell.check.model import Finding, Section, Status
from smtpshell.check.mta_sts_policy import mx_matches, parse_sts_policy
from smtpshell.check.policy import policy_sections
from smtpshell.core.dns import ResolverConfig

DOMAIN = "example.test"
POLICY_HOST = f"mta-sts.{DOMAIN}"
GOOD_POLICY = (
    "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmx: *.mail.example.test\n"
    "max_age: 604800\n"
)
OVERSIZED_CHUNK = b"11170\r\n" + b"a" * 70_000 + b"\r\n0\r\n\r\n"
MX = ["mx1.example.test", "a.mail.example.test"]


def zone() -> dict[tuple[str, str], list[tuple[int, str]]]:
    return {
        ("example.test", "SOA"): [(300, "ns.example.test. h.example.test. 1 3600 600 86400 300")],
        (f"_mta-sts.{DOMAIN}", "TXT"): [(300, '"v=STSv1; id=20261127T1200"')],
        (POLICY_HOST, "A"): [(300, "127.0.0.1")],
    }


def http(status: str = "200 OK", body: str = GOOD_POLICY, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith("content-type") for h in headers):
        head.append("Content-Type: text/plain; charset=utf-8")
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        head.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join([*head, "", ""]) + body).encode()


@dataclass
class PolicyServer:
    """Answers every connection with one canned response, after reading the request
    (or at once, for the plain-text server that a TLS client would otherwise wait on)."""

    response: bytes
    context: ssl.SSLContext | None
    at_once: bool = False
    silent: bool = False
    requests: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.at_once:
                writer.write(self.response)
                await writer.drain()
            request = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(request)
            if self.silent:
                await reader.read()  # until the client gives up
            elif not self.at_once:
                writer.write(self.response)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()


@dataclass
class Setup:
    ca: TestCA
    good: ssl.SSLContext  # a certificate for mta-sts.example.test


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    ca = TestCA(tmp_path)
    return Setup(ca, ca.issue(POLICY_HOST, dns_names=[POLICY_HOST]).server_context())


def run(
    setup: Setup,
    records: dict[tuple[str, str], list[tuple[int, str]]] | None = None,
    server: PolicyServer | None = None,
    mx: list[str] | None = None,
    timeout: float = 5.0,
) -> tuple[dict[str, Section], PolicyServer]:
    policy_server = server or PolicyServer(http(), setup.good)

    async def main() -> list[Section]:
        listener = await asyncio.start_server(
            policy_server.handle, "127.0.0.1", 0, ssl=policy_server.context
        )
        port = listener.sockets[0].getsockname()[1]
        async with listener:
            with DnsResponder(zone() if records is None else records) as dns:
                return await policy_sections(
                    DOMAIN,
                    ResolverConfig(dns.nameserver, 3.0),
                    MX if mx is None else mx,
                    timeout=timeout,
                    cafile=setup.ca.ca_file,
                    https_port=port,
                )

    sections = asyncio.run(main())
    return {section.key: section for section in sections}, policy_server


def finding(sections: dict[str, Section], check: str) -> Finding:
    found = [f for s in sections.values() for f in s.findings if f.check == check]
    assert len(found) == 1, f"{check}: {found}"
    return found[0]


def checks(sections: dict[str, Section]) -> list[str]:
    return [f.check for f in sections["mta-sts"].findings]


# -- the record --------------------------------------------------------------------------


def test_good_record_and_policy_pass(setup: Setup) -> None:
    sections, server = run(setup)
    assert [f.status for f in sections["mta-sts"].findings] == [Status.PASS] * 5
    assert checks(sections) == [
        "mta-sts.txt", "mta-sts.policy", "mta-sts.mode", "mta-sts.max-age", "mta-sts.mx-match",
    ]  # fmt: skip
    assert "20261127T1200" in finding(sections, "mta-sts.txt").summary
    assert finding(sections, "mta-sts.policy").details["policy"] == GOOD_POLICY
    assert finding(sections, "mta-sts.max-age").details["max_age"] == 604800
    (request,) = server.requests
    assert request.startswith(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n")
    assert f"\r\nHost: {POLICY_HOST}:".encode() in request


def test_missing_record_warns_and_fetches_nothing(setup: Setup) -> None:
    records = zone()
    del records[(f"_mta-sts.{DOMAIN}", "TXT")]
    sections, server = run(setup, records)
    txt = finding(sections, "mta-sts.txt")
    assert txt.status is Status.WARN
    assert "no MTA-STS record" in txt.summary
    assert checks(sections) == ["mta-sts.txt"]
    assert server.requests == []


def test_txt_records_without_the_version_are_not_records(setup: Setup) -> None:
    records = zone()
    records[(f"_mta-sts.{DOMAIN}", "TXT")] = [(300, '"v=spf1 -all"'), (300, '"v=STSv10; id=1"')]
    sections, _ = run(setup, records)
    assert finding(sections, "mta-sts.txt").status is Status.WARN


def test_two_records_fail(setup: Setup) -> None:
    records = zone()
    records[(f"_mta-sts.{DOMAIN}", "TXT")] = [(300, '"v=STSv1; id=1"'), (300, '"v=STSv1; id=2"')]
    sections, _ = run(setup, records)
    txt = finding(sections, "mta-sts.txt")
    assert txt.status is Status.FAIL
    assert "2 MTA-STS records" in txt.summary


@pytest.mark.parametrize(
    "text", ['"v=STSv1;"', '"v=STSv1; id=has-dash"', '"v=STSv1; id=1; id=2"', '"v=STSv1; id"']
)
def test_malformed_record_fails(setup: Setup, text: str) -> None:
    records = zone()
    records[(f"_mta-sts.{DOMAIN}", "TXT")] = [(300, text)]
    sections, server = run(setup, records)
    assert finding(sections, "mta-sts.txt").status is Status.FAIL
    assert server.requests == []


def test_record_split_in_strings_is_joined(setup: Setup) -> None:
    records = zone()
    records[(f"_mta-sts.{DOMAIN}", "TXT")] = [(300, '"v=STSv1; " "id=abc"')]
    sections, _ = run(setup, records)
    assert finding(sections, "mta-sts.txt").status is Status.PASS


# -- fetching the policy -----------------------------------------------------------------


def test_record_without_policy_fails(setup: Setup) -> None:
    sections, _ = run(setup, server=PolicyServer(http("404 Not Found", "gone"), setup.good))
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert "HTTP 404" in policy.summary
    assert checks(sections) == ["mta-sts.txt", "mta-sts.policy"]


def test_policy_host_without_address_fails(setup: Setup) -> None:
    records = zone()
    del records[(POLICY_HOST, "A")]
    sections, server = run(setup, records)
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert "cannot resolve mta-sts.example.test" in policy.summary
    assert server.requests == []


def test_next_address_is_tried_when_one_refuses(setup: Setup) -> None:
    # Nothing listens on 127.0.0.9: the connection is refused at once.
    records = zone()
    records[(POLICY_HOST, "A")] = [(300, "127.0.0.9"), (300, "127.0.0.1")]
    sections, server = run(setup, records)
    assert finding(sections, "mta-sts.policy").status is Status.PASS
    assert len(server.requests) == 1


def test_no_address_accepting_fails(setup: Setup) -> None:
    records = zone()
    records[(POLICY_HOST, "A")] = [(300, "127.0.0.9")]
    sections, server = run(setup, records)
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert "cannot connect to mta-sts.example.test (127.0.0.9:" in policy.summary
    assert server.requests == []


def test_policy_over_plain_http_is_refused(setup: Setup) -> None:
    server = PolicyServer(http(), None, at_once=True)
    sections, _ = run(setup, server=server)
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert "TLS handshake" in policy.summary


def test_certificate_for_another_name_is_refused(setup: Setup) -> None:
    wrong = setup.ca.issue("www.example.test", dns_names=["www.example.test"]).server_context()
    sections, server = run(setup, server=PolicyServer(http(), wrong))
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert "certificate of mta-sts.example.test not valid" in policy.summary
    assert "mismatch" in policy.summary.lower()
    assert server.requests == []


def test_certificate_from_an_untrusted_ca_is_refused(setup: Setup, tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    other = TestCA(tmp_path / "other")
    context = other.issue(POLICY_HOST, dns_names=[POLICY_HOST]).server_context()
    sections, _ = run(setup, server=PolicyServer(http(), context))
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert "certificate" in policy.summary


def test_redirect_is_not_followed(setup: Setup) -> None:
    response = http("301 Moved Permanently", "", "Location: https://mta-sts.example.test/other")
    sections, server = run(setup, server=PolicyServer(response, setup.good))
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert "redirect" in policy.summary
    assert policy.details["location"] == "https://mta-sts.example.test/other"
    assert len(server.requests) == 1


def test_wrong_content_type_is_refused(setup: Setup) -> None:
    server = PolicyServer(http("200 OK", GOOD_POLICY, "Content-Type: text/html"), setup.good)
    sections, _ = run(setup, server=server)
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert "text/html" in policy.summary


def test_chunked_policy_is_read(setup: Setup) -> None:
    half = len(GOOD_POLICY) // 2
    parts = [GOOD_POLICY[:half], GOOD_POLICY[half:]]
    body = "".join(f"{len(p):x};ext=1\r\n{p}\r\n" for p in parts) + "0\r\nX-Trailer: 1\r\n\r\n"
    server = PolicyServer(http("200 OK", body, "Transfer-Encoding: chunked"), setup.good)
    sections, _ = run(setup, server=server)
    assert finding(sections, "mta-sts.policy").status is Status.PASS


def test_policy_read_to_close_is_read(setup: Setup) -> None:
    response = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + GOOD_POLICY.encode()
    sections, _ = run(setup, server=PolicyServer(response, setup.good))
    assert finding(sections, "mta-sts.policy").status is Status.PASS


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (http("200 OK", "x" * 70_000), "over the 64 KiB cap"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + OVERSIZED_CHUNK, "64 KiB"),
        (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"y" * 70_000, "64 KiB"),
        (b"SMTP/1.0 220 hello\r\n\r\n", "bad status line"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            "Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "RFC 9112 6.2",
        ),
        (b"HTTP/1.1 200 OK\r\nX: " + b"z" * 9000 + b"\r\n\r\n", "longer than"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "closed before"),
    ],
    ids=["length", "chunked", "to-close", "status", "two-lengths", "te-and-cl", "line", "short"],
)
def test_hostile_responses_are_findings(setup: Setup, response: bytes, reason: str) -> None:
    sections, _ = run(setup, server=PolicyServer(response, setup.good))
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert reason in policy.summary


def test_silent_server_times_out(setup: Setup) -> None:
    server = PolicyServer(http(), setup.good, silent=True)
    sections, _ = run(setup, server=server, timeout=0.5)
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert "within 0.5 s" in policy.summary


def test_hostile_text_is_inert_in_summaries(setup: Setup) -> None:
    body = "version: STSv1\nmode: \x1b[2Jenforce\nmx: mx1.example.test\nmax_age: 86400\n"
    sections, _ = run(setup, server=PolicyServer(http("200 OK", body), setup.good))
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert "\x1b" not in policy.summary
    assert "\\x1b[2Jenforce" in policy.summary
    assert policy.details["policy"] == body  # kept as data


# -- the policy's contents ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (GOOD_POLICY.replace("enforce", "strict"), "mode 'strict'"),
        (GOOD_POLICY.replace("STSv1", "STSv2"), "version 'STSv2'"),
        (GOOD_POLICY.replace("604800", "99999999999"), "max_age"),
        (GOOD_POLICY.replace("max_age: 604800\n", ""), "no max_age"),
        ("version: STSv1\nmode: enforce\nmax_age: 86400\n", "no mx field"),
        (GOOD_POLICY + "this line has no colon\n", "not key: value"),
        (GOOD_POLICY.replace("mx1.example.test", "mx1..example.test"), "mx 'mx1..example.test'"),
    ],
    ids=["mode", "version", "max-age-range", "max-age-missing", "mx-missing", "line", "mx-bad"],
)
def test_invalid_policy_fails(setup: Setup, body: str, reason: str) -> None:
    sections, _ = run(setup, server=PolicyServer(http("200 OK", body), setup.good))
    policy = finding(sections, "mta-sts.policy")
    assert policy.status is Status.FAIL
    assert reason in policy.summary
    assert checks(sections) == ["mta-sts.txt", "mta-sts.policy"]


def test_crlf_policy_is_valid() -> None:
    policy = parse_sts_policy(GOOD_POLICY.replace("\n", "\r\n"))
    assert policy.problems == []
    assert (policy.mode, policy.max_age) == ("enforce", 604800)
    assert policy.mx == ["mx1.example.test", "*.mail.example.test"]


def test_testing_mode_warns(setup: Setup) -> None:
    body = GOOD_POLICY.replace("enforce", "testing")
    sections, _ = run(setup, server=PolicyServer(http("200 OK", body), setup.good))
    assert finding(sections, "mta-sts.mode").status is Status.WARN
    assert finding(sections, "mta-sts.mx-match").status is Status.PASS


def test_none_mode_warns_and_matches_nothing(setup: Setup) -> None:
    body = "version: STSv1\nmode: none\nmax_age: 86400\n"
    sections, _ = run(setup, server=PolicyServer(http("200 OK", body), setup.good))
    assert finding(sections, "mta-sts.mode").status is Status.WARN
    assert "mta-sts.mx-match" not in checks(sections)


def test_short_max_age_warns(setup: Setup) -> None:
    body = GOOD_POLICY.replace("604800", "3600")
    sections, _ = run(setup, server=PolicyServer(http("200 OK", body), setup.good))
    max_age = finding(sections, "mta-sts.max-age")
    assert max_age.status is Status.WARN
    assert "3600 s" in max_age.summary


# -- MX coverage -------------------------------------------------------------------------


def _uncovered(setup: Setup, mode: str) -> Finding:
    body = GOOD_POLICY.replace("enforce", mode)
    mx = [*MX, "backup.other.test", "b.a.mail.example.test"]
    sections, _ = run(setup, server=PolicyServer(http("200 OK", body), setup.good), mx=mx)
    return finding(sections, "mta-sts.mx-match")


def test_mx_not_covered_fails_in_enforce_mode(setup: Setup) -> None:
    match = _uncovered(setup, "enforce")
    assert match.status is Status.FAIL
    assert "backup.other.test, b.a.mail.example.test" in match.summary
    assert match.details["covered"] == MX
    assert match.details["not_covered"] == ["backup.other.test", "b.a.mail.example.test"]


def test_mx_not_covered_warns_in_testing_mode(setup: Setup) -> None:
    match = _uncovered(setup, "testing")
    assert match.status is Status.WARN
    assert match.details["not_covered"] == ["backup.other.test", "b.a.mail.example.test"]


def test_no_mx_names_is_information(setup: Setup) -> None:
    sections, _ = run(setup, mx=[])
    assert finding(sections, "mta-sts.mx-match").status is Status.INFO


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("mx1.example.test", "mx1.example.test", True),
        ("MX1.Example.Test.", "mx1.example.test", True),
        ("mx1.example.test", "*.example.test", True),
        ("a.b.example.test", "*.example.test", False),  # one label only (RFC 8461 4.1)
        ("example.test", "*.example.test", False),
        ("mx1.example.test", "mx2.example.test", False),
        ("xexample.test", "*.example.test", False),
    ],
)
def test_mx_pattern_matching(host: str, pattern: str, expected: bool) -> None:
    assert mx_matches(host, pattern) is expected


def test_sections_come_in_order(setup: Setup) -> None:
    sections, _ = run(setup)
    assert list(sections) == ["mta-sts", "tls-rpt", "spf", "dmarc"]


def test_the_command_fetches_the_policy_on_the_port_given(setup: Setup) -> None:
    server = PolicyServer(http(), setup.good)
    ports: queue.Queue[int] = queue.Queue()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server.context)
        async with listener:
            ports.put(listener.sockets[0].getsockname()[1])
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),))
    thread.start()
    try:
        port = ports.get(timeout=10)
        records = {
            **zone(),
            (DOMAIN, "MX"): [(300, "10 mx1.example.test.")],
            ("mx1.example.test", "A"): [(300, "127.0.0.1")],
        }
        with DnsResponder(records) as dns:
            out, err, _ = run_cli(
                "check", DOMAIN, "--nameserver", dns.nameserver, "--only", "policy",
                "--cafile", str(setup.ca.ca_file), "--mta-sts-port", str(port), "--json",
            )  # fmt: skip
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
    statuses = {
        f["check"]: f["status"] for s in json.loads(out)["sections"] for f in s["findings"]
    }
    assert statuses["mta-sts.policy"] == "pass", err
    assert len(server.requests) == 1
