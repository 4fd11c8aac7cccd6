"""The recorder against what a hostile server sends: every reply is written, nothing
it sends reaches the file raw, and the recording is private to its owner."""

from __future__ import annotations

import base64
import datetime
import stat
from pathlib import Path

import pytest
from hostile_strings import HOSTILE, leaked

from smtpshell.core.events import Closed, Connected, Event, Notice, Received, Sent, TlsStarted
from smtpshell.core.tls import CertificateInfo, TlsInfo
from smtpshell.protocol.endpoint import Endpoint, TlsMode
from smtpshell.protocol.reply import Reply
from smtpshell.replay.recorder import TranscriptRecorder, open_recording
from smtpshell.transcript import parse_transcript

ENDPOINT = Endpoint("127.0.0.1", 4650)


def _tls(subject: str) -> TlsInfo:
    moment = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    certificate = CertificateInfo(subject, subject, (f"DNS:{subject}",), moment, moment, "AB")
    return TlsInfo(f"TLSv1.3{subject}", f"AES{subject}", 256, True, certificate)


def _hostile_session(hostile: str) -> list[Event]:
    """One session in which every piece of server-chosen text carries ``hostile``."""
    challenge = base64.b64encode(hostile.encode("utf-8", "surrogateescape")).decode()
    return [
        Connected(ENDPOINT, TlsMode.IMPLICIT, "127.0.0.1:4650", _tls(hostile)),
        Received(Reply(220, (f"mx {hostile} ESMTP",)), None),
        Sent("EHLO me"),
        Received(Reply(250, (f"mx {hostile}", hostile)), "EHLO"),
        Sent("AUTH LOGIN"),
        Received(Reply(334, (challenge,)), "AUTH"),
        Sent("", secret=True),
        Received(Reply(235, (hostile,)), "<auth response>"),
        TlsStarted(_tls(hostile)),
        Notice(f"discarded {hostile}", "warning"),
        Closed(f"connection lost: {hostile}", by_peer=True),
    ]


def _record(path: Path, events: list[Event]) -> str:
    with open_recording(path) as stream:
        recorder = TranscriptRecorder(stream)
        for event in events:
            recorder(event)
        recorder.close()
    return path.read_text(encoding="utf-8", errors="surrogateescape")


@pytest.mark.parametrize("name", list(HOSTILE))
def test_recording_keeps_server_text_inert_and_still_parses(name: str, tmp_path: Path) -> None:
    """A recording is a file people `cat` and review: the certificate subject in the
    header comment (any text a CA signed), notices, close reasons, the decoded 334
    challenge and the reply lines themselves carry no terminal escape, bidi control
    (CVE-2021-42574) or line break, and the file still parses as a transcript."""
    hostile = HOSTILE[name]
    text = _record(tmp_path / "session.smtp", _hostile_session(hostile))
    assert leaked(text) == []
    transcript = parse_transcript(text, "session.smtp")
    assert [step.text for step in transcript.steps[:2]] == ["EHLO me", "AUTH LOGIN"]
    assert transcript.steps[2].template == "${AUTH_RESPONSE}"
    assert transcript.steps[2].secret


def test_a_reply_line_with_a_bare_cr_is_recorded(tmp_path: Path) -> None:
    """RFC 5321 2.3.8: CR belongs only before LF, but a server may send a bare one.
    The recorder is an event listener: raising there would kill the connection, so
    the line is written escaped, as a note (notes are not matched)."""
    path = tmp_path / "cr.smtp"
    text = _record(
        path,
        [
            Sent("NOOP"),
            Received(Reply(250, ("ok\rfake: all good",)), "NOOP"),
            Sent("QUIT"),
            Received(Reply(221, ("bye",)), "QUIT"),
        ],
    )
    assert "\r" not in text
    assert "250 ok\\x0dfake: all good\n" in text
    transcript = parse_transcript(text, "cr.smtp")
    noop = transcript.steps[0]
    assert noop.expect is not None and noop.expect.raw == ("250 ok\\x0dfake: all good",)
    assert noop.expect.check(250, ["ok\rfake: all good"]) is None


def test_recordings_are_created_readable_by_their_owner_only(tmp_path: Path) -> None:
    """A recording holds addresses and message text (never credentials): like a
    shell history, it is created mode 0600 whatever the umask allows."""
    path = tmp_path / "private.smtp"
    with open_recording(path) as stream:
        stream.write("# x\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
