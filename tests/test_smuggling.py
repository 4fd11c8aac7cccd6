"""SMTP smuggling guard (SEC Consult, Dec 2023; CVE-2023-51764 Postfix, -51765
sendmail, -51766 Exim): whatever end-of-data look-alike a body holds, the bytes on
the wire hold no bare CR or LF, and each end-of-data is one the client meant.

Every path a body takes is covered: streamed by the session (the sender's path),
piped into the shell, and replayed from a transcript.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest
from cli_runner import run_cli
from hostile_server import HostileServer, well_behaved
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.core.session import Session
from smtpshell.errors import CommandRejected
from smtpshell.protocol.endpoint import Endpoint

VARIANTS = [
    b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r.\n", b"\r\n.\n", b"\r\n.\r", b"\r\n\x00.\r\n",
    b"\r\n.\r\n",
]  # fmt: skip
END = b"\r\n.\r\n"


# A minimal receiver: 250 to everything, 354 to DATA, reads the body to '.'.
sink = functools.partial(well_behaved, name="sink")


def assert_clean_wire(wire: bytes, messages: int) -> None:
    """No bare CR or LF anywhere; exactly ``messages`` ends of data, each right
    after a DATA command's body."""
    assert wire.count(b"\r") == wire.count(b"\r\n"), wire
    assert wire.count(b"\n") == wire.count(b"\r\n"), wire
    assert wire.count(b"\x00") == 0, wire
    assert wire.count(b"\r\n.\r\n") == messages, wire
    for body in wire.split(b"DATA\r\n")[1 : messages + 1]:
        inside, end, _after = body.partition(b"\r\n.\r\n")
        assert end, body
        assert b"\r\n.\r\n" not in inside + b"\r\n"


def assert_typed_lines_only(wire: bytes, messages: int = 1) -> None:
    """For line-based input (piped, typed, replayed): a line holding only '.' is the
    user ending the message, as they meant; what may never reach the wire is a
    bare CR, a bare LF or a NUL inside a line."""
    assert wire.count(b"\r") == wire.count(b"\r\n"), wire
    assert wire.count(b"\n") == wire.count(b"\r\n"), wire
    assert b"\x00" not in wire, wire
    assert wire.count(b"DATA\r\n") <= messages, wire


async def _stream(port: int, body: bytes) -> None:
    session = Session(timeout=5)
    await session.connect(Endpoint("127.0.0.1", port))
    for line in ("EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>"):
        await session.send(line)
    assert (await session.send("DATA")).code == 354
    if b"\x00" in body:
        # NUL cannot be carried by DATA (RFC 6152): refused, and the connection
        # closed with the message unfinished, so no server stores part of it.
        with pytest.raises(CommandRejected):
            await session.send_message([body])
        assert not session.connected
        return
    assert (await session.send_message([body])).code == 250
    await session.send("QUIT")
    await session.close()


@pytest.mark.parametrize("variant", VARIANTS, ids=repr)
def test_streamed_body(variant: bytes) -> None:
    with HostileServer(sink) as server:
        asyncio.run(_stream(server.port, b"Subject: x\r\n\r\nbefore" + variant + b"after\r\n"))
        server.wait_finished()
    assert_clean_wire(server.clear, 0 if b"\x00" in variant else 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*VARIANTS, b".", b"\r", b"\n", b"x", b"\x00"]), max_size=12))
def test_streamed_body_any_mix(pieces: list[bytes]) -> None:
    with HostileServer(sink) as server:
        asyncio.run(_stream(server.port, b"".join(pieces)))
        server.wait_finished()
    wire = server.clear
    assert wire.count(b"\r") == wire.count(b"\r\n")
    assert wire.count(b"\n") == wire.count(b"\r\n")
    assert b"\x00" not in wire
    assert wire.count(END) == (0 if b"\x00" in b"".join(pieces) else 1)


@pytest.mark.parametrize("variant", VARIANTS, ids=repr)
def test_piped_body(variant: bytes) -> None:
    """Piped lines are typed lines: a line holding CR or NUL is refused (it could end
    the message on a lax server)."""
    body = ("before" + variant.decode() + "after").replace("\r\n", "\n")
    stdin = (
        "EHLO me\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\n"
        f"{body}\n.\nQUIT\n"
    )
    with HostileServer(sink) as server:
        run_cli("--connect", f"127.0.0.1:{server.port}", "--timeout", "5", stdin=stdin)
        server.wait_finished()
    assert_typed_lines_only(server.clear)


@pytest.mark.parametrize("variant", VARIANTS, ids=repr)
def test_replayed_body(variant: bytes, tmp_path: Path) -> None:
    """A transcript's body lines cannot smuggle an end of data either: a CR or NUL
    inside one is refused before anything is sent, or sent as plain text."""
    body = "before" + variant.decode() + "after"
    transcript = tmp_path / "smuggle.smtp"
    lines = ["220", "> EHLO me", "250", "> MAIL FROM:<a@example.test>", "250",
             "> RCPT TO:<b@example.test>", "250", "> DATA", "354"]  # fmt: skip
    lines += [f"> {line}" for line in body.split("\n")] + ["> .", "250", "> QUIT", "221"]
    transcript.write_bytes("\n".join(lines).encode() + b"\n")
    with HostileServer(sink) as server:
        run_cli("replay", str(transcript), "--connect", f"127.0.0.1:{server.port}")
    assert_typed_lines_only(server.clear)
