"""`smtpshell send` against hostile servers: what they say stays inert on every sink,
what they do out of turn never makes a message go where it should not, and every
way they fail ends in a documented exit status, never a traceback or a hang."""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest
from cli_runner import run_cli
from hostile_server import HostileServer, Peer

from smtpshell.send.outcome import SendStatus

PASSWORD = "pässwörd-s3cret"
HOSTILE_TEXT = "\x1b[2J\x1b]52;c;aGk=\x07\u202egnp.exe\x00 \x9b31m"


def send(port: int, *args: str, stdin: str = "hi\n", **env: str) -> tuple[str, str, int]:
    return run_cli(
        "send", "--server", f"127.0.0.1:{port}", "--timeout", "3", "--from", "a@example.com",
        "--to", "b@example.com", *args, stdin=stdin, environ={"NO_COLOR": "1", **env},
    )  # fmt: skip


async def greet(peer: Peer, extensions: Sequence[str] = ()) -> None:
    await peer.send(b"220 test ESMTP\r\n")
    assert (await peer.command()).startswith("EHLO ")
    lines = ["test", *extensions]
    reply = "".join(f"250-{line}\r\n" for line in lines[:-1]) + f"250 {lines[-1]}\r\n"
    await peer.send(reply.encode())


def assert_inert(text: str) -> None:
    for char in "\x1b\x07\x00\u202e\x9b\r":
        assert char not in text, (char, text)


async def answer_rest(peer: Peer) -> None:
    """Behave for the rest of the connection: take a message, 221 to QUIT, 250 else."""
    while True:
        command = await peer.command()
        if command == "DATA":
            await peer.send(b"354 go on\r\n")
            while await peer.line() != b".\r\n":
                pass
            await peer.send(b"250 queued\r\n")
        elif command == "QUIT":
            await peer.send(b"221 bye\r\n")
            return
        else:
            await peer.send(b"250 ok\r\n")


async def pipelined_group(peer: Peer, replies: bytes) -> None:
    """Greet with PIPELINING, take MAIL, RCPT and DATA, answer them with ``replies``."""
    await greet(peer, ["PIPELINING"])
    for _ in range(3):
        await peer.command()
    await peer.send(replies)


def parsed_json(out: str) -> dict[str, object]:
    document = json.loads(out)
    assert isinstance(document, dict)
    return document


def failure_of(out: str) -> dict[str, object]:
    deliveries = parsed_json(out)["deliveries"]
    assert isinstance(deliveries, list)
    failure = deliveries[0]["failure"]
    assert isinstance(failure, dict)
    return failure


# -- what a server says ----------------------------------------------------------


@pytest.mark.parametrize("output", ["summary", "-v", "--json"])
def test_escapes_bidi_cr_and_nul_in_replies_stay_inert(output: str) -> None:
    async def script(peer: Peer) -> None:
        text = f"5.1.1 {HOSTILE_TEXT}\r\n550-x\r{HOSTILE_TEXT}\r\n550 {HOSTILE_TEXT}\r\n"
        await pipelined_group(peer, f"250 ok\r\n550-{text}354 go\r\n".encode())
        await peer.line()  # the "." alone: no recipient took the message
        await peer.send(b"250 ok\r\n")
        await answer_rest(peer)

    with HostileServer(script) as server:
        out, err, status = send(server.port, *([output] if output != "summary" else []))
    assert status == SendStatus.RCPT
    assert_inert(err)
    assert "refused b@example.com" in err or output == "--json"
    if output == "--json":
        document = parsed_json(out)  # valid JSON; the escapes are JSON's own
        assert document["status"] == SendStatus.RCPT
        assert_inert(out)
        assert "\\u001b[2J" in out and "\\u202e" in out
    else:
        assert "\\x1b[2J" in err and "\\u202e" in err


def test_an_enormous_reply_is_a_lost_connection_reported_in_json() -> None:
    async def script(peer: Peer) -> None:
        await pipelined_group(peer, b"".join(b"250-" + b"y" * 100 + b"\r\n" for _ in range(2000)))
        await peer.drain_client()

    with HostileServer(script) as server:
        out, err, status = send(server.port, "--json")
    # Before: the reply's ProtocolError escaped the transaction: exit 1, no document.
    assert status == SendStatus.CONNECTION, err
    assert parsed_json(out)["outcome"] == "connection"
    assert "32 KiB" in str(failure_of(out)["reason"])


