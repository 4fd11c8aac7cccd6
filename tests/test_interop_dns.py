"""`mx` and `connect --mx` against the DNS server and Postfix of tests/servers/start.

The zone is tests/servers/dns/interop.zone: interop.test has one MX on 127.0.0.1
(Postfix); fallback.test prefers a dead MX (127.0.0.9, where nothing listens) over
mx.interop.test; deadend.test has only the dead one; nullmx.test publishes a null
MX; aonly.test has only an A record; anything else is NXDOMAIN.
"""

from __future__ import annotations

from collections.abc import Callable

import dns.exception
import dns.message
import dns.query
import pytest
from interop_env import InteropEnv, expected_delivery, find_delivered
from interop_fixtures import marker, prompt
from pty_shell import ShellPty, converse

pytestmark = pytest.mark.interop

Start = Callable[..., ShellPty]
GREETING = r"220 mail\.interop\.test ESMTP Postfix"


@pytest.fixture(autouse=True)
def dns_answers(env: InteropEnv) -> None:
    """Fail at once, naming its log, when the DNS server of tests/servers/start is silent."""
    query = dns.message.make_query("interop.test.", "MX")
    try:
        dns.query.udp(query, env.host, port=env.dns_port, timeout=2)
    except (OSError, dns.exception.Timeout) as exc:
        pytest.fail(
            f"the DNS server on {env.nameserver} does not answer ({exc!r}); see {env.dns_log}"
        )


def shell(start_shell: Start, env: InteropEnv, *args: str) -> ShellPty:
    sh = start_shell("--nameserver", env.nameserver, *args)
    sh.expect("smtpshell>")
    return sh


def test_mx_lists_exchangers_in_preference_order(start_shell: Start, env: InteropEnv) -> None:
    sh = shell(start_shell, env)
    ns = env.nameserver.replace(".", r"\.")
    sh.type("mx interop.test")
    sh.expect(rf"MX records for interop\.test \(answered by {ns}\)\n")
    sh.expect(r"\n\s*10\s+mx\.interop\.test\s+127\.0\.0\.1\s+-\s+3600 \(1 h\)")
    sh.type("mx fallback.test")
    sh.expect(
        r"\n\s*5\s+dead\.fallback\.test\s+127\.0\.0\.9\s.*\n"
        r"\s*10\s+mx\.interop\.test\s+127\.0\.0\.1\s"
    )
    sh.type("mx aonly.test")
    sh.expect(r"no MX records: aonly\.test's own address is its implicit MX")
    sh.expect(r"\n\s*0\s+aonly\.test\s+127\.0\.0\.1\s")
    assert sh.close() == 0
    assert "Traceback" not in sh.screen


def test_mx_null_and_missing_domains(start_shell: Start, env: InteropEnv) -> None:
    sh = shell(start_shell, env)
    converse(
        sh,
        [
            ("mx nullmx.test", r"nullmx\.test accepts no mail: null MX '0 \.' \(RFC 7505\)"),
            ("mx nxdomain.test", r"error: nxdomain\.test: no such domain \(NXDOMAIN\)"),
        ],
    )
    assert sh.close() == 0


def test_connect_mx_falls_back_past_a_dead_exchanger_and_delivers(
    start_shell: Start, env: InteropEnv
) -> None:
    tag = marker("interop-direct")
    port = env.smtp_port
    sh = shell(start_shell, env)
    converse(
        sh,
        [
            (
                f"connect --mx fallback.test --port {port}",
                rf"trying dead\.fallback\.test \[127\.0\.0\.9\]:{port} \(preference 5\)\.\.\.\n"
                r"\.\.\. connection refused\n"
                rf"trying mx\.interop\.test \[127\.0\.0\.1\]:{port} \(preference 10\)\.\.\.\n",
            )
        ],
    )
    sh.expect(GREETING)
    sh.expect(prompt(env, port, "plain"))
    # Section 3.2 of the walkthrough: straight to the MX, no login.
    converse(
        sh,
        [
            ("helo localhost", r"250 mail\.interop\.test"),
            ("mail from:<yourname@example.org>", r"250 2\.1\.0 Ok"),
            (f"rcpt to:<{env.alice.address}>", r"250 2\.1\.5 Ok"),
            ("data", "354"),
            (f"Subject: {tag}", "data>"),
            ("", "data>"),
            ("found through DNS", "data>"),
            (".", r"250 2\.0\.0 Ok: queued as"),
            ("quit", "221"),
        ],
    )
    assert sh.close() == 0
    original = f"Subject: {tag}\r\n\r\nfound through DNS\r\n".encode()
    assert find_delivered(env, tag, mailbox="alice") == expected_delivery(original)


def test_connect_mx_without_a_reachable_exchanger(start_shell: Start, env: InteropEnv) -> None:
    port = env.smtp_port
    sh = shell(start_shell, env)
    sh.type(f"connect --mx deadend.test --port {port}")
    sh.expect(
        rf"trying dead\.fallback\.test \[127\.0\.0\.9\]:{port} .*\n\.\.\. connection refused\n"
    )
    sh.expect(r"error: deadend\.test: no mail exchanger answered with 220")
    converse(
        sh,
        [
            (f"connect --mx nullmx.test --port {port}", r"error: nullmx\.test accepts no mail"),
            ("NOOP", r"error: not connected"),
        ],
    )
    assert sh.close() == 0


def test_connect_mx_starttls_verifies_the_mx_host_name(start_shell: Start, env: InteropEnv) -> None:
    # RFC 7672: the certificate is checked against the MX host name, which this
    # one carries (mx.interop.test), not against the address connected to.
    port = env.smtp_port
    sh = shell(start_shell, env)
    converse(
        sh,
        [
            (
                f"connect --mx interop.test --port {port} --starttls --cafile {env.ca_file}",
                r"TLS established: TLSv1\.[23], \S+; certificate verified",
            ),
        ],
    )
    sh.expect(prompt(env, port, "tls"))
    converse(sh, [("tls", r"verified\s+yes"), ("QUIT", "221")])
    # aonly.test is its own implicit MX: a name the certificate does not carry.
    converse(
        sh,
        [
            (
                f"connect --mx aonly.test --port {port} --starttls --cafile {env.ca_file}",
                r"TLS certificate verification failed for aonly\.test: "
                r"the certificate does not match the host name",
            ),
        ],
    )
    # The one exchanger answered: its certificate is what failed, and the error says so.
    sh.expect(
        rf"error: aonly\.test: aonly\.test \[127\.0\.0\.1\]:{port} \(preference 0\) answered, "
        r"but TLS certificate verification failed .*; it is for .*mx\.interop\.test"
    )
    assert sh.close() == 0


def test_nameserver_from_the_environment(start_shell: Start, env: InteropEnv) -> None:
    sh = start_shell(env={"SMTPSHELL_NAMESERVER": env.nameserver})
    converse(sh, [("mx interop.test", r"\s10\s+mx\.interop\.test\s+127\.0\.0\.1\s")])
    assert sh.close() == 0
