"""Once TLS was asked for, nothing leaves in plain text: not a credential, not MAIL,
RCPT or DATA, whatever the server answers to STARTTLS.

The classes of Poddebniak et al., "Why TLS is better without STARTTLS" (USENIX
Security 2021) and curl CVE-2021-22947 / test980 (replies pipelined after a refused
STARTTLS), checked on the exact bytes the client wrote (``HostileServer.clear``),
through the session, a piped shell, ``--starttls`` and the shell in a terminal.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_server import HostileServer, Peer
from pty_shell import ShellPty, converse

from smtpshell.core.session import Session
from smtpshell.errors import NotConnected, TlsError
from smtpshell.protocol.auth import plain_response
from smtpshell.protocol.endpoint import Endpoint

CREDENTIAL = plain_response("alice", "wonderland")
ANSWERS = {
    "454": b"454 4.7.0 TLS not available due to local problem\r\n",
    "5xx": b"554 5.7.3 STARTTLS refused\r\n",
    "421": b"421 4.3.2 shutting down\r\n",
    "454 then 235": b"454 4.7.0 no TLS\r\n235 2.7.0 Authentication successful\r\n",
    "454 then 250": b"454 4.7.0 no TLS\r\n250 2.1.0 Ok\r\n",
    "454 then 354": b"454 4.7.0 no TLS\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
    "250 (not 220)": b"250 2.0.0 fine, no TLS though\r\n",
}
PLAIN_AFTER = (b"AUTH", b"MAIL", b"RCPT", b"DATA", CREDENTIAL.encode())


def refuse_with(answer: bytes, advertise: bool = True) -> Callable[[Peer], object]:
    async def script(peer: Peer) -> None:
        await peer.send(b"220 hostile ESMTP\r\n")
        while True:
            command = (await peer.command()).upper()
            if command.startswith("EHLO"):
                await peer.send(
                    b"250-hostile\r\n250 STARTTLS\r\n" if advertise else b"250 hostile\r\n"
                )
            elif command == "STARTTLS":
                await peer.send(answer)  # in one segment with whatever is pipelined
            else:
                await peer.send(b"250 ok\r\n")

    return script


def assert_nothing_after_starttls(wire: bytes) -> None:
    _before, starttls, after = wire.partition(b"STARTTLS\r\n")
    assert starttls, wire
    for word in PLAIN_AFTER:
        assert word not in after, (word, wire)


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
def test_session_sends_nothing_after_a_refused_starttls(answer: bytes) -> None:
    async def scenario(port: int) -> None:
        async with Session(timeout=5) as session:
            await session.connect(Endpoint("127.0.0.1", port))
            await session.send("EHLO me")
            with pytest.raises(TlsError):
                await session.send("STARTTLS")
            assert not session.connected
            with pytest.raises(NotConnected):
                await session.send(f"AUTH PLAIN {CREDENTIAL}")

    with HostileServer(refuse_with(answer)) as server:  # type: ignore[arg-type]
        asyncio.run(scenario(server.port))
    assert_nothing_after_starttls(server.clear)


def _piped(port: int, stdin: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpshell", "--connect", f"127.0.0.1:{port}", "--timeout", "5",
         *options],
        input=stdin, capture_output=True, text=True, timeout=30,
        env={**os.environ, "NO_COLOR": "1", "XDG_DATA_HOME": os.environ.get("TMPDIR", "/tmp")},
    )  # fmt: skip


PASTED = (
    f"EHLO me\nSTARTTLS\nAUTH PLAIN {CREDENTIAL}\nMAIL FROM:<a@example.test>\n"
    "RCPT TO:<b@example.test>\nDATA\nSubject: x\n\nbody\n.\nQUIT\n"
)


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
def test_piped_block_sends_nothing_after_a_refused_starttls(answer: bytes) -> None:
    """A pasted or piped block `STARTTLS` + `AUTH PLAIN ...`: the block stops. The
    status is swaks's 29 when STARTTLS got a 4xx or 5xx, else 1 (no TLS, no reply)."""
    with HostileServer(refuse_with(answer)) as server:  # type: ignore[arg-type]
        result = _piped(server.port, PASTED)
    assert result.returncode == (29 if answer[:1] in b"45" else 1)
    assert "Traceback" not in result.stderr
    assert_nothing_after_starttls(server.clear)


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
def test_starttls_option_sends_nothing_after_a_refusal(answer: bytes) -> None:
    stdin = f"AUTH PLAIN {CREDENTIAL}\nMAIL FROM:<a@example.test>\nQUIT\n"
    with HostileServer(refuse_with(answer)) as server:  # type: ignore[arg-type]
        result = _piped(server.port, stdin, "--starttls")
    assert result.returncode == 1
    assert_nothing_after_starttls(server.clear)


def test_starttls_not_advertised() -> None:
    """RFC 3207 4: a client that wants TLS and is not offered it does not go on."""
    stdin = f"AUTH PLAIN {CREDENTIAL}\nQUIT\n"
    with HostileServer(refuse_with(b"502 5.5.1 no\r\n", advertise=False)) as server:  # type: ignore[arg-type]
        result = _piped(server.port, stdin, "--starttls")
    assert result.returncode == 1
    assert "does not offer STARTTLS" in result.stdout + result.stderr
    assert server.clear == b"EHLO localhost\r\n"


def _stall_after_220(seen: threading.Event) -> Callable[[Peer], object]:
    async def script(peer: Peer) -> None:
        await peer.send(b"220 hostile ESMTP\r\n")
        await peer.command()  # EHLO
        await peer.send(b"250-hostile\r\n250 STARTTLS\r\n")
        await peer.command()  # STARTTLS
        await peer.send(b"220 go ahead\r\n")
        seen.set()
        await peer.stall_handshake()  # keeps every raw byte: the ClientHello and after

    return script


def test_ctrl_c_during_a_typed_starttls_handshake_closes(
    start_shell: Callable[..., ShellPty],
) -> None:
    """Interrupting the handshake must not leave a plain-text session behind: the
    next line typed (a credential) would go out on the raw socket."""
    seen = threading.Event()
    with HostileServer(_stall_after_220(seen)) as server:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{server.port}")
        sh.expect(r"plain>")
        converse(sh, [("EHLO me", r"250 STARTTLS")])
        sh.type("STARTTLS")
        assert seen.wait(10)
        sh.expect(r"220 go ahead")
        sh.keys("\x03")
        sh.expect(r"interrupted")
        sh.type(f"AUTH PLAIN {CREDENTIAL}")
        sh.expect(r"not connected")
        sh.close()
    clear = server.clear
    _before, _starttls, after = clear.partition(b"STARTTLS\r\n")
    assert b"AUTH" not in after and CREDENTIAL.encode() not in after


def test_a_stalled_starttls_handshake_times_out_in_one_line(data_home: Path) -> None:
    """No "Task exception was never retrieved" when the handshake never ends."""
    seen = threading.Event()
    with HostileServer(_stall_after_220(seen)) as server:  # type: ignore[arg-type]
        result = _piped(
            server.port, f"EHLO me\nSTARTTLS\nAUTH PLAIN {CREDENTIAL}\n", "--timeout", "1"
        )
    shown = result.stdout + result.stderr
    assert "never retrieved" not in shown and "Traceback" not in shown, shown
    assert result.returncode == 1
    _before, _starttls, after = server.clear.partition(b"STARTTLS\r\n")
    assert b"AUTH" not in after
