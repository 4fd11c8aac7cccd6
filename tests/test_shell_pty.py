"""The shell as a user meets it: a real pseudo-terminal, typing and reading the screen."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from conftest import PASSWORD, USER, history_text
from pty_shell import ShellPty, converse
from scripted_server import (
    ScriptedServer,
    answer_first_command,
    read_command,
    self_signed_context,
)
from server_fixtures import stored_messages

from smtpshell.protocol.auth import b64encode_text
from smtpshell.server import BackgroundServer

Start = Callable[..., ShellPty]


def test_plain_session_delivers_message_intact(
    start_shell: Start, server: BackgroundServer
) -> None:
    sh = start_shell("--connect", f"127.0.0.1:{server.port}")
    sh.expect(r"220 smtpshell\.local")
    sh.expect(r"127\.0\.0\.1:\d+ plain>")
    converse(
        sh,
        [
            ("EHLO localhost", r"250 HELP"),
            ("mail from:<me@example.test>", r"250 OK"),
            ("rcpt to:<you@example.test>", r"250 OK"),
            ("data", r"354 .*\n.*plain data>"),
            ("Subject: hello", r"data>"),
            ("", r"data>"),
            (".starts with a dot", r"data>"),
            ("ünïcödé body", r"data>"),
            (".", r"250 OK: stored as .*\n.*plain>"),
            ("QUIT", r"221"),
        ],
    )
    sh.expect("connection closed by the server")
    sh.expect("smtpshell>")
    assert "\x1b[1;32m250" in sh.raw  # reply codes coloured by class
    assert sh.close() == 0
    assert stored_messages(server) == [
        "Subject: hello\r\n\r\n.starts with a dot\r\nünïcödé body\r\n".encode()
    ]
    assert "Traceback" not in sh.screen


def test_starttls_typed_mid_session_then_auth_login_by_hand(
    start_shell: Start, server: BackgroundServer, data_home: Path
) -> None:
    user64, password64 = b64encode_text(USER), b64encode_text(PASSWORD)
    sh = start_shell("--connect", f"127.0.0.1:{server.port}", "--cafile", str(server.ca_file))
    sh.expect("plain>")
    converse(
        sh,
        [
            ("EHLO localhost", r"250-STARTTLS"),
            ("STARTTLS", r"220 .*\n.*TLS established: TLSv1\.3.*certificate verified"),
            ("EHLO localhost", r"250-AUTH .*PLAIN"),
            ("AUTH LOGIN", r"334 VXNlcm5hbWU6\s+\(Username:\)\n.*tls auth>"),
            (user64, r"334 UGFzc3dvcmQ6\s+\(Password:\)"),
            (password64, r"235 2\.7\.0"),
            ("tls", r"SHA-256\s+([0-9A-F]{2}:){31}[0-9A-F]{2}"),
            ("QUIT", "221"),
        ],
    )
    assert sh.close() == 0
    # Neither the screen nor the history ever showed the credentials.
    for secret in (user64, password64, PASSWORD):
        assert secret not in sh.raw
        assert secret not in history_text(data_home)
    assert "AUTH LOGIN" in history_text(data_home)
    assert (data_home / "smtpshell" / "history").stat().st_mode & 0o777 == 0o600


def test_auth_plain_initial_response_masked_and_kept_out_of_history(
    start_shell: Start, server: BackgroundServer, data_home: Path
) -> None:
    from smtpshell.protocol.auth import plain_response

    response = plain_response(USER, PASSWORD)
    sh = start_shell("--connect", f"127.0.0.1:{server.port}", "--starttls",
                     "--cafile", str(server.ca_file))  # fmt: skip
    sh.expect(r"tls>")
    converse(sh, [("EHLO me", "250 HELP"), (f"AUTH PLAIN {response}", "235")])
    assert sh.close() == 0
    assert response not in sh.raw
    assert response not in history_text(data_home)
    assert "AUTH PLAIN ****" in sh.screen


def test_implicit_tls_with_cafile(start_shell: Start, server: BackgroundServer) -> None:
    sh = start_shell("--connect", f"127.0.0.1:{server.tls_port}", "--tls",
                     "--cafile", str(server.ca_file))  # fmt: skip
    sh.expect(r"TLS established: TLSv1\.3")
    sh.expect(r"220 smtpshell\.local")
    sh.expect(r"tls>")
    converse(sh, [("EHLO me", "250-AUTH"), ("QUIT", "221")])
    assert sh.close() == 0


def test_self_signed_certificate_is_one_clear_line(start_shell: Start, tmp_path: Path) -> None:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hi\r\n")
        await reader.read()

    with ScriptedServer(greet, self_signed_context(tmp_path)) as scripted:
        sh = start_shell("--connect", f"127.0.0.1:{scripted.port}", "--tls")
        sh.expect(r"TLS certificate verification failed for 127\.0\.0\.1: "
                  r"the certificate is self-signed \(.*--cafile.*--insecure\)")  # fmt: skip
        assert sh.wait_exit() == 1
    assert "Traceback" not in sh.screen


def test_server_closing_while_user_types(start_shell: Start, server: BackgroundServer) -> None:
    async def impatient(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hi\r\n")
        await writer.drain()
        await asyncio.sleep(1.0)
        writer.write(b"421 4.4.2 too slow, bye\r\n")
        await writer.drain()

    with ScriptedServer(impatient) as scripted:
        sh = start_shell("--connect", f"127.0.0.1:{scripted.port}")
        sh.expect("plain>")
        sh.keys("MAIL FROM:<half typed")  # not yet sent when the server hangs up
        sh.expect(r"\(unsolicited\)\n421 4\.4\.2 too slow, bye")
        sh.expect("connection closed by the server")
        sh.keys("@example.test>\r")
        sh.expect(r"error: not connected")
        # Still usable: connect somewhere else from inside.
        converse(
            sh,
            [
                (f"connect 127.0.0.1:{server.port}", r"220 smtpshell\.local"),
                ("NOOP", "250"),
            ],
        )
        assert sh.close() == 0
    assert "Traceback" not in sh.screen


def test_huge_and_endless_replies_leave_the_shell_usable(start_shell: Start) -> None:
    huge = answer_first_command(b"250 " + b"A" * 70000 + b"\r\n", repeat=False)
    endless = answer_first_command(b"250-more\r\n" * 200, repeat=True)
    with ScriptedServer(huge) as one, ScriptedServer(endless) as two:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{one.port}")
        converse(
            sh,
            [
                ("EHLO me", r"error: reply line longer than 8192 bytes; connection closed"),
                (f"connect 127.0.0.1:{two.port}", r"220 hostile"),
                ("EHLO me", r"error: reply longer than 32 KiB .*; connection closed"),
                ("?", r"connect HOST"),
            ],
        )
        assert sh.close() == 0
    assert "A" * 1000 not in sh.screen
    assert "Traceback" not in sh.screen


def test_injected_reply_after_starttls_is_discarded_and_warned(
    start_shell: Start, server: BackgroundServer
) -> None:
    from scripted_server import server_context

    from smtpshell.server.certs import ensure_certificates

    paths = ensure_certificates(server.ca_file.parent)
    context = server_context(paths.cert_file, paths.key_file)

    async def injector(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 injector\r\n")
        await writer.drain()
        await read_command(reader)
        writer.write(b"220 Ready to start TLS\r\n250 INJECTED-REPLY\r\n")
        await writer.drain()
        await writer.start_tls(context)
        await read_command(reader)
        writer.write(b"250 real reply after TLS\r\n")
        await writer.drain()
        await reader.read()

    with ScriptedServer(injector) as scripted:
        sh = start_shell("--connect", f"127.0.0.1:{scripted.port}", "--cafile", str(server.ca_file))
        converse(
            sh,
            [
                ("STARTTLS", r"warning: discarded 20 bytes .*injection"),
                ("NOOP", r"250 real reply after TLS"),
            ],
        )
        assert sh.close() == 0
    assert "INJECTED-REPLY" not in sh.screen


def test_starttls_flag_against_server_without_it(start_shell: Start) -> None:
    async def plain_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 plain\r\n")
        await read_command(reader)
        writer.write(b"250-plain.test\r\n250 8BITMIME\r\n")
        await reader.read()

    with ScriptedServer(plain_only) as scripted:
        sh = start_shell("--connect", f"127.0.0.1:{scripted.port}", "--starttls")
        sh.expect(r"the server does not offer STARTTLS; not continuing in plain text")
        assert sh.wait_exit() == 1


def test_ctrl_d_ends_data_and_long_line_warns(start_shell: Start, server: BackgroundServer) -> None:
    sh = start_shell("--connect", f"127.0.0.1:{server.port}")
    converse(
        sh,
        [
            ("HELO me", "250"),
            ("MAIL FROM:<a@example.test>", "250"),
            ("RCPT TO:<b@example.test>", "250"),
            ("DATA", "data>"),
            ("x" * 999, r"warning: this line is 999 octets"),
        ],
    )
    sh.keys("\x04")  # Ctrl-D on an empty line ends the message
    sh.expect(r"250 OK: stored")
    sh.expect(r"plain>")
    assert sh.close() == 0
    assert stored_messages(server) == [b"x" * 999 + b"\r\n"]


def test_pasted_message_in_data_mode(start_shell: Start, server: BackgroundServer) -> None:
    sh = start_shell("--connect", f"127.0.0.1:{server.port}")
    converse(
        sh,
        [
            ("EHLO me", "250 HELP"),
            ("MAIL FROM:<a@example.test>", "250"),
            ("RCPT TO:<b@example.test>", "250"),
            ("DATA", "data>"),
        ],
    )
    # A terminal's bracketed paste of several lines, the last one "." ending it.
    sh.keys("\x1b[200~Subject: pasted\r\n\r\n.dot\r\nlast line\r\n.\x1b[201~\r")
    sh.expect(r"250 OK: stored")
    assert sh.close() == 0
    assert stored_messages(server) == [b"Subject: pasted\r\n\r\n.dot\r\nlast line\r\n"]


def test_local_commands_unknown_verbs_and_completion(
    start_shell: Start, server: BackgroundServer
) -> None:
    sh = start_shell("--connect", f"127.0.0.1:{server.port}")
    sh.expect("plain>")
    converse(
        sh,
        [
            ("?", r"connect HOST\[:PORT\].*\n(.*\n)*.*exit"),
            ("HELP", r"250 Supported commands"),  # SMTP HELP goes to the server
            ("XYZZY plugh", r"500 "),  # unknown verbs are sent as typed
            ("\\tls", r"500 "),  # a backslash sends even a local command's name
            ("EHLO me", r"250 HELP"),
        ],
    )
    sh.keys("AUTH \t")  # no AUTH before TLS on this server: nothing to offer
    sh.keys("\x15")  # Ctrl-U clears the line
    sh.keys("STA\t")
    sh.expect(r"STARTTLS")
    sh.keys("\x15\r")
    assert sh.close() == 0


def test_history_persists_across_runs(start_shell: Start, server: BackgroundServer) -> None:
    first = start_shell("--connect", f"127.0.0.1:{server.port}")
    converse(first, [("NOOP first-run", "250")])
    assert first.close() == 0
    second = start_shell("--connect", f"127.0.0.1:{server.port}")
    second.expect("plain>")
    second.keys("\x1b[A")  # up arrow
    second.expect("NOOP first-run")
    second.keys("\r")
    second.expect("250")
    assert second.close() == 0


def test_no_color_turns_colour_off(start_shell: Start, server: BackgroundServer) -> None:
    sh = start_shell("--connect", f"127.0.0.1:{server.port}", env={"NO_COLOR": "1"})
    converse(sh, [("NOOP", "250")])
    assert sh.close() == 0
    assert "\x1b[1;32m" not in sh.raw and "\x1b[32m" not in sh.raw


def test_demo_starts_server_and_connects(start_shell: Start, data_home: Path) -> None:
    sh = start_shell("--demo")
    sh.expect(r"user 'demo', password 'demo'")
    sh.expect(r"plain>")
    converse(sh, [("EHLO localhost", "250-STARTTLS"), ("STARTTLS", r"certificate verified")])
    assert sh.close() == 0


def test_seed_walkthrough_over_implicit_tls(start_shell: Start, server: BackgroundServer) -> None:
    """Section 1 of the classic telnet walkthrough, typed as written there (lower case,
    helo, auth login with base64 lines), over SMTPS as `openssl s_client` would do it."""
    sh = start_shell("--connect", f"127.0.0.1:{server.tls_port}", "--tls",
                     "--cafile", str(server.ca_file))  # fmt: skip
    sh.expect("tls>")
    converse(
        sh,
        [
            ("helo localhost", r"250 "),
            ("auth login", r"334 VXNlcm5hbWU6"),
            (b64encode_text(USER), r"334 UGFzc3dvcmQ6"),
            (b64encode_text(PASSWORD), r"235 "),
            ("mail from:<yourname@example.test>", r"250 "),
            ("rcpt to:<friend@example.test>", r"250 "),
            ("data", r"354 "),
            ("Subject: subject", "data>"),
            ("from:<yourname@example.test>", "data>"),
            ("to:<friend@example.test>", "data>"),
            ("", "data>"),
            ("body", "data>"),
            (".", r"250 OK: stored"),
            ("Quit", r"221 "),
        ],
    )
    assert sh.close() == 0
    assert stored_messages(server) == [
        b"Subject: subject\r\nfrom:<yourname@example.test>\r\nto:<friend@example.test>\r\n"
        b"\r\nbody\r\n"
    ]


def test_control_characters_from_the_server_never_reach_the_terminal(start_shell: Start) -> None:
    async def sneaky(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Clear screen, OSC 52 clipboard write, a bell and invalid UTF-8.
        writer.write(b"220 hi\x1b[2J\x1b]52;c;ZXZpbA==\x07 \xff\xfe there\r\n")
        await writer.drain()
        await read_command(reader)
        writer.write(b"250 ok\r\n")
        await writer.drain()
        await reader.read()

    with ScriptedServer(sneaky) as scripted:
        sh = start_shell("--connect", f"127.0.0.1:{scripted.port}")
        sh.expect(r"220 hi\\x1b\[2J\\x1b\]52;c;ZXZpbA==\\x07 \\xff\\xfe there")
        converse(sh, [("NOOP", "250 ok")])
        assert sh.close() == 0
    assert "\x1b]52" not in sh.raw and "\x1b[2J" not in sh.raw


def test_ctrl_c_abandons_a_wait_and_typeahead_is_kept(start_shell: Start) -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 slow\r\n")
        await writer.drain()
        while True:
            command = await read_command(reader)
            await asyncio.sleep(1.0)
            writer.write(f"250 done {command}\r\n".encode())
            await writer.drain()

    with ScriptedServer(slow) as scripted:
        sh = start_shell("--connect", f"127.0.0.1:{scripted.port}")
        sh.expect("plain>")
        sh.type("NOOP first")
        sh.keys("\x03")  # Ctrl-C while waiting for the reply
        sh.expect(r"interrupted: the reply to NOOP will be shown when it comes\n")
        sh.expect(r"250 done NOOP first")  # the reply still shows when it comes
        sh.type("NOOP second")
        sh.keys("RSET ahead\r")  # typed before the reply to NOOP second
        sh.expect(r"250 done NOOP second")
        sh.expect(r"250 done RSET ahead")
        assert sh.close() == 0
    # Typed ahead, the line is not echoed by the terminal while waiting: it first shows
    # at the next prompt, after the reply it was typed ahead of.
    screen = sh.screen
    assert screen.index("250 done NOOP second") < screen.index("RSET ahead")
