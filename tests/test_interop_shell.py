"""The shell against a real Postfix + Dovecot, through a pseudo-terminal.

The same things a user does against the embedded server in test_shell_pty.py, but
against tests/servers/start's Postfix: what is typed, what the screen shows, what
the history keeps and what arrives in the maildir. This pins smtpshell's behaviour
to a real MTA, not only to our own server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from auth_text import b64
from conftest import history_text
from interop_env import InteropEnv, expected_delivery, find_delivered
from interop_fixtures import (
    improper_pipelining,
    marker,
    plain_response,
    prompt,
    server_fingerprint,
)
from pty_shell import ShellPty, converse

pytestmark = pytest.mark.interop

Start = Callable[..., ShellPty]

# Postfix's replies, as this instance sends them (see docs/server-differences.md).
GREETING = r"220 mail\.interop\.test ESMTP Postfix \(smtpshell interop\)"
EHLO_AFTER_TLS = (
    r"250-mail\.interop\.test\n250-PIPELINING\n250-SIZE 52428800\n250-VRFY\n250-ETRN\n"
    r"250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-DSN\n250-SMTPUTF8\n250 CHUNKING\n"
)


def start(start_shell: Start, env: InteropEnv, port: int, *options: str) -> ShellPty:
    return start_shell("--connect", f"{env.host}:{port}", "--cafile", str(env.ca_file), *options)


def test_starttls_typed_mid_session_forgets_capabilities(
    start_shell: Start, env: InteropEnv
) -> None:
    sh = start(start_shell, env, env.smtp_port)
    sh.expect(GREETING)
    sh.expect(prompt(env, env.smtp_port, "plain"))
    converse(
        sh,
        [
            ("EHLO client.test", r"250-STARTTLS\n(250-.*\n)*250 CHUNKING"),
            ("STARTTLS", r"220 2\.0\.0 Ready to start TLS\n"),
        ],
    )
    sh.expect(r"TLS established: TLSv1\.[23], \S+; certificate verified; send EHLO again")
    sh.expect(prompt(env, env.smtp_port, "tls"))
    # RFC 3207 4.2: a new EHLO, a new list; Postfix no longer offers STARTTLS.
    converse(sh, [("EHLO client.test", EHLO_AFTER_TLS)])
    sh.expect(prompt(env, env.smtp_port, "tls"))
    converse(sh, [("QUIT", r"221 2\.0\.0 Bye\n"), ("", "smtpshell>")])
    assert sh.close() == 0
    assert "Traceback" not in sh.screen


def test_implicit_tls_with_cafile(start_shell: Start, env: InteropEnv) -> None:
    sh = start(start_shell, env, env.smtps_port, "--tls")
    sh.expect(r"TLS established: TLSv1\.[23], \S+; certificate verified")
    sh.expect(GREETING)
    sh.expect(prompt(env, env.smtps_port, "tls"))
    converse(
        sh,
        [
            ("EHLO client.test", r"250-AUTH PLAIN LOGIN CRAM-MD5\n(250-.*\n)*250 CHUNKING"),
            ("QUIT", r"221 2\.0\.0 Bye"),
        ],
    )
    assert sh.close() == 0


def test_unknown_ca_is_one_clear_line(start_shell: Start, env: InteropEnv) -> None:
    sh = start_shell("--connect", f"{env.host}:{env.smtps_port}", "--tls")
    sh.expect(r"TLS certificate verification failed for 127\.0\.0\.1: .*--cafile.*--insecure")
    assert sh.wait_exit() == 1
    assert "Traceback" not in sh.screen


def test_submission_refuses_mail_before_starttls_and_auth(
    start_shell: Start, env: InteropEnv, data_home: Path
) -> None:
    port = env.submission_port
    sh = start(start_shell, env, port)
    sh.expect(prompt(env, port, "plain"))
    converse(
        sh,
        [
            ("EHLO client.test", r"250-STARTTLS\n(250-.*\n)*250 CHUNKING"),
            ("MAIL FROM:<alice@interop.test>", r"530 5\.7\.0 Must issue a STARTTLS command first"),
            ("STARTTLS", r"certificate verified"),
            ("EHLO client.test", r"250-AUTH PLAIN LOGIN CRAM-MD5\n"),
            (
                "MAIL FROM:<alice@interop.test>",
                r"530 5\.7\.0 <alice@interop\.test>: Sender address rejected: "
                r"Authentication required",
            ),
        ],
    )
    assert "250-AUTH" not in sh.screen.split("STARTTLS\n220")[0]  # no AUTH before TLS
    # The mechanisms of the EHLO over TLS complete after "AUTH ".
    sh.keys("AUTH C\t")
    sh.expect("CRAM-MD5")
    sh.keys("\x15")  # Ctrl-U
    response = plain_response(env.alice)
    converse(
        sh,
        [
            (f"AUTH PLAIN {response}", r"235 2\.7\.0 Authentication successful"),
            ("MAIL FROM:<alice@interop.test>", r"250 2\.1\.0 Ok"),
            ("RCPT TO:<someone@example.com>", r"550 5\.1\.1 .*outside delivery disabled"),
            ("QUIT", "221"),
        ],
    )
    assert sh.close() == 0
    assert "AUTH PLAIN ****" in sh.screen
    assert response not in sh.raw
    assert response not in history_text(data_home)


def test_starttls_flag_hands_over_a_tls_prompt(start_shell: Start, env: InteropEnv) -> None:
    port = env.submission_port
    sh = start(start_shell, env, port, "--starttls")
    sh.expect(r"certificate verified")
    sh.expect(prompt(env, port, "tls"))
    converse(sh, [("EHLO client.test", r"250-AUTH PLAIN LOGIN CRAM-MD5\n"), ("QUIT", "221")])
    assert sh.close() == 0
    # Nothing before the prompt was sent in plain text after the upgrade.
    before_prompt = sh.screen.split(f"{env.host}:{port} tls>")[0]
    assert "plain>" not in before_prompt


def test_auth_login_by_hand_keeps_secrets_off_screen_and_history(
    start_shell: Start, env: InteropEnv, data_home: Path
) -> None:
    user64, password64 = b64(env.alice.address), b64(env.alice.password)
    port = env.smtps_port
    sh = start(start_shell, env, port, "--tls")
    sh.expect(prompt(env, port, "tls"))
    converse(
        sh,
        [
            ("EHLO client.test", "250 CHUNKING"),
            ("AUTH LOGIN", r"334 VXNlcm5hbWU6\s+\(Username:\)\n"),
        ],
    )
    sh.expect(prompt(env, port, "tls auth"))
    converse(
        sh,
        [
            (user64, r"334 UGFzc3dvcmQ6\s+\(Password:\)\n"),
            (password64, r"235 2\.7\.0 Authentication successful\n"),
        ],
    )
    sh.expect(prompt(env, port, "tls"))
    converse(sh, [("QUIT", "221")])
    assert sh.close() == 0
    history = history_text(data_home)
    for secret in (user64, password64, env.alice.password):
        assert secret not in sh.raw
        assert secret not in history
    assert "AUTH LOGIN" in history


def test_wrong_password_shows_535_and_the_session_goes_on(
    start_shell: Start, env: InteropEnv, data_home: Path
) -> None:
    wrong = plain_response(env.alice, "not-" + env.alice.password)
    port = env.smtps_port
    sh = start(start_shell, env, port, "--tls")
    converse(
        sh,
        [
            ("EHLO client.test", "250 CHUNKING"),
            (f"AUTH PLAIN {wrong}", r"535 5\.7\.8 Error: authentication failed: [^\n]*\n"),
        ],
    )
    sh.expect(prompt(env, port, "tls"))
    converse(
        sh,
        [
            (f"AUTH PLAIN {plain_response(env.alice)}", r"235 2\.7\.0"),
            ("QUIT", "221"),
        ],
    )
    assert sh.close() == 0
    assert "\x1b[1;31m535" in sh.raw  # a permanent failure, in red
    assert wrong not in sh.raw and wrong not in history_text(data_home)


def test_non_ascii_password_by_auth_plain(
    start_shell: Start, env: InteropEnv, data_home: Path
) -> None:
    # base64 of "\0bob@interop.test\0pässwörd-日本" in UTF-8, typed by hand.
    response = b64("\0bob@interop.test\0pässwörd-日本")
    assert response == plain_response(env.bob)
    port = env.smtps_port
    sh = start(start_shell, env, port, "--tls")
    converse(
        sh,
        [
            ("EHLO client.test", "250 CHUNKING"),
            (f"AUTH PLAIN {response}", r"235 2\.7\.0 Authentication successful"),
            ("QUIT", "221"),
        ],
    )
    assert sh.close() == 0
    assert response not in sh.raw
    assert response not in history_text(data_home)


def test_message_typed_in_the_shell_arrives_byte_identical(
    start_shell: Start, env: InteropEnv
) -> None:
    tag = marker("interop-shell")
    body = [
        f"From: Bob <{env.bob.address}>",
        f"To: Alice <{env.alice.address}>",
        f"Subject: typed by hand {tag}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Grüße aus dem Terminal, 日本語のテキスト.",
        ".a line starting with a dot",
        "..two dots",
        "...",
        " .",
        "y" * 998,  # the longest line RFC 5321 4.5.3.1.6 allows
        "last line",
    ]
    port = env.smtps_port
    sh = start(start_shell, env, port, "--tls")
    converse(
        sh,
        [
            ("EHLO client.test", "250 CHUNKING"),
            (f"AUTH PLAIN {plain_response(env.bob)}", "235"),
            (f"MAIL FROM:<{env.bob.address}>", r"250 2\.1\.0 Ok"),
            (f"RCPT TO:<{env.alice.address}>", r"250 2\.1\.5 Ok"),
            ("DATA", r"354 End data with <CR><LF>\.<CR><LF>\n"),
        ],
    )
    sh.expect(prompt(env, port, "tls data"))
    for line in body:
        sh.type(line)
        sh.expect(prompt(env, port, "tls data"))
    converse(sh, [(".", r"250 2\.0\.0 Ok: queued as [0-9A-F]+\n"), ("QUIT", "221")])
    assert sh.close() == 0
    assert "warning" not in sh.screen  # 998 octets is allowed: no long-line warning
    original = "".join(line + "\r\n" for line in body).encode("utf-8")
    assert find_delivered(env, tag, mailbox="alice") == expected_delivery(original)


def test_pasted_session_waits_for_each_reply(start_shell: Start, env: InteropEnv) -> None:
    """A whole session pasted at once: Postfix must see no improper pipelining."""
    tag = marker("interop-paste")
    port = env.smtp_port
    sh = start(start_shell, env, port)
    sh.expect(prompt(env, port, "plain"))
    pasted = [
        "EHLO client.test",  # RFC 2920 3.1: nothing may follow EHLO before its reply
        f"MAIL FROM:<{tag}@example.org>",
        f"RCPT TO:<{env.alice.address}>",
        "DATA",  # nor DATA before its 354
        f"Subject: {tag}",
        "",
        "pasted",
        ".",
        "QUIT",
    ]
    sh.keys("\x1b[200~" + "\r".join(pasted) + "\x1b[201~\r")  # bracketed paste
    # Each pasted line is shown at its prompt, with its reply under it.
    sh.expect(
        r"250 CHUNKING\n.*plain> MAIL FROM:.*\n250 2\.1\.0 Ok\n.*plain> RCPT TO:.*\n"
        r"250 2\.1\.5 Ok\n.*plain> DATA\n354 .*\n(.*data> .*\n){4}250 2\.0\.0 Ok: queued as"
    )
    sh.expect("221 2.0.0 Bye")
    assert sh.close() == 0
    original = f"Subject: {tag}\r\n\r\npasted\r\n".encode()
    assert find_delivered(env, tag, mailbox="alice") == expected_delivery(original)
    assert improper_pipelining(env, tag) == []


def test_tls_command_shows_the_certificate(start_shell: Start, env: InteropEnv) -> None:
    sh = start(start_shell, env, env.smtps_port, "--tls")
    sh.expect(prompt(env, env.smtps_port, "tls"))
    converse(
        sh,
        [
            ("tls", r"SHA-256\s+(?P<fp>([0-9A-F]{2}:){31}[0-9A-F]{2})"),
            ("QUIT", "221"),
        ],
    )
    assert sh.close() == 0
    screen = sh.screen
    assert server_fingerprint(env) in screen
    for row in (
        r"subject\s+CN=localhost\s",
        r"alt names\s+DNS:localhost, DNS:mx\.interop\.test, IP:127\.0\.0\.1",
        r"issuer\s+CN=smtpshell interop test CA",
        r"verified\s+yes",
    ):
        assert re.search(row, screen), row
