"""The transcript reader against text written to mislead whoever reviews it."""

from __future__ import annotations

import pytest

from smtpshell.transcript import TranscriptError, parse_transcript


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("> NOOP\r> MAIL FROM:<x@evil.test>\n250\n", id="client-line"),
        pytest.param("> NOOP # reviewed\r> MAIL FROM:<x@evil.test>\n250\n", id="after-comment"),
        pytest.param("# a note\r> MAIL FROM:<x@evil.test>\n", id="comment-line"),
        pytest.param("> NOOP\n250 ok\r> MAIL FROM:<x@evil.test>\n", id="server-line"),
    ],
)
def test_a_bare_cr_is_an_error_wherever_it_is(text: str) -> None:
    """A terminal returns to the start of the line at a CR, so what follows overwrites
    what came before: a comment or a trailing comment could hide a line from a
    reviewer (the same trick as Trojan Source, CVE-2021-42574). Only LF and CRLF
    end lines; a CR anywhere else is ``FILE:LINE:``."""
    with pytest.raises(TranscriptError) as info:
        parse_transcript("> telnet mx.example 25\n220\n" + text, "t.smtp")
    assert info.value.line in (3, 4)
    assert str(info.value).endswith(": a carriage return inside a line")


def test_starttls_with_an_argument_still_needs_its_reply_first() -> None:
    """RFC 3207 4.2: nothing may follow STARTTLS before its reply. The session upgrades
    on the verb (``STARTTLS x`` too), so the reader applies the rule to the verb:
    an AUTH pipelined behind it would otherwise go out in clear."""
    with pytest.raises(TranscriptError, match="write the reply to STARTTLS"):
        parse_transcript("> STARTTLS now\n> AUTH PLAIN ${AUTH_PLAIN}\n220\n235\n", "t.smtp")
