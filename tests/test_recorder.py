"""The transcript recorder: what it writes, and that it keeps up with a long message."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from smtpshell.core.events import Closed, Connected, Received, Sent
from smtpshell.protocol.endpoint import Endpoint, TlsMode
from smtpshell.protocol.reply import Reply
from smtpshell.replay.recorder import TranscriptRecorder, open_recording
from smtpshell.transcript import TranscriptWriter, parse_transcript

MESSAGE_LINES = 100_000
# The whole message is a fraction of a second's work; recording that re-renders
# the transcript on every line needs minutes, so this deadline only catches that.
DEADLINE_SECONDS = 20.0


def _body_line(index: int) -> str:
    return f"line {index} of a long message, with a # and a ${{NOT_A_VAR}}"


def test_recording_a_long_message_keeps_up_and_writes_every_line(tmp_path: Path) -> None:
    path = tmp_path / "long.smtp"
    deadline = time.monotonic() + DEADLINE_SECONDS
    with open_recording(path) as stream:
        recorder = TranscriptRecorder(stream)
        recorder(Sent("DATA"))
        recorder(Received(Reply(354, ("go ahead",)), "DATA"))
        for index in range(MESSAGE_LINES):
            recorder(Sent(_body_line(index), in_data=True))
            if index % 1000 == 0:
                assert time.monotonic() < deadline, f"only {index} lines recorded in time"
        recorder(Sent(".", end_of_data=True))
        recorder.close()
    assert time.monotonic() < deadline

    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0].startswith("# recorded by smtpshell ")
    assert lines[1:3] == ["> DATA", "354 go ahead"]
    assert lines[3] == "> line 0 of a long message, with a \\# and a \\${NOT_A_VAR}"
    assert lines[-3] == "> line 99999 of a long message, with a \\# and a \\${NOT_A_VAR}"
    assert lines[-2:] == ["> .", ""]
    assert len(lines) == 1 + 2 + MESSAGE_LINES + 1 + 1
    body = [step.text for step in parse_transcript("\n".join(lines)).steps[1:-1]]
    assert body == [_body_line(index) for index in range(MESSAGE_LINES)]


def test_each_event_is_on_disk_once_the_recorder_returns(tmp_path: Path) -> None:
    """Flushed as it happens: a crash loses nothing already shown on the screen."""
    path = tmp_path / "live.smtp"
    endpoint = Endpoint("127.0.0.1", 2525)
    events = [
        Connected(endpoint, TlsMode.STARTTLS, "127.0.0.1:2525", None),
        Received(Reply(220, ("mx ESMTP",)), None),
        Sent("EHLO me"),
        Received(Reply(250, ("mx", "PIPELINING")), "EHLO"),
        Sent("AUTH PLAIN", secret=True),
        Received(Reply(235, ("ok",)), "AUTH"),
        Sent("DATA"),
        Received(Reply(354, ("go ahead",)), "DATA"),
        Sent("#1 and ${X}", in_data=True),
        Sent(".", end_of_data=True),
        Closed("connection closed by the server", by_peer=True),
    ]
    seen: list[str] = []  # the file after the header and after each event
    with open_recording(path) as stream:
        recorder = TranscriptRecorder(stream)
        seen.append(path.read_text(encoding="utf-8"))
        for event in events:
            recorder(event)
            seen.append(path.read_text(encoding="utf-8"))
        recorder.close()
    final = path.read_text(encoding="utf-8")
    assert seen[0].startswith("# recorded by smtpshell ") and seen[0].count("\n") == 1
    for earlier, later in itertools.pairwise([*seen, final]):
        assert later.startswith(earlier)
    grown = [later[len(earlier) :] for earlier, later in itertools.pairwise(seen)]
    assert grown[:3] == [
        "# server: 127.0.0.1:2525 (127.0.0.1:2525)\n> smtpshell --connect 127.0.0.1:2525\n",
        "220 mx ESMTP\n",
        "> EHLO me\n",
    ]
    assert grown[4] == (
        "> AUTH PLAIN ${plain:AUTH_USER:AUTH_PASSWORD} # not recorded: replay with "
        "--var AUTH_USER=<user name> --var AUTH_PASSWORD=<password> "
        "(${plain:AUTHZID:AUTH_USER:AUTH_PASSWORD} adds an authzid)\n"
    )
    assert grown[8:] == ["> \\#1 and \\${X}\n", "> .\n", "# connection closed by the server\n"]
    assert final == seen[-1] + "# replay needs: --var AUTH_USER=... --var AUTH_PASSWORD=...\n"


def test_the_writer_hands_out_each_line_once() -> None:
    writer = TranscriptWriter()
    writer.header(["first", "second"])
    assert writer.take() == "# first\n# second\n"
    assert writer.take() == ""
    writer.client("quit  ", comment="spaces kept")
    writer.server("221 bye")
    assert writer.take() == "# spaces kept\n> quit  \n221 bye\n"
    assert writer.text() == "# first\n# second\n# spaces kept\n> quit  \n221 bye\n"


def test_a_command_sent_while_replies_are_owed_is_recorded_in_its_group(
    tmp_path: Path,
) -> None:
    # Pipelining: DATA went out after MAIL's reply came but before RCPT's. In a
    # transcript a group's commands come first, then its replies in order.
    path = tmp_path / "t.smtp"
    with path.open("w", encoding="utf-8") as stream:
        recorder = TranscriptRecorder(stream)
        events = [
            Connected(Endpoint("127.0.0.1", 25), TlsMode.PLAIN, "127.0.0.1:25", None),
            Received(Reply(220, ("hi",)), "GREETING"),
            Sent("MAIL FROM:<a@example.com>"),
            Sent("RCPT TO:<b@example.com>"),
            Received(Reply(250, ("2.1.0 Ok",)), "MAIL"),
            Sent("DATA"),
            Received(Reply(250, ("2.1.5 Ok",)), "RCPT"),
            Received(Reply(354, ("go on",)), "DATA"),
            Sent("hello", in_data=True),
            Sent(".", end_of_data=True),
            Received(Reply(250, ("queued",)), "."),
            Closed("connection closed", by_peer=True),
        ]
        for event in events:
            recorder(event)
        recorder.close()
    text = path.read_text(encoding="utf-8")
    assert "> DATA\n250 2.1.0 Ok\n250 2.1.5 Ok\n354 go on\n" in text
    assert "> RCPT TO:<b@example.com>\n> DATA\n" in text
    parse_transcript(text, str(path))  # the format's own reader takes it