def test_a_reply_that_never_ends_is_a_time_out() -> None:
    async def script(peer: Peer) -> None:
        await pipelined_group(peer, b"250 ok\r\n250-still")
        await peer.drain_client()

    with HostileServer(script) as server:
        _, err, status = send(server.port, "--timeout", "1")
    assert status == SendStatus.CONNECTION
    assert "not sent to b@example.com" in err and "within 1 s" in err


# -- replies out of step -----------------------------------------------------------


async def answers_data_before_rcpt(peer: Peer) -> None:
    await pipelined_group(peer, b"250 ok\r\n354 go on\r\n250 recipient ok\r\n")
    await peer.drain_client()


async def answers_data_with_250(peer: Peer) -> None:
    await pipelined_group(peer, b"250 ok\r\n250 ok\r\n250 data ok\r\n")
    await peer.drain_client()


async def asks_for_auth_during_mail(peer: Peer) -> None:
    await greet(peer, ["SIZE 100000"])  # no PIPELINING: MAIL waits for its reply
    await peer.command()
    await peer.send(b"334 VXNlcm5hbWU6\r\n")
    await peer.drain_client()


@pytest.mark.parametrize(
    ("script", "culprit", "last_sent"),
    [
        (answers_data_before_rcpt, "RCPT TO with 354", b"DATA"),
        (answers_data_with_250, "DATA with 250", b"DATA"),
        (asks_for_auth_during_mail, "MAIL FROM with 334", b"MAIL FROM:<a@example.com> SIZE="),
    ],
)
def test_a_reply_out_of_step_closes_without_sending_the_message(
    script: Callable[[Peer], Awaitable[None]], culprit: str, last_sent: bytes
) -> None:
    with HostileServer(script) as server:
        out, err, status = send(server.port, "--json")
        server.wait_finished()
    # Before: a 354 to RCPT was "every recipient refused" (24), a 250 to DATA "DATA
    # refused" (25), and a 334 to MAIL taken as a yes (the message went on).
    assert status == SendStatus.CONNECTION, err
    assert culprit in str(failure_of(out)["reason"])
    # Nothing after the command answered out of step: no message text, no ".", no QUIT.
    last_line = server.clear.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1]
    assert last_line.startswith(last_sent), server.clear


def test_a_354_to_the_end_of_data_is_not_taken_for_a_delivery() -> None:
    async def script(peer: Peer) -> None:
        await pipelined_group(peer, b"250 ok\r\n250 ok\r\n354 go on\r\n")
        while await peer.line() != b".\r\n":
            pass
        await peer.send(b"354 again\r\n250 queued\r\n")
        await peer.drain_client()

    with HostileServer(script) as server:
        _, err, status = send(server.port)
    assert status == SendStatus.CONNECTION, err
    assert "not sent to b@example.com" in err and "sent to b@example.com via" not in err.replace(
        "not sent to", ""
    )


def test_an_extra_354_before_the_message_is_shown_and_ignored() -> None:
    async def script(peer: Peer) -> None:
        await pipelined_group(peer, b"250 ok\r\n250 ok\r\n354 go on\r\n354 nobody asked\r\n")
        await answer_rest_of_data(peer)

    with HostileServer(script) as server:
        _, err, status = send(server.port, "-v")
    assert status == SendStatus.OK, err
    assert "354 nobody asked" in err


async def answer_rest_of_data(peer: Peer) -> None:
    while await peer.line() != b".\r\n":
        pass
    await peer.send(b"250 queued\r\n")
    await answer_rest(peer)


# -- what a server does ------------------------------------------------------------


@pytest.fixture
def large_file(tmp_path: Path) -> Path:
    """An attachment far larger than any socket buffer: it cannot all be written ahead."""
    path = tmp_path / "large.bin"
    with path.open("wb") as file:
        for _ in range(24):
            file.write(bytes(range(256)) * 4096)  # 1 MiB
    return path


def test_a_server_that_stops_reading_is_a_time_out_not_a_hang(large_file: Path) -> None:
    async def script(peer: Peer) -> None:
        await pipelined_group(peer, b"250 ok\r\n250 ok\r\n354 go on\r\n")
        peer.writer.transport.pause_reading()  # type: ignore[attr-defined]
        await peer.drain_client()  # returns when the test ends the connection

    started = time.monotonic()
    with HostileServer(script) as server:
        _, err, status = send(server.port, "--timeout", "1", "--attach", str(large_file))
        # Before: flow control waited for the server without a time-out, for ever.
        assert time.monotonic() - started < 15
    assert status == SendStatus.CONNECTION, err
    assert (
        "not sent to b@example.com" in err
        and "stopped reading the message (no room to send more for 1 s)" in err
    )


