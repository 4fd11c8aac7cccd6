"""Smoke tests of the real Postfix + Dovecot started by ``tests/servers/start``.

They check the servers, not smtpshell: that each listener behaves as
tests/servers/README.md promises, so that failures in smtpshell's interop tests
can be blamed on smtpshell. Every TLS connection uses a verifying context that
trusts only the private CA (never smtplib's unverified default).
"""

from __future__ import annotations

import base64
import hmac
import smtplib
import socket
import ssl
import unicodedata
from collections.abc import Iterator
from typing import BinaryIO

import pytest
from auth_text import b64
from interop_env import (
    InteropEnv,
    InteropUser,
    delivered_message,
    expected_delivery,
    find_delivered,
    wait_for_delivery,
)
from interop_fixtures import marker, plain_response

pytestmark = pytest.mark.interop

TIMEOUT = 10


@pytest.fixture
def smtps(env: InteropEnv) -> Iterator[smtplib.SMTP_SSL]:
    with smtplib.SMTP_SSL(
        env.host, env.smtps_port, context=env.ssl_context(), timeout=TIMEOUT
    ) as client:
        client.ehlo("smoke.test")
        yield client


def read_reply(stream: BinaryIO) -> bytes:
    """One complete (possibly multi-line) reply from ``socket.makefile("rb")``."""
    lines = []
    while True:
        line = stream.readline(8192)
        assert line.endswith(b"\r\n"), f"truncated reply: {b''.join(lines) + line!r}"
        lines.append(line)
        if line[3:4] != b"-":
            return b"".join(lines)


# --------------------------------------------------------------------------
# Listeners and TLS
# --------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["smtp", "submission"])
def test_plain_listeners_greet(env: InteropEnv, which: str) -> None:
    port = env.smtp_port if which == "smtp" else env.submission_port
    with socket.create_connection((env.host, port), timeout=TIMEOUT) as sock:
        reader = sock.makefile("rb")
        assert read_reply(reader).startswith(b"220 ")
        sock.sendall(b"QUIT\r\n")
        assert read_reply(reader).startswith(b"221 ")


