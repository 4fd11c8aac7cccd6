"""`smtpshell send` end to end against the embedded server: what arrives, what the
exit status and the JSON say, profiles, direct delivery through a DNS responder."""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
from email.message import EmailMessage
from pathlib import Path

import pytest
from cli_runner import run_cli
from conftest import PASSWORD, USER
from dns_responder import DnsResponder
from hostile_server import HostileServer, Peer
from server_fixtures import stored_messages

from smtpshell.send.outcome import SendStatus
from smtpshell.server import BackgroundServer


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def only_message(server: BackgroundServer) -> EmailMessage:
    messages = stored_messages(server)
    assert len(messages) == 1
    return parsed(messages[0])


def send(server: BackgroundServer, *args: str, stdin: str = "", **env: str) -> tuple[str, str, int]:
    environ = {"NO_COLOR": "1", **env}
    return run_cli(
        "send", "--server", f"127.0.0.1:{server.port}", *args, stdin=stdin, environ=environ
    )


def test_the_seeds_mail_dash_s_arrives_readable(server: BackgroundServer) -> None:
    # echo content | mail -a From:yourname@qq.com -s "test ssmpt" rcpt_to@163.com
    _out, err, status = send(
        server, "--from", "你好 <me@example.com>", "-s", "测试邮件", "--to", "rcpt@example.com",
        stdin="你好，世界\n",
    )  # fmt: skip
    assert status == SendStatus.OK, err
    assert "sent to rcpt@example.com" in err
    message = only_message(server)
    assert message["Subject"] == "测试邮件"
    assert str(message["From"]) == "你好 <me@example.com>"
    body = message.get_body()
    # Text is CRLF in canonical form (RFC 2045 6.8): inside base64 or QP too.
    assert body is not None and body.get_content().replace("\r\n", "\n") == "你好，世界\n"
    assert message["Date"] and message["Message-ID"]


def test_bcc_is_delivered_and_never_in_the_headers(server: BackgroundServer) -> None:
    _, err, status = send(
        server, "--from", "me@example.com", "--to", "a@example.com", "--bcc", "hidden@example.com",
        "--body", "hi",
    )  # fmt: skip
    assert status == SendStatus.OK, err
    assert "sent to hidden@example.com" in err
    raw = stored_messages(server)[0]
    assert b"hidden@example.com" not in raw.split(b"\r\n\r\n")[0].replace(b"X-RcptTo", b"")


def test_a_binary_attachment_arrives_byte_identical(
    server: BackgroundServer, tmp_path: Path
) -> None:
    data = random.Random(7).randbytes(5 * 1024 * 1024)
    attachment = tmp_path / "blob.bin"
    attachment.write_bytes(data)
    _, err, status = send(
        server, "--from", "me@example.com", "--to", "a@example.com", "--body", "see attached",
        "--attach", str(attachment),
    )  # fmt: skip
    assert status == SendStatus.OK, err
    parts = list(only_message(server).iter_attachments())
    assert len(parts) == 1 and parts[0].get_filename() == "blob.bin"
    assert parts[0].get_content() == data


def test_raw_from_stdin_with_t_takes_recipients_from_the_headers(server: BackgroundServer) -> None:
    text = "From: a@example.org\nTo: b@example.org\nBcc: c@example.org\nSubject: raw\n\nbody\n"
    out, err, status = send(server, "--raw", "-t", "--json", stdin=text)
    assert status == SendStatus.OK, err
    document = json.loads(out)
    addresses = [r["address"] for r in document["deliveries"][0]["recipients"]]
    assert addresses == ["b@example.org", "c@example.org"]
    assert document["sender"] == "a@example.org"
    stored = stored_messages(server)[0]
    assert b"Bcc" not in stored and b"Subject: raw\r\n" in stored


def test_a_refused_recipient_is_a_partial_failure_in_status_and_json() -> None:
    async def script(peer: Peer) -> None:
        await peer.send(b"220 test ESMTP\r\n")
        while (command := await peer.command()) != "QUIT":
            if command == "RCPT TO:<x@nowhere.test>":
                await peer.send(b"550 5.1.1 <x@nowhere.test>: unknown\r\n")
            elif command == "DATA":
                await peer.send(b"354 go on\r\n")
                while await peer.line() != b".\r\n":
                    pass
                await peer.send(b"250 2.0.0 Ok: queued as 4XYZ\r\n")
            else:
                await peer.send(b"250 ok\r\n")
        await peer.send(b"221 bye\r\n")

    with HostileServer(script) as server:
        out, err, status = run_cli(
            "send", "--server", f"127.0.0.1:{server.port}", "--from", "me@example.com",
            "--to", "a@example.com", "--to", "x@nowhere.test", "--body", "hi", "--json",
            environ={"NO_COLOR": "1"},
        )  # fmt: skip
        server.wait_finished()
    assert status == SendStatus.PARTIAL, err
    document = json.loads(out)
    recipients = document["deliveries"][0]["recipients"]
    assert [(r["address"], r["accepted"]) for r in recipients] == [
        ("a@example.com", True), ("x@nowhere.test", False),
    ]  # fmt: skip
    assert (recipients[1]["code"], recipients[1]["enhanced_code"]) == (550, "5.1.1")
    assert document["deliveries"][0]["queue_id"] == "4XYZ"
    assert document["status"] == SendStatus.PARTIAL


