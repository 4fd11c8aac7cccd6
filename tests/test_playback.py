"""serve --script through its Python API: smtplib and raw clients against a transcript.

Each test writes a transcript, serves it with ScriptServer on a free port and checks
both directions: a client that follows it passes, one that deviates gets the 5xx
and the report names the transcript line.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from pathlib import Path

import pytest
from auth_text import b64
from server_fixtures import RawSmtpClient

from smtpshell.playback import ScriptError, ScriptFailed, ScriptServer

ROOT = Path(__file__).resolve().parent.parent
HELO = "client.test"
MESSAGE = "Subject: hello\r\nFrom: <a@example.test>\r\nTo: <b@example.test>\r\n\r\nbody\r\n"

PLAIN = f"""\
> telnet mail.example.test 25
220 mail.example.test ESMTP
> ehlo {HELO}
250-mail.example.test
250 8BITMIME
> mail FROM:<a@example.test>
250 2.1.0 Ok
> rcpt TO:<b@example.test>
250 2.1.5 Ok
> data
354 End data with <CR><LF>.<CR><LF>
> Subject: hello
> Date: Fri, 27 Nov 2026 10:00:00 +0000
> From: <a@example.test>
> To: <b@example.test>
>
> body
> .
250 2.0.0 Ok: queued as 4F2B1
> quit
221 2.0.0 Bye
"""


def write(tmp_path: Path, text: str, name: str = "t.smtp") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def serve(tmp_path: Path, text: str, **options: object) -> ScriptServer:
    return ScriptServer(write(tmp_path, text), cert_dir=tmp_path / "tls", **options)  # type: ignore[arg-type]


def send_plain(port: int, message: str = MESSAGE, sender: str = "a@example.test") -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname=HELO, timeout=10) as client:
        client.sendmail(sender, ["b@example.test"], message)


def test_smtplib_following_the_transcript_passes(tmp_path: Path) -> None:
    with serve(tmp_path, PLAIN) as server:
        send_plain(server.port)
        assert server.wait(10)
    assert server.failures == []
    server.check()


def test_the_replies_are_the_transcripts_own(tmp_path: Path) -> None:
    with serve(tmp_path, PLAIN) as server, RawSmtpClient(server.port) as client:
        assert client.greeting == (220, "mail.example.test ESMTP")
        assert client.command(f"EHLO {HELO}") == (250, "mail.example.test\n8BITMIME")
        assert client.command("MAIL FROM:<a@example.test>") == (250, "2.1.0 Ok")
        assert client.command("RCPT TO:<b@example.test>") == (250, "2.1.5 Ok")
        assert client.command("DATA")[0] == 354
        client.send(MESSAGE + ".\r\n")
        assert client.reply() == (250, "2.0.0 Ok: queued as 4F2B1")
        assert client.command("QUIT") == (221, "2.0.0 Bye")
    assert server.failures == []


def test_a_wrong_command_gets_554_and_names_the_line(tmp_path: Path) -> None:
    with serve(tmp_path, PLAIN) as server:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send_plain(server.port, sender="other@example.test")
        assert server.wait(10)
    assert refused.value.smtp_code == 554
    path = tmp_path / "t.smtp"
    assert refused.value.smtp_error.decode() == (
        f"5.5.0 smtpshell: transcript expected mail FROM:<a@example.test> ({path}:6)"
    )
    assert server.failures == [
        f"{path}:6: client sent mail FROM:<other@example.test>, "
        "transcript expected mail FROM:<a@example.test>"
    ]
    with pytest.raises(ScriptFailed, match=r"t\.smtp:6: client sent"):
        server.check()


def test_a_different_body_fails_at_the_body_line(tmp_path: Path) -> None:
    with serve(tmp_path, PLAIN) as server, pytest.raises(smtplib.SMTPDataError) as refused:
        send_plain(server.port, MESSAGE.replace("body", "another body"))
    assert refused.value.smtp_code == 554
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:17: client sent another body, transcript expected body"
    ]


def test_date_and_message_id_are_ignored_by_default(tmp_path: Path) -> None:
    # The transcript has a Date the client does not send, and the client adds a
    # Message-ID the transcript lacks: neither counts.
    message = MESSAGE.replace("To:", "Message-ID: <1@client.test>\r\nTo:")
    with serve(tmp_path, PLAIN) as server:
        send_plain(server.port, message)
    assert server.failures == []


def test_ignored_headers_can_be_chosen(tmp_path: Path) -> None:
    with (
        serve(tmp_path, PLAIN, ignore_headers=()) as server,
        pytest.raises(smtplib.SMTPDataError),
    ):
        send_plain(server.port)
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:13: client sent From: <a@example.test>, transcript expected "
        "Date: Fri, 27 Nov 2026 10:00:00 +0000"
    ]


def test_a_missing_body_line_and_an_extra_one(tmp_path: Path) -> None:
    path = tmp_path / "t.smtp"
    with serve(tmp_path, PLAIN) as server, pytest.raises(smtplib.SMTPDataError):
        send_plain(server.port, MESSAGE.replace("body\r\n", ""))
    assert server.failures == [
        f"{path}:17: client sent the end of the message (.), transcript expected body"
    ]
    with serve(tmp_path, PLAIN) as server, pytest.raises(smtplib.SMTPDataError):
        send_plain(server.port, MESSAGE + "more\r\n")
    assert server.failures == [
        f"{path}:18: client sent more, transcript expected the end of the message (.)"
    ]


def test_a_client_that_stops_early_fails_at_the_line_it_owed(tmp_path: Path) -> None:
    with serve(tmp_path, PLAIN) as server, RawSmtpClient(server.port) as client:
        client.command(f"EHLO {HELO}")
        client.command("MAIL FROM:<a@example.test>")
    server.close()
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:8: client closed the connection; transcript expected "
        "rcpt TO:<b@example.test>"
    ]


def test_a_client_that_never_connects_fails(tmp_path: Path) -> None:
    with serve(tmp_path, PLAIN) as server:
        started = time.monotonic()
    # Stopping waits for conversations under way, not for the server thread to time out.
    assert time.monotonic() - started < 5
    assert server.failures == [
        f"{tmp_path / 't.smtp'}: the client made no connection; the transcript was to be "
        "served 1 time(s)"
    ]


def test_verbs_and_keywords_match_in_any_case_addresses_do_not(tmp_path: Path) -> None:
    with serve(tmp_path, PLAIN) as server, RawSmtpClient(server.port) as client:
        assert client.command(f"EhLo {HELO}")[0] == 250
        assert client.command("MAIL from:<a@example.test>")[0] == 250
        assert client.command("RCPT TO:<B@example.test>")[0] == 554
    assert "client sent RCPT TO:<B@example.test>" in server.failures[0]


STARTTLS = f"""\
220 mail.example.test ESMTP
> EHLO {HELO}
250-mail.example.test
250 STARTTLS
> STARTTLS
220 2.0.0 Ready to start TLS
> EHLO {HELO}
250-mail.example.test
250 AUTH LOGIN
> AUTH LOGIN ${{AUTH_USER}}
334 UGFzc3dvcmQ6
> ${{AUTH_PASSWORD}}
235 2.7.0 Authentication successful
> QUIT
221 2.0.0 Bye
"""


def _starttls_login(port: int, cafile: Path, password: str = "secret") -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname=HELO, timeout=10) as client:
        client.starttls(context=ssl.create_default_context(cafile=str(cafile)))
        client.login("alice", password)


def test_smtplib_starttls_and_auth_login_with_variables(tmp_path: Path) -> None:
    values = {"AUTH_USER": b64("alice"), "AUTH_PASSWORD": b64("secret")}
    with serve(tmp_path, STARTTLS, variables=values) as server:
        assert server.cafile == tmp_path / "tls" / "ca.pem"
        _starttls_login(server.port, server.cafile)
    assert server.failures == []
    assert server.notes == []


def test_a_wrong_password_fails_without_showing_it(tmp_path: Path) -> None:
    values = {"AUTH_USER": b64("alice"), "AUTH_PASSWORD": b64("secret")}
    with serve(tmp_path, STARTTLS, variables=values) as server:
        assert server.cafile is not None
        with pytest.raises(smtplib.SMTPAuthenticationError):
            _starttls_login(server.port, server.cafile, password="wrong-password")
    report = "\n".join(server.failures)
    assert f"{tmp_path / 't.smtp'}:12: client sent a different answer (not shown" in report
    assert "transcript expected ${AUTH_PASSWORD}" in report
    assert b64("wrong-password") not in report and b64("secret") not in report


def test_credentials_without_values_are_accepted_and_said_so(tmp_path: Path) -> None:
    with serve(tmp_path, STARTTLS) as server:
        assert server.cafile is not None
        _starttls_login(server.port, server.cafile)
    assert server.failures == []
    path = tmp_path / "t.smtp"
    assert server.notes == [
        f"{path}:10: no value for ${{AUTH_USER}} (--var AUTH_USER=...): accepted what the "
        "client sent there unchecked",
        f"{path}:12: no value for ${{AUTH_PASSWORD}} (--var AUTH_PASSWORD=...): accepted what "
        "the client sent there unchecked",
    ]


def test_a_client_that_skips_starttls_fails_at_starttls(tmp_path: Path) -> None:
    with (
        serve(tmp_path, STARTTLS) as server,
        smtplib.SMTP("127.0.0.1", server.port, local_hostname=HELO, timeout=10) as client,
    ):
        client.ehlo()
        code, _ = client.docmd("AUTH", "LOGIN " + b64("alice"))
        assert code == 554
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:5: client sent AUTH LOGIN ********, transcript expected STARTTLS"
    ]


def test_commands_sent_behind_starttls_are_a_deviation(tmp_path: Path) -> None:
    with serve(tmp_path, STARTTLS) as server, RawSmtpClient(server.port) as client:
        client.command(f"EHLO {HELO}")
        client.send(f"STARTTLS\r\nEHLO {HELO}\r\n")
        assert client.reply()[0] == 554
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:5: client sent EHLO {HELO} after STARTTLS without waiting "
        "for its reply (RFC 3207 4.2)"
    ]


PIPELINED = f"""\
220 mail.example.test ESMTP
> EHLO {HELO}
250-mail.example.test
250 PIPELINING
> MAIL FROM:<a@example.test>
> RCPT TO:<b@example.test>
> DATA
250 2.1.0 Ok
250 2.1.5 Ok
354 go ahead
> Subject: hello
>
> ..leading dot
> .
250 queued
> QUIT
221 Bye
"""


def test_a_pipelining_client_is_answered_in_order(tmp_path: Path) -> None:
    with serve(tmp_path, PIPELINED) as server, RawSmtpClient(server.port) as client:
        client.command(f"EHLO {HELO}")
        client.send("MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n")
        assert [client.reply()[0] for _ in range(3)] == [250, 250, 354]
        client.send("Subject: hello\r\n\r\n...leading dot\r\n.\r\nQUIT\r\n")
        assert client.reply() == (250, "queued")
        assert client.reply() == (221, "Bye")
    assert server.failures == []


def test_a_bare_lf_is_a_deviation(tmp_path: Path) -> None:
    with serve(tmp_path, PLAIN) as server, RawSmtpClient(server.port) as client:
        client.send(f"EHLO {HELO}\n")
        assert client.reply()[0] == 554
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:3: client sent EHLO {HELO}\\x0a (lines end with CRLF, with no "
        f"bare CR, LF or NUL); transcript expected ehlo {HELO}"
    ]


PATTERNS = """\
220 ready
> ~ EHLO *
250 ok
> /^MAIL FROM:<[a-z]+@example\\.test>$/
250 ok
> RCPT TO:<${RCPT}>
250 ~ accepted *
> QUIT
221 bye
"""


def test_client_lines_may_be_patterns_and_unset_variables_match_anything(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, PATTERNS) as server, RawSmtpClient(server.port) as client:
        assert client.command("EHLO anything.example")[0] == 250
        assert client.command("MAIL FROM:<zoe@example.test>")[0] == 250
        # A reply pattern is sent without its marker.
        assert client.command("RCPT TO:<whoever@example.test>") == (250, "accepted *")
        assert client.command("QUIT")[0] == 221
    assert server.failures == []
    with serve(tmp_path, PATTERNS) as server, RawSmtpClient(server.port) as client:
        client.command("EHLO x")
        assert client.command("MAIL FROM:<Zoe@example.test>")[0] == 554
    assert "transcript expected /^MAIL FROM:" in server.failures[0]


def test_connections_serves_the_transcript_n_times(tmp_path: Path) -> None:
    with serve(tmp_path, PLAIN, connections=2) as server:
        send_plain(server.port)
        assert not server.wait(0)
        send_plain(server.port)
        assert server.wait(10)
    assert server.failures == []


def test_implicit_tls_transcript_served_to_smtp_ssl(tmp_path: Path) -> None:
    text = (ROOT / "transcripts" / "seed-3.1-implicit-tls.smtp").read_text(encoding="utf-8")
    values = {"AUTH_USER": "yourname@qq.com", "AUTH_PASSWORD": "secret"}  # plain: ${b64:...}
    with serve(tmp_path, text, variables=values) as server:
        assert server.cafile is not None
        context = ssl.create_default_context(cafile=str(server.cafile))
        with smtplib.SMTP_SSL("127.0.0.1", server.port, context=context, timeout=10) as client:
            client.helo("localhost")
            assert client.docmd("auth login")[0] == 334
            assert client.docmd(b64("yourname@qq.com"))[0] == 334
            assert client.docmd(b64("secret"))[0] == 235
            message = (
                "Subject: subject\r\nfrom:<yourname@qq.com>\r\nto:<friend@example.com>\r\n\r\n"
                "body\r\n"
            )
            client.sendmail("yourname@qq.com", ["friend@example.com"], message)
    assert server.failures == []


@pytest.mark.parametrize("name", ["seed-1-relay-auth-login.smtp", "seed-3.2-direct-delivery.smtp"])
def test_shipped_plain_transcripts_served_to_smtplib(name: str) -> None:
    path = ROOT / "transcripts" / name
    with (
        ScriptServer(path) as server,
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
    ):
        client.helo("localhost")
        if "auth" in name:
            assert client.docmd("auth login")[0] == 334
            assert client.docmd(b64("yourname@163.com"))[0] == 334
            assert client.docmd(b64("secret"))[0] == 235
            sender, rcpt, subject = "yourname@163.com", "friend@example.com", "subject"
            body = "body"
        else:
            sender, rcpt, subject = "yourname@qq.com", "destname@163.com", "direct delivery"
            body = "sent straight to the MX, as in section 3.2"
        client.sendmail(
            sender,
            [rcpt],
            f"Subject: {subject}\r\nfrom:<{sender}>\r\nto:<{rcpt}>\r\n\r\n{body}\r\n",
        )
    assert server.failures == []


def test_a_class_code_cannot_be_served(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match=r"t\.smtp:3: a reply written as 2xx names no code"):
        serve(tmp_path, "220 hi\n> NOOP\n2xx\n")


def test_mismatch_reply_is_configurable(tmp_path: Path) -> None:
    reply = "550 5.7.1 not as scripted: {expected} at {where}"
    with (
        serve(tmp_path, PLAIN, mismatch_reply=reply) as server,
        RawSmtpClient(server.port) as client,
    ):
        assert client.command("HELO x") == (
            550,
            f"5.7.1 not as scripted: ehlo {HELO} at {tmp_path / 't.smtp'}:3",
        )


def test_a_client_that_does_not_trust_the_certificate_is_reported(tmp_path: Path) -> None:
    text = "> openssl s_client -connect mail.example.test:465\n220 hi\n> QUIT\n221 bye\n"
    with serve(tmp_path, text) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            smtplib.SMTP_SSL("127.0.0.1", server.port, context=ssl.create_default_context())
        assert server.wait(10)
    assert len(server.failures) == 1
    assert server.failures[0].startswith(
        f"{tmp_path / 't.smtp'}:1: the TLS handshake (implicit TLS) failed: "
    )


STARTTLS_DIRECTIVE = """\
> openssl s_client -starttls smtp -connect mail.example.test:587
> EHLO client.test
250 mail.example.test
> QUIT
221 bye
"""


def test_a_starttls_directive_serves_the_ehlo_and_starttls_before_it(tmp_path: Path) -> None:
    with serve(tmp_path, STARTTLS_DIRECTIVE) as server:
        assert server.cafile is not None
        with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test") as client:
            client.starttls(context=ssl.create_default_context(cafile=str(server.cafile)))
            client.ehlo()
    assert server.failures == []
    with (
        serve(tmp_path, STARTTLS_DIRECTIVE) as server,
        smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test") as client,
    ):
        client.ehlo()
        assert client.docmd("MAIL FROM:<a@example.test>")[0] == 554
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:1: client sent MAIL FROM:<a@example.test>, transcript "
        "expected STARTTLS (the connect directive starts TLS with STARTTLS)"
    ]


def test_an_overlong_line_and_a_silent_client_are_deviations(tmp_path: Path) -> None:
    with serve(tmp_path, PLAIN) as server, RawSmtpClient(server.port) as client:
        client.send("EHLO " + "x" * 70000 + "\r\n")
        assert client.reply()[0] == 554
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:3: client sent a line over 65536 bytes; transcript expected "
        f"ehlo {HELO}"
    ]
    with serve(tmp_path, PLAIN, timeout=0.2) as server, RawSmtpClient(server.port) as client:
        assert client.reply()[0] == 554  # after the server's own time-out
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:3: client sent nothing for 0.2 s; transcript expected ehlo {HELO}"
    ]


def test_references_without_values_in_message_text_match_anything(tmp_path: Path) -> None:
    text = PLAIN.replace("> To: <b@example.test>", "> To: <${RCPT}>")
    with serve(tmp_path, text) as server:
        send_plain(server.port)
    assert server.failures == []
    assert server.notes == [
        f"{tmp_path / 't.smtp'}:15: no value for ${{RCPT}} (--var RCPT=...): accepted what "
        "the client sent there unchecked"
    ]
    with (
        serve(tmp_path, text, variables={"RCPT": "c@example.test"}) as server,
        pytest.raises(smtplib.SMTPDataError),
    ):
        send_plain(server.port)
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:15: client sent To: <b@example.test>, transcript expected "
        "To: <c@example.test>"
    ]


def test_what_the_client_sent_is_reported_inert(tmp_path: Path) -> None:
    with serve(tmp_path, PLAIN) as server, RawSmtpClient(server.port) as client:
        assert client.command("EHLO \x1b[2J\u202eevil")[0] == 554
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:3: client sent EHLO \\x1b[2J\\u202eevil, transcript expected "
        f"ehlo {HELO}"
    ]


def test_a_client_that_goes_on_after_the_last_step_fails(tmp_path: Path) -> None:
    # The transcript stops after MAIL; a client that sends RCPT is not the one scripted.
    short = PLAIN.split("> rcpt")[0]
    with serve(tmp_path, short) as server, RawSmtpClient(server.port) as client:
        client.command(f"EHLO {HELO}")
        client.command("MAIL FROM:<a@example.test>")
        client.send("RCPT TO:<b@example.test>\r\n")
        server.wait()
    assert server.failures == [
        f"{tmp_path / 't.smtp'}:6: client sent RCPT TO:<b@example.test> after the "
        "transcript's last step; transcript expected the end of the conversation"
    ]


@pytest.mark.parametrize("text", ["", "# nothing\n", "220 hi\n"])
def test_a_transcript_without_steps_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ScriptError, match="no steps"):
        serve(tmp_path, text)


def test_a_transcript_of_two_connections_is_refused(tmp_path: Path) -> None:
    two = PLAIN + PLAIN.replace("mail.example.test 25", "mail.example.test 587")
    with pytest.raises(ScriptError, match=r"t\.smtp:22: a second connection"):
        serve(tmp_path, two)