@pytest.mark.parametrize("how", ["reset", "close"])
def test_a_server_that_leaves_mid_data_gets_exit_3_and_no_sent(how: str, large_file: Path) -> None:
    async def script(peer: Peer) -> None:
        await pipelined_group(peer, b"250 ok\r\n250 ok\r\n354 go on\r\n")
        await peer.reader.readexactly(100_000)
        if how == "reset":
            peer.reset()
        else:
            peer.writer.close()

    with HostileServer(script) as server:
        out, err, status = send(server.port, "--json", "--attach", str(large_file))
    assert status == SendStatus.CONNECTION, err
    document = parsed_json(out)
    assert document["outcome"] == "connection"
    recipients = document["deliveries"][0]["recipients"]  # type: ignore[index]
    assert recipients[0]["accepted"] is False


def test_a_size_limit_below_the_message_sends_no_mail() -> None:
    async def script(peer: Peer) -> None:
        await greet(peer, ["PIPELINING", "SIZE 100"])
        await answer_rest(peer)

    with HostileServer(script) as server:
        _, err, status = send(server.port, "--body", "x" * 200)
        server.wait_finished()
    assert status == SendStatus.MAIL
    assert "takes at most 100" in err
    assert b"MAIL" not in server.clear and server.clear.endswith(b"QUIT\r\n")


# -- TLS and AUTH: nothing in clear ------------------------------------------------


async def offers_no_starttls(peer: Peer) -> None:
    await greet(peer, ["PIPELINING", "AUTH PLAIN LOGIN"])
    await answer_rest(peer)


async def refuses_starttls(peer: Peer) -> None:
    await greet(peer, ["STARTTLS", "AUTH PLAIN LOGIN"])
    await peer.command()
    # Refused, with a pipelined reply injected after: neither may be acted upon.
    await peer.send(b"454 4.7.0 TLS not available\r\n250 ok\r\n")
    await answer_rest(peer)


@pytest.mark.parametrize("script", [offers_no_starttls, refuses_starttls])
def test_starttls_stripped_or_refused_sends_nothing_in_clear(
    script: Callable[[Peer], Awaitable[None]],
) -> None:
    with HostileServer(script) as server:
        out, err, status = send(
            server.port, "--starttls", "--user", "u", "--json", SMTPSHELL_PASSWORD=PASSWORD
        )
        server.wait_finished()
    assert status == SendStatus.TLS, err
    assert failure_of(out)["stage"] == "starttls"
    for verb in (b"AUTH", b"MAIL", b"RCPT", b"DATA"):
        assert verb not in server.clear
    assert PASSWORD not in out + err