def test_login_with_a_profile_whose_password_comes_from_a_command(
    server: BackgroundServer, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    (config / "smtpshell").mkdir(parents=True)
    profile = config / "smtpshell" / "profiles.toml"
    profile.write_text(
        f'[profiles.local]\nserver = "127.0.0.1:{server.tls_port}"\ntls = "implicit"\n'
        f'cafile = "{server.ca_file}"\nuser = "{USER}"\nsender = "{USER}@example.com"\n'
        f'password_command = "printf %s {PASSWORD}"\n',
        encoding="utf-8",
    )
    profile.chmod(0o600)
    _out, err, status = run_cli(
        "send", "--profile", "local", "--to", "bob@example.com", "--body", "hi", "-v",
        environ={"NO_COLOR": "1", "XDG_CONFIG_HOME": str(config)},
    )  # fmt: skip
    assert status == SendStatus.OK, err
    assert "AUTH" in err and PASSWORD not in err
    assert only_message(server)["From"] == f"{USER}@example.com"


def test_a_wrong_password_is_exit_status_28(server: BackgroundServer) -> None:
    _, err, status = run_cli(
        "send", "--server", f"127.0.0.1:{server.tls_port}", "--tls",
        "--cafile", str(server.ca_file), "--user", USER, "--from", "me@example.com",
        "--to", "b@example.com", "--body", "hi",
        environ={"NO_COLOR": "1", "SMTPSHELL_PASSWORD": "not-the-password"},
    )  # fmt: skip
    assert status == SendStatus.AUTH
    assert "not-the-password" not in err
    assert stored_messages(server) == []


def test_dry_run_prints_the_envelope_and_sends_nothing(server: BackgroundServer) -> None:
    out, _, status = send(
        server, "--from", "me@example.com", "--to", "a@example.com", "-s", "x", "--body", "hi",
        "--dry-run",
    )  # fmt: skip
    assert status == SendStatus.OK
    assert "\nRCPT TO:<a@example.com>\n" in out and "\nSubject: x\n" in out
    assert out.endswith("hi\n")
    assert stored_messages(server) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--to", "a@example.com", "--body", "x"], "no sender"),
        (["--from", "me@example.com", "--body", "x"], "no recipient"),
        (
            ["--from", "me@example.com", "--to", "a@example.com", "--raw", "-", "-s", "x"],
            "--subject",
        ),
        (
            [
                "--record",
                "t.smtp",
                "--from",
                "me@example.com",
                "--to",
                "a@example.com",
                "--body",
                "x",
            ],
            "--record records one connection",
        ),
        (["--direct", "--server", "h", "--to", "a@example.com"], "--direct goes to the MX hosts"),
    ],
)
def test_usage_errors_are_one_line_and_status_2(args: list[str], words: str) -> None:
    out, err, status = run_cli("send", *args, environ={"NO_COLOR": "1"})
    assert status == 2
    assert words in err and err.count("\n") == 1
    assert out == ""


def test_direct_delivery_falls_back_from_a_dead_first_mx(server: BackgroundServer) -> None:
    records = {
        ("example.test", "MX"): [(300, "10 dead.example.test."), (300, "20 live.example.test.")],
        ("dead.example.test", "A"): [(300, "127.0.0.9")],
        ("live.example.test", "A"): [(300, "127.0.0.1")],
    }
    with DnsResponder(records) as responder:
        out, err, status = run_cli(
            "send", "--from", "me@example.com", "--to", "bob@example.test", "--body", "direct",
            "--nameserver", responder.nameserver, "--mx-port", str(server.port), "--json",
            "--timeout", "5",
        )  # fmt: skip
    assert status == SendStatus.OK, err
    delivery = json.loads(out)["deliveries"][0]
    assert delivery["domain"] == "example.test"
    assert delivery["server"].startswith("live.example.test")
    # The embedded server offers STARTTLS: used, though its certificate does not
    # name live.example.test (opportunistic TLS).
    assert delivery["tls"] is not None and delivery["tls_verified"] is False
    assert only_message(server).get_body() is not None


def test_no_server_reached_is_exit_status_3() -> None:
    _, err, status = run_cli(
        "send", "--server", "127.0.0.9:9", "--from", "me@example.com", "--to", "a@example.com",
        "--body", "x", "--timeout", "2", environ={"NO_COLOR": "1"},
    )  # fmt: skip
    assert status == SendStatus.CONNECTION
    assert "not sent to a@example.com" in err


