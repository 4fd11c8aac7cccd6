"""The sender's transaction against scripted servers: what goes on the wire, in how
many round trips, and what each refusal becomes (outcome, exit status)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence

import pytest
from hostile_server import HostileServer, Peer, TestCA

from smtpshell.core.options import ConnectOptions
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.send.message import OutgoingMessage
from smtpshell.send.outcome import SendStatus, exit_status
from smtpshell.send.raw import read_raw
from smtpshell.send.routing import ViaServer, deliver
from smtpshell.send.transaction import Credentials, Delivery, Policy, Stage

TEXT = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


def message(text: bytes = TEXT, to: Sequence[str] = ("b@example.com",)) -> OutgoingMessage:
    return read_raw(io.BytesIO(text), to=list(to), sender="a@example.com")


def send(
    port: int,
    mail: OutgoingMessage,
    policy: Policy | None = None,
    mode: TlsMode | None = None,
    cafile: object = None,
) -> list[Delivery]:
    """Deliver ``mail`` through the server on ``port``, then close it."""
    options = ConnectOptions(host="127.0.0.1", port=port, mode=mode, timeout=5, cafile=cafile)  # type: ignore[arg-type]
    with mail:
        return asyncio.run(deliver(mail, mail.recipients, ViaServer(options), policy or Policy()))


async def greet(peer: Peer, extensions: Sequence[str]) -> None:
    await peer.send(b"220 test ESMTP\r\n")
    assert (await peer.command()).startswith("EHLO ")
    lines = ["test", *extensions]
    reply = "".join(f"250-{line}\r\n" for line in lines[:-1]) + f"250 {lines[-1]}\r\n"
    await peer.send(reply.encode())


async def take_message(peer: Peer) -> bytes:
    body = bytearray()
    while (line := await peer.line()) != b".\r\n":
        body += line
    return bytes(body)


async def finish(peer: Peer) -> None:
    assert await peer.command() == "QUIT"
    await peer.send(b"221 bye\r\n")


def test_pipelining_sends_mail_every_rcpt_and_data_before_any_reply() -> None:
    seen: list[str] = []

    async def script(peer: Peer) -> None:
        await greet(peer, ["PIPELINING", "SIZE 100000"])
        # Nothing is answered until all four lines are in: a client that waited for
        # the reply to MAIL would never send the rest, and time out.
        seen.extend([await peer.command() for _ in range(4)])
        await peer.send(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go on\r\n")
        seen.append((await take_message(peer)).decode())
        await peer.send(b"250 2.0.0 Ok: queued as ABC123\r\n")
        await finish(peer)

    mail = message(to=["b@example.com", "c@example.com"])
    text = b"".join(mail.chunks())
    with HostileServer(script) as server:
        deliveries = send(server.port, mail)
        server.wait_finished()
    assert seen[:4] == [
        f"MAIL FROM:<a@example.com> SIZE={len(text)}",
        "RCPT TO:<b@example.com>",
        "RCPT TO:<c@example.com>",
        "DATA",
    ]
    assert seen[4].encode() == text
    assert deliveries[0].delivered == ["b@example.com", "c@example.com"]
    assert deliveries[0].queue_id == "ABC123"
    assert exit_status(deliveries) is SendStatus.OK


def test_without_pipelining_a_refused_mail_ends_the_transaction() -> None:
    after_refusal: list[str] = []

    async def script(peer: Peer) -> None:
        await greet(peer, ["SIZE 100000"])
        assert (await peer.command()).startswith("MAIL FROM:")
        await peer.send(b"550 5.7.1 sender refused\r\n")
        # A client that pipelined without PIPELINING would have sent RCPT already.
        after_refusal.append(await peer.command())
        await peer.send(b"221 bye\r\n")

    with HostileServer(script) as server:
        deliveries = send(server.port, message())
        server.wait_finished()
    assert after_refusal == ["QUIT"]
    failure = deliveries[0].failure
    assert failure is not None and failure.stage is Stage.MAIL
    assert exit_status(deliveries) is SendStatus.MAIL


@pytest.mark.parametrize("pipelining", [True, False])
def test_one_refused_recipient_is_a_partial_delivery(pipelining: bool) -> None:
    async def script(peer: Peer) -> None:
        await greet(peer, ["PIPELINING"] if pipelining else ["8BITMIME"])
        while True:
            command = await peer.command()
            if command == "RCPT TO:<c@example.com>":
                await peer.send(b"550 5.1.1 no such user\r\n")
            elif command == "DATA":
                await peer.send(b"354 go on\r\n")
                await take_message(peer)
                await peer.send(b"250 ok\r\n")
            elif command == "QUIT":
                await peer.send(b"221 bye\r\n")
                return
            else:
                await peer.send(b"250 ok\r\n")

    with HostileServer(script) as server:
        deliveries = send(server.port, message(to=["b@example.com", "c@example.com"]))
        server.wait_finished()
    assert deliveries[0].delivered == ["b@example.com"]
    refused = deliveries[0].recipients[1]
    assert refused.reply is not None and refused.reply.code == 550
    assert exit_status(deliveries) is SendStatus.PARTIAL


def test_every_recipient_refused_sends_no_text_even_when_data_gets_354() -> None:
    got: list[bytes] = []

    async def script(peer: Peer) -> None:
        await greet(peer, ["PIPELINING"])
        for _ in range(3):
            await peer.command()
        # A lax server accepts DATA though it refused the only recipient.
        await peer.send(b"250 ok\r\n550 5.1.1 no such user\r\n354 go on\r\n")
        got.append(await take_message(peer))
        await peer.send(b"554 no valid recipients\r\n")
        await finish(peer)

    with HostileServer(script) as server:
        deliveries = send(server.port, message())
        server.wait_finished()
    assert got == [b""]  # RFC 2920 3.1: "." alone
    failure = deliveries[0].failure
    assert failure is not None and failure.stage is Stage.RCPT
    assert exit_status(deliveries) is SendStatus.RCPT


def test_a_temporary_refusal_is_exit_status_75() -> None:
    async def script(peer: Peer) -> None:
        await greet(peer, ["PIPELINING"])
        for _ in range(3):
            await peer.command()
        await peer.send(b"250 ok\r\n450 4.2.1 mailbox busy\r\n554 no valid recipients\r\n")
        await finish(peer)

    with HostileServer(script) as server:
        deliveries = send(server.port, message())
        server.wait_finished()
    assert exit_status(deliveries) is SendStatus.TEMPORARY


def test_a_message_larger_than_size_is_not_offered() -> None:
    commands: list[str] = []

    async def script(peer: Peer) -> None:
        await greet(peer, ["SIZE 10"])
        commands.append(await peer.command())
        await peer.send(b"221 bye\r\n")

    with HostileServer(script) as server:
        deliveries = send(server.port, message())
        server.wait_finished()
    assert commands == ["QUIT"]
    failure = deliveries[0].failure
    assert failure is not None and "at most 10" in failure.reason
    assert exit_status(deliveries) is SendStatus.MAIL


def test_a_utf8_address_needs_smtputf8() -> None:
    commands: list[str] = []

    async def script(peer: Peer) -> None:
        await greet(peer, ["8BITMIME"])
        commands.append(await peer.command())
        await peer.send(b"221 bye\r\n")

    mail = read_raw(io.BytesIO(TEXT), to=["用户@example.com"], sender="a@example.com")
    assert mail.needs_smtputf8
    with HostileServer(script) as server:
        deliveries = send(server.port, mail)
        server.wait_finished()
    assert commands == ["QUIT"]
    failure = deliveries[0].failure
    assert failure is not None and "SMTPUTF8" in failure.reason


def test_starttls_required_and_not_offered_sends_nothing_in_clear(tmp_path: object) -> None:
    async def script(peer: Peer) -> None:
        await greet(peer, ["PIPELINING", "AUTH PLAIN"])
        await peer.drain_client()

    with HostileServer(script) as server:
        deliveries = send(
            server.port,
            message(),
            Policy(credentials=Credentials("a", "s3cret-word")),
            mode=TlsMode.STARTTLS,
        )
        server.wait_finished()
        clear = server.clear
    assert b"s3cret" not in clear and b"MAIL" not in clear
    assert exit_status(deliveries) is SendStatus.TLS


def test_auth_plain_inside_tls_then_the_message(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    ca = TestCA(tmp_path)
    issued = ca.issue("localhost")
    logins: list[str] = []

    async def script(peer: Peer) -> None:
        await greet(peer, ["STARTTLS"])
        assert await peer.command() == "STARTTLS"
        await peer.send(b"220 go ahead\r\n")
        await peer.start_tls(issued.server_context())
        assert (await peer.command()).startswith("EHLO ")
        await peer.send(b"250-test\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n")
        logins.append(await peer.command())
        await peer.send(b"235 2.7.0 ok\r\n")
        for _ in range(3):
            await peer.command()
        await peer.send(b"250 ok\r\n250 ok\r\n354 go on\r\n")
        await take_message(peer)
        await peer.send(b"250 ok\r\n")
        await finish(peer)

    with HostileServer(script) as server:
        options = ConnectOptions(
            host="localhost", port=server.port, mode=TlsMode.STARTTLS, timeout=5, cafile=ca.ca_file
        )
        with message() as mail:
            deliveries = asyncio.run(
                deliver(
                    mail,
                    mail.recipients,
                    ViaServer(options),
                    Policy(credentials=Credentials("user", "pw")),
                )
            )
        server.wait_finished()
        clear = server.clear
    assert logins and logins[0].startswith("AUTH PLAIN ")
    assert b"AUTH" not in clear
    assert deliveries[0].tls is not None
    assert exit_status(deliveries) is SendStatus.OK
