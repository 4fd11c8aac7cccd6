"""Rewriting expected replies: what is kept and what takes the server's text."""

from __future__ import annotations

from smtpshell.protocol.reply import Reply
from smtpshell.transcript import parse_transcript
from smtpshell.transcript.update import update_replies


def _update(text: str, *replies: Reply) -> str:
    """Update with the replies given for the greeting (if written), then each step."""
    transcript = parse_transcript(text)
    expected = [transcript.greeting] if transcript.greeting else []
    expected += [step.expect for step in transcript.steps if step.expect is not None]
    assert len(expected) == len(replies)
    return update_replies(text, [(e, r) for e, r in zip(expected, replies, strict=True) if e])


def test_a_reply_that_still_matches_its_patterns_and_codes_is_left_alone() -> None:
    text = "2xx # any\n> EHLO me\n250-~ PIPE*\n250 = 8bitmime\n> NOOP\n250\n"
    same = _update(
        text,
        Reply(220, ("other greeting",)),
        Reply(250, ("mx", "PIPELINING", "8BITMIME")),
        Reply(250, ("changed text",)),
    )
    assert same == text


def test_a_code_that_no_longer_matches_takes_the_new_code_and_text() -> None:
    text = "> RCPT TO:<a@example.test> # the recipient\n250 # accepted\n> NOOP\n2xx\n"
    updated = _update(text, Reply(550, ("5.1.1 unknown",)), Reply(554, ("no",)))
    assert updated == (
        "> RCPT TO:<a@example.test> # the recipient\n550 5.1.1 unknown # accepted\n> NOOP\n554 no\n"
    )


def test_a_longer_reply_keeps_its_comments_and_escapes_what_would_read_specially() -> None:
    text = "> EHLO me\n250-mx.test\n# what we rely on\n250 SIZE 10\n> QUIT\n221\n"
    updated = _update(
        text,
        Reply(250, ("mx.test", "~ not a pattern", "queued #1", "SIZE 20")),
        Reply(221, ()),
    )
    assert updated == (
        "> EHLO me\n# what we rely on\n250-mx.test\n250-\\~ not a pattern\n"
        "250-queued \\#1\n250 SIZE 20\n> QUIT\n221\n"
    )
    # What was written reads back as the reply that came.
    again = parse_transcript(updated).steps[0].expect
    assert again is not None
    assert again.check(250, ["mx.test", "~ not a pattern", "queued #1", "SIZE 20"]) is None
    assert again.raw[1:3] == ("250-~ not a pattern", "250-queued #1")


def test_control_characters_from_the_server_are_written_inert() -> None:
    updated = _update("> NOOP\n250 ok\n", Reply(250, ("ok\x1b[2J\u202e",)))
    assert "\x1b" not in updated and "\u202e" not in updated
    assert updated.startswith("> NOOP\n250 ok\\x1b[2J")