def test_profile_file_readable_by_others_warns(server: BackgroundServer, tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "smtpshell").mkdir(parents=True)
    profile = config / "smtpshell" / "profiles.toml"
    profile.write_text(
        f'[profiles.local]\nserver = "127.0.0.1:{server.tls_port}"\ntls = "implicit"\n'
        f'cafile = "{server.ca_file}"\nuser = "{USER}"\npassword = "{PASSWORD}"\n'
        f'sender = "me@example.com"\n',
        encoding="utf-8",
    )
    os.chmod(profile, 0o644)
    _, err, status = run_cli(
        "send", "--profile", "local", "--to", "bob@example.com", "--body", "hi",
        environ={"NO_COLOR": "1", "XDG_CONFIG_HOME": str(config)},
    )  # fmt: skip
    assert status == SendStatus.OK, err
    assert "warning" in err and "chmod 600" in err
    assert PASSWORD not in err


def test_direct_delivery_with_starttls_requires_a_certificate_for_the_mx_name(
    server: BackgroundServer,
) -> None:
    records = {
        ("example.test", "MX"): [(300, "10 live.example.test.")],
        ("live.example.test", "A"): [(300, "127.0.0.1")],
    }
    with DnsResponder(records) as responder:
        _, err, status = run_cli(
            "send", "--from", "me@example.com", "--to", "bob@example.test", "--body", "direct",
            "--nameserver", responder.nameserver, "--mx-port", str(server.port), "--starttls",
            "--cafile", str(server.ca_file), "--timeout", "5", environ={"NO_COLOR": "1"},
        )  # fmt: skip
    # The certificate is valid (the CA is given) but names localhost, not the MX.
    assert status == SendStatus.TLS, err
    assert "live.example.test" in err
    assert stored_messages(server) == []


def test_record_writes_a_transcript_that_replays(server: BackgroundServer, tmp_path: Path) -> None:
    transcript = tmp_path / "send.smtp"
    _, err, status = send(
        server, "--from", "me@example.com", "--to", "a@example.com", "-s", "recorded",
        "--body", "hello", "--record", str(transcript),
    )  # fmt: skip
    assert status == SendStatus.OK, err
    text = transcript.read_text(encoding="utf-8")
    assert "> MAIL FROM:<me@example.com>" in text and "> DATA" in text
    out, err, status = run_cli(
        "replay", str(transcript), "--connect", f"127.0.0.1:{server.port}",
        environ={"NO_COLOR": "1"},
    )  # fmt: skip
    assert status == 0, out + err
    assert "1 passed" in out


def test_quiet_still_says_what_went_wrong() -> None:
    _, err, status = run_cli(
        "send", "-q", "--server", "127.0.0.9:9", "--from", "me@example.com",
        "--to", "a@example.com", "--body", "x", "--timeout", "2", environ={"NO_COLOR": "1"},
    )  # fmt: skip
    assert status == SendStatus.CONNECTION
    assert err.startswith("not sent to a@example.com")


def test_a_refused_recipient_is_one_line() -> None:
    async def script(peer: Peer) -> None:
        await peer.send(b"220 test ESMTP\r\n")
        while (command := await peer.command()) != "QUIT":
            refused = command.startswith("RCPT")
            await peer.send(b"550 5.1.1 unknown\r\n" if refused else b"250 ok\r\n")
        await peer.send(b"221 bye\r\n")

    with HostileServer(script) as server:
        _, err, status = run_cli(
            "send", "--server", f"127.0.0.1:{server.port}", "--from", "me@example.com",
            "--to", "x@example.com", "--body", "hi", environ={"NO_COLOR": "1"},
        )  # fmt: skip
        server.wait_finished()
    assert status == SendStatus.RCPT
    assert err == f"refused x@example.com via 127.0.0.1:{server.port}: 550 5.1.1 unknown\n"


def test_the_default_profile_is_used_without_server(
    server: BackgroundServer, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    (config / "smtpshell").mkdir(parents=True)
    (config / "smtpshell" / "profiles.toml").write_text(
        f'default = "here"\n[profiles.here]\nserver = "127.0.0.1:{server.port}"\n'
        'tls = "none"\nsender = "me@example.com"\n',
        encoding="utf-8",
    )
    environ = {"NO_COLOR": "1", "XDG_CONFIG_HOME": str(config)}
    _, err, status = run_cli("send", "--to", "a@example.com", "--body", "hi", environ=environ)
    assert status == SendStatus.OK, err
    assert f"via 127.0.0.1:{server.port}" in err
    assert only_message(server)["From"] == "me@example.com"


def test_an_attachment_that_cannot_be_read_is_exit_status_1(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, words in ((tmp_path / "missing.pdf", "No such file"), (fifo, "not a regular file")):
        _, err, status = run_cli(
            "send", "--server", "127.0.0.1:9", "--from", "me@example.com", "--to", "a@example.com",
            "--body", "x", "--attach", str(path), environ={"NO_COLOR": "1"},
        )  # fmt: skip
        assert status == SendStatus.FAILURE
        assert words in err
