"""The shell's helpers as a user meets them, in a real pseudo-terminal: b64, login,
caps, mx and connect --mx, against the embedded server and a DNS responder."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import PASSWORD, USER, history_text
from dns_responder import TEST_ZONE, DnsResponder
from pty_shell import ShellPty, converse
from server_fixtures import make_config

from smtpshell.protocol.auth import b64encode_text, plain_response
from smtpshell.server import BackgroundServer

Start = Callable[..., ShellPty]


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsResponder]:
    with DnsResponder(TEST_ZONE) as responder:  # mx.test: a dead MX at preference 5
        yield responder


def hangup(sh: ShellPty) -> None:
    """QUIT and wait until the server has closed (then connecting again is clean)."""
    converse(sh, [("QUIT", r"221"), ("", r"connection closed by the server")])
    sh.expect(r"smtpshell>")


def assert_secret_nowhere(sh: ShellPty, data_home: Path, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in sh.raw, secret
        assert secret not in history_text(data_home), secret


def test_b64_helpers_and_hand_typed_auth_with_decoded_challenges(
    start_shell: Start, server: BackgroundServer, data_home: Path
) -> None:
    sh = start_shell("--connect", f"127.0.0.1:{server.port}", "--starttls",
                     "--cafile", str(server.ca_file))  # fmt: skip
    sh.expect(r"tls>")
    converse(
        sh,
        [
            ("b64 alice", r"\nYWxpY2U=\n"),
            # Inner spaces kept as typed, UTF-8 first, no newline added.
            ("b64 hello  wörld", "\n" + re.escape(b64encode_text("hello  wörld")) + "\n"),
            ("b64 -- -d", "\n" + re.escape(b64encode_text("-d")) + "\n"),
            ("b64 -d AGZvbwBiYXI=", r"\n\\x00foo\\x00bar\n"),  # NULs shown, as in AUTH PLAIN
            ("unb64 VXNlcm5hbWU6", r"\nUsername:\n"),
            ("b64 -d !!!", r"error: not valid base64: '!!!'"),
            ("b64", r"Text to encode \(not shown\):"),
        ],
    )
    sh.type(PASSWORD)  # asked with echo off: neither shown nor kept in the history
    password64 = b64encode_text(PASSWORD)
    sh.expect(re.escape(password64))
    converse(
        sh,
        [
            ("EHLO me", r"250 HELP"),
            # CRAM-MD5's challenge is shown decoded beside it, then "*" cancels.
            ("AUTH CRAM-MD5", r"334 \S+\s+\(<\d+\.\d+@smtpshell\.local>\)\n.*tls auth>"),
            ("*", r"501 "),
            # The walkthrough's AUTH LOGIN, pasting what b64 printed.
            ("AUTH LOGIN", r"334 VXNlcm5hbWU6\s+\(Username:\)\n.*tls auth>"),
            ("YWxpY2U=", r"334 UGFzc3dvcmQ6\s+\(Password:\)"),
            (password64, r"235 2\.7\.0 Authentication successful"),
        ],
    )
    assert sh.close() == 0
    # The typed secret never shows; the base64 pasted at the 334 is kept out of the
    # history (the screen shows it once, as b64's output, where it was asked for).
    assert_secret_nowhere(sh, data_home, PASSWORD)
    assert password64 not in history_text(data_home)
    assert sh.screen.count(password64) == 1
    # What b64 encodes may be a password: masked while typed, never in the history.
    assert "b64 alice" not in history_text(data_home)
    assert "b64 *****" in sh.screen
    assert "Traceback" not in sh.screen


def test_login_guides_each_mechanism_and_caps_follows_the_session(
    start_shell: Start, server: BackgroundServer, data_home: Path
) -> None:
    target = f"127.0.0.1:{server.port}"
    sh = start_shell("--connect", target, "--cafile", str(server.ca_file))
    sh.expect(r"plain>")
    converse(
        sh,
        [
            ("caps", r"no EHLO reply yet \(type EHLO <name>\)"),
            ("login", r"error: no EHLO reply to choose a mechanism from: send EHLO first"),
            ("EHLO me", r"250 HELP"),
            ("caps", r"SIZE\s+52428800 \(50 MiB\)\s+maximum message size \(RFC 1870\)"),
            ("", r"no AUTH before TLS: type STARTTLS, then EHLO again"),
            ("login", r"error: the server does not offer AUTH before TLS: type STARTTLS"),
            ("STARTTLS", r"certificate verified"),
            ("caps", r"no EHLO reply since TLS started .*RFC 3207 4\.2.*: type EHLO <name>"),
            ("EHLO me", r"250 HELP"),
            ("CAPS", r"AUTH\s+CRAM-MD5 LOGIN PLAIN\s+SASL authentication \(RFC 4954\)"),
            ("login --mech login", r"Username:"),
            (USER, r"Password:"),
            (PASSWORD, r"> AUTH LOGIN\n334 VXNlcm5hbWU6\s+\(Username:\)\n> \*{8}\n"
                       r"334 UGFzc3dvcmQ6\s+\(Password:\)\n> \*{8}\n235 2\.7\.0"),
            ("", r"authenticated as alice with LOGIN"),
        ],
    )  # fmt: skip
    hangup(sh)
    connect = f"connect {target} --starttls --cafile {server.ca_file}"
    converse(
        sh,
        [
            (connect, r"tls>"),
            ("EHLO me", r"250 HELP"),
            ("login alice -m PLAIN", r"Password:"),
            (PASSWORD, r"> AUTH PLAIN \*{8}\n235 2\.7\.0"),
        ],
    )
    hangup(sh)
    converse(
        sh,
        [
            (connect, r"tls>"),
            ("EHLO me", r"250 HELP"),
            ("login", r"Username:"),
            (USER, r"Password:"),
            # The default: the best mechanism offered, CRAM-MD5 (RFC 2195).
            (PASSWORD, r"> AUTH CRAM-MD5\n334 \S+\s+\(<\d+\.\d+@smtpshell\.local>\)\n> \*{8}\n"
                       r"235 2\.7\.0"),
            ("", r"authenticated as alice with CRAM-MD5"),
        ],
    )  # fmt: skip
    assert sh.close() == 0
    assert_secret_nowhere(
        sh, data_home, PASSWORD, b64encode_text(PASSWORD), plain_response(USER, PASSWORD)
    )
    assert "login --mech login" in history_text(data_home)
    assert "Traceback" not in sh.screen


def test_wrong_password_then_a_non_ascii_one(
    start_shell: Start, tmp_path: Path, cert_dir: Path, data_home: Path
) -> None:
    password = "pässwörd-日本"
    config = make_config(tmp_path, cert_dir=cert_dir, users={"bob": password})
    with BackgroundServer(config) as own:
        sh = start_shell("--connect", f"127.0.0.1:{own.port}", "--starttls",
                         "--cafile", str(own.ca_file))  # fmt: skip
        converse(
            sh,
            [
                ("EHLO me", r"250 HELP"),
                ("login bob", r"Password:"),
                ("wonderland", r"535 5\.7\.8 Authentication credentials invalid\n"
                               r"error: authentication failed \(535\)"),
                ("login bob --mech LOGIN", r"Password:"),
                (password, r"235 2\.7\.0"),
                ("", r"authenticated as bob with LOGIN"),
                ("login bob --mech PLAIN", r"Password:"),
                (password, r"503 "),  # already authenticated: shown as the server said
            ],
        )  # fmt: skip
        assert sh.close() == 0
    assert_secret_nowhere(
        sh, data_home, password, b64encode_text(password), plain_response("bob", password),
        "wonderland",
    )  # fmt: skip


def test_mx_table_and_dns_errors(start_shell: Start, dns: DnsResponder) -> None:
    sh = start_shell("--nameserver", dns.nameserver)
    sh.expect(r"smtpshell>")
    answered = re.escape(f"(answered by {dns.nameserver})")
    converse(
        sh,
        [
            ("mx mx.test", rf"MX records for mx\.test {answered}\n"
                           r"Pref +Host name +IPv4 +IPv6 +TTL *\n"
                           r" +5 +dead\.mx\.test +127\.0\.0\.9 +- +3600 \(1 h\) *\n"
                           r" +10 +mx1\.mx\.test +127\.0\.0\.1 +::1 +3600 \(1 h\) *\n"
                           r" +10 +mx2\.mx\.test +127\.0\.0\.1 +- +3600 \(1 h\) *\n"
                           r" +20 +backup\.mx\.test +127\.0\.0\.1 +::1 +3600 \(1 h\) *\n"),
            ("MX aonly.test", r"no MX records: aonly\.test's own address is its implicit MX "
                              r"\(RFC 5321 5\.1\)\n.*\n +0 +aonly\.test +127\.0\.0\.1 +- +600"),
            ("mx nullmx.test", r"nullmx\.test accepts no mail: null MX '0 \.' \(RFC 7505\)"),
            ("mx nosuch.test", r"error: nosuch\.test: no such domain \(NXDOMAIN\)"),
            ("mx", r"error: the following arguments are required: domain"),
            ("mx a..b", r"error: .*a\.\.b"),
        ],
    )  # fmt: skip
    assert sh.close() == 0
    assert "Traceback" not in sh.screen


def test_mx_time_out_through_the_environment_nameserver(start_shell: Start) -> None:
    with DnsResponder({}, black_hole=True) as hole:
        sh = start_shell(env={"SMTPSHELL_NAMESERVER": hole.nameserver})
        converse(
            sh,
            [
                ("mx mx.test --timeout 0.5", r"error: mx\.test: DNS timed out after 0\.5 s "
                                             + re.escape(f"asking {hole.nameserver}")),
            ],
        )  # fmt: skip
        assert sh.close() == 0


def test_connect_mx_reaches_the_live_exchanger_after_a_dead_one(
    start_shell: Start, server: BackgroundServer, dns: DnsResponder
) -> None:
    port = server.port
    sh = start_shell("--nameserver", dns.nameserver)
    sh.expect(r"smtpshell>")
    converse(
        sh,
        [
            (f"connect --mx mx.test --port {port}",
             rf"trying dead\.mx\.test \[127\.0\.0\.9\]:{port} \(preference 5\)\.\.\.\n"
             r"\.\.\. connection refused\n"
             rf"trying mx[12]\.mx\.test \[127\.0\.0\.1\]:{port} \(preference 10\)\.\.\.\n"
             rf"connected to 127\.0\.0\.1:{port}\n220 smtpshell\.local"),
            ("", rf"127\.0\.0\.1:{port} plain>"),
            ("EHLO me", r"250 HELP"),
        ],
    )  # fmt: skip
    hangup(sh)
    converse(
        sh,
        [
            ("connect --mx nullmx.test",
             r"error: nullmx\.test accepts no mail \(null MX, RFC 7505\)"),
            ("connect --mx nosuch.test", r"error: nosuch\.test: no such domain \(NXDOMAIN\)"),
            (f"connect --mx mx.test --port {port} --starttls --cafile {server.ca_file}",
             r"error: TLS certificate verification failed for mx[12]\.mx\.test: the certificate"
             r" does not match the host name.*\n\.\.\. failed \(see above\)"),
            ("connect 127.0.0.1 --mx mx.test", r"error: give either HOST\[:PORT\] or --mx DOMAIN"),
            ("connect 127.0.0.1 --port 25", r"error: --port goes with --mx"),
            ("connect --mx mx.test --port 0", r"error: argument --port: port must be a number"),
            ("connect --mx 'mx.test", r"error: cannot parse the arguments: no closing quotation"),
            (f"connect --mx mx.test --port {port} --starttls --insecure",
             r"trying mx[12]\.mx\.test.*\n(.*\n)*.*certificate NOT verified"),
            ("", r"tls>"),
        ],
    )  # fmt: skip
    assert sh.close() == 0
    assert "Traceback" not in sh.screen