def test_implicit_tls_listener_greets_and_verifies(env: InteropEnv) -> None:
    with socket.create_connection((env.host, env.smtps_port), timeout=TIMEOUT) as raw:
        ctx = env.ssl_context()
        with ctx.wrap_socket(raw, server_hostname=env.server_name) as tls:
            reader = tls.makefile("rb")
            assert read_reply(reader).startswith(b"220 ")
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.sendall(b"QUIT\r\n")
            assert read_reply(reader).startswith(b"221 ")


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1"])
def test_certificate_names(env: InteropEnv, server_hostname: str) -> None:
    with (
        socket.create_connection((env.host, env.smtps_port), timeout=TIMEOUT) as raw,
        env.ssl_context().wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        assert tls.getpeercert()


def test_certificate_is_not_trusted_without_the_private_ca(env: InteropEnv) -> None:
    ctx = ssl.create_default_context()  # system trust store only
    with (
        socket.create_connection((env.host, env.smtps_port), timeout=TIMEOUT) as raw,
        pytest.raises(ssl.SSLCertVerificationError) as info,
    ):
        ctx.wrap_socket(raw, server_hostname=env.server_name)
    assert info.value.verify_code in (19, 20)  # self-signed in chain / unknown issuer


def test_certificate_is_checked_against_the_host_name(env: InteropEnv) -> None:
    with (
        socket.create_connection((env.host, env.smtps_port), timeout=TIMEOUT) as raw,
        pytest.raises(ssl.SSLCertVerificationError) as info,
    ):
        env.ssl_context().wrap_socket(raw, server_hostname="mail.example.com")
    assert info.value.verify_code == 62  # host name mismatch


def test_starttls_on_plain_port(env: InteropEnv) -> None:
    with smtplib.SMTP(env.host, env.smtp_port, timeout=TIMEOUT) as client:
        client.ehlo("smoke.test")
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")  # this port never offers AUTH
        code, _ = client.starttls(context=env.ssl_context())
        assert code == 220
        assert isinstance(client.sock, ssl.SSLSocket)
        client.ehlo("smoke.test")
        assert not client.has_extn("starttls")
        assert client.has_extn("smtputf8")
        assert int(client.esmtp_features["size"]) == env.message_size_limit


def test_plain_port_relays_nothing(env: InteropEnv) -> None:
    with smtplib.SMTP(env.host, env.smtp_port, timeout=TIMEOUT) as client:
        client.ehlo("smoke.test")
        assert client.mail("someone@example.org")[0] == 250
        code, text = client.rcpt("victim@example.com")
        assert code == 554 and b"Relay access denied" in text
        code, _ = client.rcpt(f"nobody@{env.domain}")
        assert code == 550  # unknown user in the test domain


# --------------------------------------------------------------------------
# Submission and AUTH
# --------------------------------------------------------------------------


def test_submission_refuses_mail_before_starttls_and_auth(env: InteropEnv) -> None:
    with smtplib.SMTP(env.host, env.submission_port, timeout=TIMEOUT) as client:
        client.ehlo("smoke.test")
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")  # no AUTH before TLS
        code, text = client.docmd("MAIL FROM:<alice@interop.test>")
        assert code == 530 and b"STARTTLS" in text

        client.starttls(context=env.ssl_context())
        client.ehlo("smoke.test")
        assert set(client.esmtp_features["auth"].upper().split()) >= {"PLAIN", "LOGIN"}
        code, text = client.docmd("MAIL FROM:<alice@interop.test>")
        assert code == 530 and b"Authentication required" in text

        assert client.docmd("AUTH PLAIN", plain_response(env.alice))[0] == 235
        assert client.docmd("MAIL FROM:<alice@interop.test>")[0] == 250
        code, text = client.docmd("RCPT TO:<someone@example.com>")
        assert code == 550  # nothing leaves this machine, even after AUTH


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_auth_plain_on_smtps(env: InteropEnv, smtps: smtplib.SMTP_SSL, who: str) -> None:
    # bob's password is non-ASCII: base64 of its UTF-8 bytes (smtplib.login()
    # cannot do this, it encodes the password as ASCII).
    user = env.users[who]
    code, text = smtps.docmd("AUTH PLAIN", plain_response(user))
    assert (code, text) == (235, b"2.7.0 Authentication successful")


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_auth_login_on_smtps(env: InteropEnv, smtps: smtplib.SMTP_SSL, who: str) -> None:
    user = env.users[who]
    assert smtps.docmd("AUTH LOGIN") == (334, b64(b"Username:").encode())
    assert smtps.docmd(b64(user.address.encode("utf-8"))) == (334, b64(b"Password:").encode())
    assert smtps.docmd(b64(user.password.encode("utf-8")))[0] == 235


def test_auth_cram_md5_on_smtps(env: InteropEnv, smtps: smtplib.SMTP_SSL) -> None:
    assert "CRAM-MD5" in env.auth_mechanisms
    code, challenge = smtps.docmd("AUTH CRAM-MD5")
    assert code == 334
    digest = hmac.new(
        env.alice.password.encode("utf-8"), base64.b64decode(challenge), "md5"
    ).hexdigest()
    assert smtps.docmd(b64(f"{env.alice.address} {digest}".encode()))[0] == 235


def test_auth_after_helo_on_smtps(env: InteropEnv) -> None:
    with smtplib.SMTP_SSL(
        env.host, env.smtps_port, context=env.ssl_context(), timeout=TIMEOUT
    ) as client:
        assert client.helo("smoke.test")[0] == 250
        assert client.docmd("AUTH PLAIN", plain_response(env.alice))[0] == 235


def test_wrong_password_gets_535(env: InteropEnv, smtps: smtplib.SMTP_SSL) -> None:
    wrong = InteropUser("alice", env.alice.address, "not-" + env.alice.password, env.alice.maildir)
    code, text = smtps.docmd("AUTH PLAIN", plain_response(wrong))
    assert code == 535 and text.startswith(b"5.7.8")
    # The session survives a failed AUTH.
    assert smtps.docmd("AUTH PLAIN", plain_response(env.alice))[0] == 235


def test_password_bytes_are_compared_as_sent(env: InteropEnv, smtps: smtplib.SMTP_SSL) -> None:
    # The same non-ASCII password in another Unicode normal form (NFD: "a" +
    # combining diaeresis) is different UTF-8 and is refused: no normalisation.
    nfd = unicodedata.normalize("NFD", env.bob.password)
    assert nfd != env.bob.password
    other_form = InteropUser("bob", env.bob.address, nfd, env.bob.maildir)
    assert smtps.docmd("AUTH PLAIN", plain_response(other_form))[0] == 535


# --------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------


def sample_message(env: InteropEnv, tag: str) -> bytes:
    return (
        f"From: Bob <{env.bob.address}>\r\n"
        f"To: Alice <{env.alice.address}>\r\n"
        f"Subject: smoke {tag} =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n"
        "X-Folded: first part\r\n"
        "\tsecond part\r\n"
        "X-Spacing:no space  and trailing space \r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Grüße, 日本語.\r\n"
        ".a line starting with a dot\r\n"
        "..two dots\r\n"
        ".\r\n"
        "\r\n"
        f"{'x' * 3000}\r\n"
        "last line with trailing tab\t\r\n"
        "\r\n"
    ).encode()


def test_message_arrives_byte_identical(env: InteropEnv) -> None:
    tag = marker("interop-smoke")
    original = sample_message(env, tag)
    with smtplib.SMTP(env.host, env.smtp_port, timeout=TIMEOUT) as client:
        client.starttls(context=env.ssl_context())
        client.ehlo("smoke.test")
        # smtplib dot-stuffs bytes but leaves their line endings alone.
        refused = client.sendmail(
            "sender@example.org", [env.alice.address], original, mail_options=["BODY=8BITMIME"]
        )
        assert refused == {}

    path = wait_for_delivery(env, tag, mailbox="alice")
    raw = path.read_bytes()
    assert b"\r" not in raw  # the maildir file uses LF line endings
    assert raw.startswith(b"Return-Path: <sender@example.org>\n")
    assert f"Delivered-To: {env.alice.address}\n".encode() in raw
    delivered = delivered_message(path)
    assert delivered == expected_delivery(original)
    assert delivered == original.replace(b"\r\n", b"\n")
    assert raw.endswith(delivered)


def test_submission_with_auth_delivers(env: InteropEnv) -> None:
    tag = marker("interop-smoke")
    original = f"Subject: {tag}\r\nFrom: {env.bob.address}\r\n\r\nvia submission\r\n".encode()
    with smtplib.SMTP(env.host, env.submission_port, timeout=TIMEOUT) as client:
        client.starttls(context=env.ssl_context())
        client.ehlo("smoke.test")
        assert client.docmd("AUTH PLAIN", plain_response(env.bob))[0] == 235
        refused = client.sendmail(env.bob.address, [env.alice.address, env.bob.address], original)
        assert refused == {}
    for mailbox in ("alice", "bob"):
        assert find_delivered(env, tag, mailbox=mailbox) == expected_delivery(original)


def test_expected_delivery_refuses_what_postfix_changes() -> None:
    # Pure helper check; needs no server but lives with the helper's users.
    assert expected_delivery(b"Subject: a\r\n\r\nb") == b"Subject: a\n\nb\n"
    for message in (
        b"Subject: a\r\n\r\nbare\nLF\r\n",
        b"Subject: a\r\n\r\nbare\rCR\r\n",
        b"no headers at all\r\n",
        b"Subject: a\r\nnot a header\r\n\r\nb\r\n",
        b"Bcc: x@example.org\r\n\r\nb\r\n",
    ):
        with pytest.raises(ValueError):
            expected_delivery(message)
