"""Secrets that must not leak: typed ahead, echoed into a pipe, sent in clear text,
mistyped, or typed as a local command while an AUTH challenge waits.

Each test runs the real program (in a pseudo-terminal, or with piped input) against
a real server on this machine, and checks what the server received byte for byte.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import shlex
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_runner import run_cli
from conftest import PASSWORD, USER, history_text
from hostile_server import HostileServer, Peer, TestCA
from pty_shell import ShellPty, converse

from smtpshell.protocol.auth import b64encode_text, plain_response
from smtpshell.server import BackgroundServer

Start = Callable[..., ShellPty]
TYPED_AHEAD = "hunter2"


def relay(context: ssl.SSLContext | None = None, auth_in_plain: bool = True) -> object:
    """A submission server: STARTTLS when it has a ``context``, AUTH PLAIN and LOGIN
    (in plain text too unless told not to) that accept anything, 250 to the rest."""

    async def script(peer: Peer) -> None:
        await peer.send(b"220 relay.test ESMTP\r\n")
        while True:
            line = await peer.command()
            verb = line.partition(" ")[0].upper()
            if verb == "EHLO":
                lines = ["relay.test"]
                if context is not None and not peer.tls:
                    lines.append("STARTTLS")
                if peer.tls or auth_in_plain:
                    lines.append("AUTH PLAIN LOGIN")
                reply = "".join(f"250-{text}\r\n" for text in lines[:-1])
                await peer.send(f"{reply}250 {lines[-1]}\r\n".encode())
            elif verb == "STARTTLS" and context is not None:
                await peer.send(b"220 go ahead\r\n")
                await peer.start_tls(context)
            elif verb == "AUTH":
                await _auth(peer, line)
            elif verb == "QUIT":
                await peer.send(b"221 bye\r\n")
                return
            else:
                await peer.send(b"250 ok\r\n")

    return script


async def _auth(peer: Peer, line: str) -> None:
    words = line.split()
    if len(words) >= 2 and words[1].upper() == "LOGIN":
        for challenge in (b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6"):  # Username:, Password:
            await peer.send(b"334 " + challenge + b"\r\n")
            if await peer.command() == "*":
                await peer.send(b"501 cancelled\r\n")
                return
    elif len(words) == 2:
        await peer.send(b"334 \r\n")
        await peer.command()
    await peer.send(b"235 2.7.0 ok\r\n")


def received(server: HostileServer) -> bytes:
    """Everything every client sent, in plain text and inside TLS."""
    return b"".join(bytes(peer.clear) + bytes(peer.secure) for peer in server.peers)


def test_a_password_typed_ahead_is_neither_sent_nor_stored(
    start_shell: Start, tmp_path: Path, data_home: Path
) -> None:
    """Keys typed before the shell asks for a secret are thrown away, as getpass
    does (TCSAFLUSH): they would otherwise be sent as a command, shown and kept in
    the history, or taken for the secret without its question on screen."""
    ca = TestCA(tmp_path)
    context = ca.issue("127.0.0.1", dns_names=(), ip_addresses=["127.0.0.1"]).server_context()
    with HostileServer(relay(context, auth_in_plain=False)) as hostile:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{hostile.port}", "--starttls",
                         "--cafile", str(ca.ca_file))  # fmt: skip
        sh.expect(r"tls>")
        sh.keys(f"login alice\r{TYPED_AHEAD}\r")
        sh.expect(r"discarded what was typed ahead")
        sh.expect(r"Password:")
        converse(sh, [(PASSWORD, r"authenticated as alice with PLAIN")])
        assert sh.close() == 0
    assert TYPED_AHEAD.encode() not in received(hostile)
    assert plain_response(USER, PASSWORD).encode() in received(hostile)
    assert TYPED_AHEAD not in sh.screen
    assert TYPED_AHEAD not in history_text(data_home)


def test_keys_typed_while_login_fails_before_asking_are_discarded(
    start_shell: Start, data_home: Path
) -> None:
    """`login` may stop before its question (here: no AUTH offered); what was typed
    ahead for the question is thrown away all the same, never sent as a command."""
    with HostileServer(relay(auth_in_plain=False)) as hostile:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{hostile.port}")
        converse(sh, [("EHLO me", r"250 relay\.test")])
        sh.keys(f"login alice\r{TYPED_AHEAD}\r")
        sh.expect(r"discarded what was typed ahead")
        sh.expect(r"error: the server does not offer AUTH")
        converse(sh, [("NOOP", r"250 ok")])
        assert sh.close() == 0
    assert TYPED_AHEAD.encode() not in received(hostile)
    assert TYPED_AHEAD not in history_text(data_home)


def test_with_stdout_in_a_pipe_the_shell_still_asks_on_the_terminal(
    start_shell: Start, server: BackgroundServer, data_home: Path
) -> None:
    """`smtpshell ... | tee log`: stdin is the terminal, so the shell is interactive
    and the password is asked with echo off; the prompt is drawn on the terminal
    (stderr), the conversation goes down the pipe."""
    command = shlex.join([sys.executable, "-m", "smtpshell", "--connect",
                          f"127.0.0.1:{server.tls_port}", "--tls", "--cafile",
                          str(server.ca_file)])  # fmt: skip
    sh = start_shell(program=["/bin/sh", "-c", f"{command} | cat"])
    # The greeting reaches the terminal through cat, the prompt straight from the
    # shell: either may be drawn first.
    sh.expect(r"220 smtpshell\.local[\s\S]*tls>|tls>[\s\S]*220 smtpshell\.local")
    converse(sh, [("EHLO me", r"250 HELP"), ("login alice", r"Password:")])
    sh.type(PASSWORD)
    sh.expect(r"authenticated as alice")
    assert sh.close() == 0
    assert PASSWORD not in sh.raw


def _non_loopback_address() -> str | None:
    """One of this machine's own addresses that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # chooses a route and source; sends nothing
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