def _non_loopback_address() -> str | None:
    """One of this machine's own addresses that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # chooses a route and source; sends nothing
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def test_plain_and_login_never_go_in_clear_off_loopback() -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    with HostileServer(offers_no_starttls, host=address) as server:
        _, err, status = run_cli(
            "send", "--server", f"{address}:{server.port}", "--from", "a@example.com",
            "--to", "b@example.com", "--user", "u", "--body", "hi",
            environ={"NO_COLOR": "1", "SMTPSHELL_PASSWORD": PASSWORD},
        )  # fmt: skip
        server.wait_finished()
    assert status == SendStatus.AUTH
    assert "over plain text" in err
    assert b"AUTH" not in server.clear and b"MAIL" not in server.clear


def test_plain_over_loopback_is_allowed() -> None:
    async def script(peer: Peer) -> None:
        await greet(peer, ["AUTH PLAIN"])
        assert (await peer.command()).startswith("AUTH PLAIN ")
        await peer.send(b"235 ok\r\n")
        await answer_rest(peer)

    with HostileServer(script) as server:
        _, err, status = send(server.port, "--user", "u", SMTPSHELL_PASSWORD=PASSWORD)
    assert status == SendStatus.OK, err


def test_an_attachment_changed_during_the_transaction_is_not_sent(tmp_path: Path) -> None:
    attachment = tmp_path / "report.txt"
    attachment.write_text("the version checked")

    async def script(peer: Peer) -> None:
        await greet(peer, ["PIPELINING"])
        for _ in range(3):
            await peer.command()
        attachment.write_text("another version, longer than the one measured")
        await peer.send(b"250 ok\r\n250 ok\r\n354 go on\r\n")
        await peer.drain_client()

    with HostileServer(script) as server:
        out, err, status = send(server.port, "--json", "--attach", str(attachment))
        server.wait_finished()
    # Before: MessageChanged escaped the transaction: an error line and no document.
    assert status == SendStatus.FAILURE, err
    failure = failure_of(out)
    assert failure["stage"] == "local" and "changed" in str(failure["reason"])
    # Closed without the "." that would have made the server take a partial message.
    assert server.clear.endswith(b"DATA\r\n")


# -- every documented exit status ------------------------------------------------


async def greets_554(peer: Peer) -> None:
    await peer.send(b"554 5.3.2 not now, not ever\r\n")
    await peer.drain_client()


async def greets_421(peer: Peer) -> None:
    await peer.send(b"421 4.3.2 busy\r\n")
    await peer.drain_client()


async def refuses_ehlo_and_helo(peer: Peer) -> None:
    await peer.send(b"220 old ESMTP\r\n")
    await peer.command()
    await peer.send(b"502 5.5.1 what is EHLO\r\n")
    assert (await peer.command()).startswith("HELO ")
    await peer.send(b"550 5.7.1 not you\r\n")
    await answer_rest(peer)


async def refuses_data(peer: Peer) -> None:
    await pipelined_group(peer, b"250 ok\r\n250 ok\r\n554 5.5.1 no valid recipients\r\n")
    await answer_rest(peer)


async def refuses_the_message(peer: Peer) -> None:
    await pipelined_group(peer, b"250 ok\r\n250 ok\r\n354 go on\r\n")
    await answer_rest_of_data_with(peer, b"554 5.7.1 spam\r\n")


async def defers_the_message(peer: Peer) -> None:
    await pipelined_group(peer, b"250 ok\r\n250 ok\r\n354 go on\r\n")
    await answer_rest_of_data_with(peer, b"451 4.3.0 try later\r\n")


async def answer_rest_of_data_with(peer: Peer, reply: bytes) -> None:
    while await peer.line() != b".\r\n":
        pass
    await peer.send(reply)
    await answer_rest(peer)


@pytest.mark.parametrize(
    ("script", "expected", "stage"),
    [
        (greets_554, SendStatus.GREETING, "greeting"),
        (greets_421, SendStatus.TEMPORARY, "greeting"),
        (refuses_ehlo_and_helo, SendStatus.HELO, "helo"),
        (refuses_data, SendStatus.DATA, "data"),
        (refuses_the_message, SendStatus.MESSAGE, "message"),
        (defers_the_message, SendStatus.TEMPORARY, "message"),
    ],
)
def test_each_refusal_has_its_documented_status(
    script: Callable[[Peer], Awaitable[None]], expected: SendStatus, stage: str
) -> None:
    with HostileServer(script) as server:
        out, err, status = send(server.port, "--json")
    assert status == expected, err
    document = parsed_json(out)
    assert document["status"] == expected and failure_of(out)["stage"] == stage


def test_no_server_reached_is_exit_3() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: connection refused
        _, err, status = send(port)
    assert status == SendStatus.CONNECTION
    assert "not sent to b@example.com" in err


@pytest.mark.parametrize(
    ("replies", "stage"),
    [(b"421 4.7.0 too busy\r\n", "mail"), (b"250 ok\r\n421 4.7.0 too busy\r\n", "rcpt")],
)
def test_a_421_that_closes_a_pipelined_group_is_temporary(replies: bytes, stage: str) -> None:
    async def script(peer: Peer) -> None:
        await pipelined_group(peer, replies)
        peer.half_close()  # and closes, as RFC 5321 3.8 lets it after a 421
        await peer.drain_client()

    with HostileServer(script) as server:
        out, err, status = send(server.port, "--json")
    # Before: the replies the 421 left unanswered failed as "connection closed by
    # the server" (3), and the 421 itself was not reported.
    assert status == SendStatus.TEMPORARY, err
    failure = failure_of(out)
    assert failure["stage"] == stage and failure["temporary"] is True
    assert "421 4.7.0 too busy" in str(failure["reason"])


def test_quiet_still_says_what_failed_and_nothing_else() -> None:
    async def script(peer: Peer) -> None:
        await greet(peer, ["PIPELINING"])
        for _ in range(4):
            await peer.command()
        await peer.send(b"250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go on\r\n")
        await answer_rest_of_data(peer)

    with HostileServer(script) as server:
        out, err, status = run_cli(
            "send", "--server", f"127.0.0.1:{server.port}", "--from", "a@example.com",
            "--to", "b@example.com", "--to", "c@example.com", "--body", "hi", "-q",
        )  # fmt: skip
    # Before: -q ("nothing but errors") printed nothing at all, refusals included.
    assert status == SendStatus.PARTIAL
    assert out == "" and err == (
        f"refused c@example.com via 127.0.0.1:{server.port}: 550 5.1.1 no such user\n"
    )
