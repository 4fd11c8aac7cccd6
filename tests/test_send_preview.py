"""What `send --dry-run` prints: the envelope and the message, nothing that acts on a terminal."""

from __future__ import annotations

import io

from smtpshell.protocol.inert import is_inert
from smtpshell.send.compose import ComposeRequest, compose
from smtpshell.send.preview import envelope_lines, message_lines, preview_lines
from smtpshell.send.raw import read_raw


def test_the_envelope_shows_sender_recipients_and_parameters() -> None:
    message = compose(
        ComposeRequest(sender="me@example.com", to=["a@example.com"], bcc=["用户@example.cn"])
    )
    assert envelope_lines(message) == [
        f"MAIL FROM:<me@example.com> SIZE={message.size} SMTPUTF8",
        "RCPT TO:<a@example.com>",
        "RCPT TO:<用户@example.cn>",
    ]


def test_the_message_follows_line_by_line_after_an_empty_line() -> None:
    data = b"From: me@example.com\r\nTo: a@example.com\r\n\r\nhello\r\n.\r\n"
    with read_raw(io.BytesIO(data)) as message:
        lines = list(preview_lines(message))
    assert lines == [
        f"MAIL FROM:<me@example.com> SIZE={len(data)}",
        "RCPT TO:<a@example.com>",
        "",
        "From: me@example.com",
        "To: a@example.com",
        "",
        "hello",
        ".",
    ]


def test_escapes_bidi_and_bytes_that_are_not_utf8_are_shown_inert() -> None:
    data = (
        b"From: me@example.com\nTo: a@example.com\n\n"
        b"\x1b[2Jclear screen\n\xe2\x80\xaereversed\n\xff\xfe not UTF-8\ncaf\xc3\xa9\n"
    )
    with read_raw(io.BytesIO(data)) as message:
        lines = list(message_lines(message))
        assert message.needs_8bitmime
    assert all(is_inert(line) for line in lines)
    assert lines[3:] == [
        "\\x1b[2Jclear screen",
        "\\u202ereversed",
        "\\udcff\\udcfe not UTF-8",
        "café",
    ]


def test_lines_split_across_chunks_come_out_whole() -> None:
    body = b"".join(b"line %d\n" % number for number in range(40_000))
    with read_raw(io.BytesIO(b"To: a@example.com\n\n" + body), sender="") as message:
        assert len(list(message.chunks())) > 2
        lines = list(message_lines(message))
        assert envelope_lines(message)[0].startswith("MAIL FROM:<> ")
    assert lines[2:] == [f"line {number}" for number in range(40_000)]