@pytest.fixture
def remote_relay() -> HostileServer:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    return HostileServer(relay(), host=address)  # type: ignore[arg-type]


def test_login_asks_before_sending_a_password_in_clear_text_off_loopback(
    start_shell: Start, remote_relay: HostileServer
) -> None:
    """PLAIN and LOGIN carry the password as base64, readable by anyone on the path
    (RFC 4954 4, RFC 4616 2): off loopback and without TLS, `login` asks first."""
    with remote_relay as hostile:
        sh = start_shell("--connect", f"{hostile.host}:{hostile.port}")
        converse(sh, [("EHLO me", r"250 AUTH PLAIN LOGIN")])
        converse(sh, [("login alice", r"unencrypted.*\[y/N\]"), ("n", r"not sent")])
        assert b"AUTH" not in received(hostile)
        converse(
            sh,
            [
                ("login alice", r"\[y/N\]"),
                ("y", r"Password:"),
                (PASSWORD, r"authenticated as alice with PLAIN"),
                ("login --plaintext alice --mech login", r"Password:"),
                (PASSWORD, r"authenticated as alice with LOGIN"),
            ],
        )
        plaintext = sh.screen[sh.screen.rindex("login --plaintext") :]
        assert "[y/N]" not in plaintext  # --plaintext said yes beforehand
        # What is typed by hand is sent as typed: the user is exploring.
        typed = plain_response(USER, "typed-by-hand")
        converse(sh, [(f"AUTH PLAIN {typed}", r"235")])
        assert sh.close() == 0
    assert typed.encode() in received(hostile)


