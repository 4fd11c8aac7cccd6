"""Latency in the shell, checked by order rather than by time: a typed command goes
out as Enter accepts it, before the prompt is left; a pasted block is pipelined when
the server offers PIPELINING (RFC 2920), and only then.

The order is read from a log the shell keeps of its writes, replies and prompts
(tests/shell_probe.py), and from what the server had read before it answered.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

from hostile_server import HostileServer, Peer, well_behaved
from pty_shell import ShellPty, converse

PROBE = str(Path(__file__).with_name("shell_probe.py"))
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


def _start_probed(start_shell: Callable[..., ShellPty], log: Path, port: int) -> ShellPty:
    program = [sys.executable, PROBE, str(log), "--connect", f"127.0.0.1:{port}"]
    return start_shell(program=program)


def _log(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines()


def _pipelining(peer: Peer) -> object:
    return well_behaved(peer, extensions=["PIPELINING"])


def test_a_typed_command_is_written_before_the_prompt_is_left(
    start_shell: Callable[..., ShellPty], tmp_path: Path
) -> None:
    """prompt_toolkit takes milliseconds to draw the accepted line and leave; the
    command need not wait for that. Lines that need more than sending (a local
    command, AUTH with its credential) keep the usual path, after the prompt."""
    log = tmp_path / "order.log"
    with HostileServer(_pipelining) as server:  # type: ignore[arg-type]
        sh = _start_probed(start_shell, log, server.port)
        sh.expect(r"plain>")
        converse(sh, [("EHLO me", r"250 PIPELINING"), ("NOOP", r"250 ok")])
        converse(sh, [("b64 me", r"bWU="), ("AUTH PLAIN AGJvYgBzM2NyM3Q=", r"250 ok")])
        sh.type("QUIT")
        sh.expect(r"221 bye")
        assert sh.close() == 0
    # Writes and prompts left, in order (replies may come before the prompt is left).
    order = [entry for entry in _log(log) if not entry.startswith("reply")]
    assert order[: order.index("wrote QUIT") + 2] == [
        "wrote EHLO me",
        "left the prompt",
        "wrote NOOP",
        "left the prompt",
        "left the prompt",  # b64 runs here
        "left the prompt",  # AUTH with a credential: sent after the prompt, as before
        "wrote AUTH PLAIN AGJvYgBzM2NyM3Q=",
        "wrote QUIT",
        "left the prompt",
    ], order


def test_data_sent_early_then_the_message_as_typed(
    start_shell: Callable[..., ShellPty], tmp_path: Path
) -> None:
    """DATA goes out at Enter; its 354 may come before the shell has left the
    prompt, and the lines after it are still message text, the "." its end."""
    log = tmp_path / "order.log"
    with HostileServer(_pipelining) as server:  # type: ignore[arg-type]
        sh = _start_probed(start_shell, log, server.port)
        sh.expect(r"plain>")
        converse(
            sh,
            [
                ("EHLO me", r"250 PIPELINING"),
                ("MAIL FROM:<a@example.test>", r"250 ok"),
                ("RCPT TO:<b@example.test>", r"250 ok"),
                ("DATA", r"354 go on"),
                ("Subject: early", r"plain data>"),
                ("QUIT", r"plain data>"),
                (".", r"250 queued"),
                ("QUIT", r"221 bye"),
            ],
        )
        assert sh.close() == 0
    assert server.clear.endswith(b"DATA\r\nSubject: early\r\nQUIT\r\n.\r\nQUIT\r\n"), server.clear
    order = [entry for entry in _log(log) if not entry.startswith("reply")]
    assert order[order.index("wrote DATA") + 1] == "left the prompt", order


def _records_first_answer(arrived: list[bytes]) -> Callable[[Peer], object]:
    """Greets, offers PIPELINING, and reads up to DATA before it answers anything:
    ``arrived`` gets what came before the first answer."""

    async def script(peer: Peer) -> None:
        await peer.send(b"220 pipe ESMTP\r\n")
        await peer.command()  # EHLO
        await peer.send(b"250-pipe\r\n250 PIPELINING\r\n")
        while not arrived or arrived[-1] != b"DATA\r\n":
            arrived.append(await peer.line())
        await peer.send(b"250 sender ok\r\n250 b ok\r\n550 no such user c\r\n354 go on\r\n")
        while await peer.line() != b".\r\n":
            pass
        await peer.send(b"250 queued\r\n")
        await well_behaved_after(peer)

    return script


async def well_behaved_after(peer: Peer) -> None:
    while True:
        verb = (await peer.command()).split(" ", 1)[0].upper()
        if verb == "QUIT":
            await peer.send(b"221 bye\r\n")
            return
        await peer.send(b"250 ok\r\n")


def test_a_paste_goes_out_as_one_group_when_the_server_offers_pipelining(
    start_shell: Callable[..., ShellPty], tmp_path: Path
) -> None:
    """MAIL, RCPT... DATA of a paste are one group (RFC 2920 3.1); each reply shows
    under its own line, a refused RCPT too; the message follows the 354 and nothing
    is pipelined after its end: NOOP waits for the reply to the "."."""
    log = tmp_path / "order.log"
    arrived: list[bytes] = []
    with HostileServer(_records_first_answer(arrived)) as server:  # type: ignore[arg-type]
        sh = _start_probed(start_shell, log, server.port)
        sh.expect(r"plain>")
        converse(sh, [("EHLO me", r"250 PIPELINING")])
        paste = [
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<b@example.test>",
            "RCPT TO:<c@example.test>",
            "DATA",
            "Subject: pasted",
            "",
            "body",
            ".",
            "NOOP",
            "",
        ]
        sh.keys(PASTE_START + "\n".join(paste) + PASTE_END)
        for expected in [
            r"250 sender ok",
            r"plain> RCPT TO:<b@example.test>",
            r"250 b ok",
            r"plain> RCPT TO:<c@example.test>",
            r"550 no such user c",
            r"plain> DATA",
            r"354 go on",
            r"plain data> Subject: pasted",
            r"plain data> \.",
            r"250 queued",
            r"plain> NOOP",
            r"250 ok",
        ]:
            sh.expect(expected)
        sh.type("QUIT")
        sh.expect(r"221 bye")
        assert sh.close() == 0
    assert arrived == [
        b"MAIL FROM:<a@example.test>\r\n",
        b"RCPT TO:<b@example.test>\r\n",
        b"RCPT TO:<c@example.test>\r\n",
        b"DATA\r\n",
    ]
    order = _log(log)
    group = order.index("wrote MAIL FROM:<a@example.test>")
    assert order[group : group + 5] == [
        "wrote MAIL FROM:<a@example.test>",
        "wrote RCPT TO:<b@example.test>",
        "wrote RCPT TO:<c@example.test>",
        "wrote DATA",
        "reply 250",
    ], order
    end = order.index("wrote .")
    assert order[end : end + 3] == ["wrote .", "reply 250", "wrote NOOP"], order


def test_without_pipelining_a_paste_waits_for_each_reply(
    start_shell: Callable[..., ShellPty], tmp_path: Path
) -> None:
    """A server that does not offer PIPELINING gets one command at a time."""
    log = tmp_path / "order.log"
    with HostileServer(well_behaved) as server:  # type: ignore[arg-type]
        sh = _start_probed(start_shell, log, server.port)
        sh.expect(r"plain>")
        converse(sh, [("EHLO me", r"250 hostile")])
        sh.keys(PASTE_START + "MAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nNOOP\n")
        sh.keys(PASTE_END)
        sh.expect(r"plain> NOOP")
        sh.expect(r"250 ok")
        sh.type("QUIT")
        sh.expect(r"221 bye")
        assert sh.close() == 0
    order = _log(log)
    start = order.index("wrote MAIL FROM:<a@example.test>")
    assert order[start : start + 6] == [
        "wrote MAIL FROM:<a@example.test>",
        "reply 250",
        "wrote RCPT TO:<b@example.test>",
        "reply 250",
        "wrote NOOP",
        "reply 250",
    ], order


def test_ctrl_c_during_a_group_shows_what_went_out_and_sends_no_more(
    start_shell: Callable[..., ShellPty],
) -> None:
    """The lines of a group are on the wire once it is sent: Ctrl-C while its replies
    are awaited shows each of them (their replies will come as late ones) and sends
    nothing after the group."""
    group_read = threading.Event()

    async def stall_after_mail(peer: Peer) -> None:
        await peer.send(b"220 pipe ESMTP\r\n")
        await peer.command()  # EHLO
        await peer.send(b"250-pipe\r\n250 PIPELINING\r\n")
        for _ in range(3):  # MAIL, RCPT, NOOP
            await peer.line()
        group_read.set()
        await peer.send(b"250 sender ok\r\n")
        await peer.drain_client()

    with HostileServer(stall_after_mail) as server:
        sh = start_shell("--connect", f"127.0.0.1:{server.port}")
        sh.expect(r"plain>")
        converse(sh, [("EHLO me", r"250 PIPELINING")])
        lines = ["MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "NOOP", "RSET", ""]
        sh.keys(PASTE_START + "\n".join(lines) + PASTE_END)
        assert group_read.wait(10)
        sh.expect(r"250 sender ok")
        sh.expect(r"plain> RCPT TO:<b@example.test>")
        sh.keys("\x03")
        sh.expect(r"plain> NOOP")
        sh.expect(r"interrupted: the reply to RCPT, NOOP will be shown when it comes")
        sh.expect(r"the other 1 pasted line\(s\) were not sent")
        sh.close()
    assert server.clear.endswith(b"RCPT TO:<b@example.test>\r\nNOOP\r\n"), server.clear