def test_piped_login_off_loopback_needs_plaintext(remote_relay: HostileServer) -> None:
    """With no one to ask, the answer is no; --plaintext says yes beforehand."""
    with remote_relay as hostile:
        target = f"{hostile.host}:{hostile.port}"
        _, err, status = run_cli("--connect", target, stdin="EHLO me\nlogin alice\nQUIT\n")
        assert status == 1
        assert re.search(r"error: not sent: .*unencrypted.*login --plaintext", err), err
        assert b"AUTH" not in received(hostile)
        out, err, status = run_cli(
            "--connect", target, stdin=f"EHLO me\nlogin --plaintext alice\n{PASSWORD}\nQUIT\n"
        )
        assert status == 0, err
        assert "authenticated as alice with PLAIN" in out
        assert PASSWORD not in out + err


def test_a_mistyped_local_command_is_refused_not_sent(start_shell: Start, data_home: Path) -> None:
    """`b46 secret` is one transposition from `b64`: refused here with a hint,
    masked while typed, kept out of the history; a backslash still sends it."""
    with HostileServer(relay()) as hostile:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{hostile.port}")
        converse(
            sh,
            [
                ("EHLO me", r"250 AUTH PLAIN LOGIN"),
                ("b46 s3cr3t", r"error: unknown command 'b46': did you mean `b64`\?"),
                ("TSL", r"did you mean `tls`\?"),
                ("conect 127.0.0.1", r"did you mean `connect`\?"),
                # SMTP verbs are never refused, however close to a local command.
                ("HELO me", r"250 ok"),
                ("\\b46 sent-anyway", r"250 ok"),
            ],
        )
        assert sh.close() == 0
    sent = received(hostile)
    assert b"s3cr3t" not in sent and b"TSL" not in sent and b"conect" not in sent
    assert b"b46 sent-anyway\r\n" in sent
    assert "s3cr3t" not in sh.screen and "b46 ******" in sh.screen
    assert "s3cr3t" not in history_text(data_home)


def test_b64_at_a_334_answers_the_challenge(
    start_shell: Start, server: BackgroundServer, data_home: Path
) -> None:
    """While AUTH waits for an answer, local commands still run: `b64 TEXT` sends
    the base64 of TEXT as the answer, and neither shows on screen."""
    sh = start_shell("--connect", f"127.0.0.1:{server.port}", "--starttls",
                     "--cafile", str(server.ca_file))  # fmt: skip
    sh.expect(r"tls>")
    converse(
        sh,
        [
            ("AUTH LOGIN", r"334 VXNlcm5hbWU6\s+\(Username:\)"),
            (f"b64 {USER}", r"334 UGFzc3dvcmQ6\s+\(Password:\)"),
            ("b64", r"Text to encode \(not shown\):"),
            (PASSWORD, r"235 2\.7\.0 Authentication successful"),
            ("tls", r"TLSv1\.3"),  # an ordinary local command, after the exchange
        ],
    )
    assert sh.close() == 0
    for secret in (PASSWORD, b64encode_text(PASSWORD), b64encode_text(USER)):
        assert secret not in sh.raw, secret
        assert secret not in history_text(data_home), secret
    assert f"b64 {USER}" not in sh.screen


def test_a_local_command_at_a_334_runs_here(server: BackgroundServer) -> None:
    """`caps` while AUTH waits is shown, not sent as the answer; the exchange is
    still waiting afterwards, and `b64` then answers it."""
    stdin = f"EHLO me\nSTARTTLS\nEHLO me\nAUTH LOGIN\ncaps\nb64 {USER}\nb64 {PASSWORD}\nQUIT\n"
    out, err, status = run_cli(
        "--connect", f"127.0.0.1:{server.port}", "--cafile", str(server.ca_file), stdin=stdin
    )
    assert status == 0, err
    assert re.search(r"334 VXNlcm5hbWU6.*\n(.*\n)*.*AUTH +CRAM-MD5 LOGIN PLAIN", out), out
    assert "235 2.7.0" in out
    assert base64.b64encode(PASSWORD.encode()).decode() not in out and PASSWORD not in out
