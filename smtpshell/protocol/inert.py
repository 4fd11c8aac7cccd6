"""Text that came from the network, made inert for the place it goes.

A server chooses its replies, its certificate's subject and issuer, the names in
its DNS answers, and a client chooses the addresses in MAIL FROM. None of it may
drive a terminal (``ESC [2J`` clears the screen, OSC 52 writes the clipboard, BEL
rings), reorder what a reader sees (bidi overrides, "Trojan Source",
CVE-2021-42574), forge a second line in a log, or make an XML report unreadable
(XML 1.0 forbids most C0 characters outright).

One rule for every sink: each character that is not plain printable text is shown
as a visible escape (``\\x1b``, ``\\u202e``), so the reader sees that it was there
and what it was. The terminal, the server's log, JUnit XML and the recorder's
comments all call :func:`inert`; the transcript format has escapes of its own for
the lines it replays.
"""

from __future__ import annotations

import re

# C0 controls but TAB, DEL and C1 controls (0x80-0x9f: 0x9b is a one-byte CSI);
# bidi embeddings, overrides, isolates and marks (Unicode TR 9); line and paragraph
# separators, which some terminals and viewers treat as new lines; lone surrogates
# (from undecodable bytes) and the noncharacters U+FFFE/U+FFFF, which XML forbids.
_NOT_INERT = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def inert(text: str) -> str:
    """``text`` with every character that could act on a reader shown as an escape.

    The one sanitiser for every sink: the terminal (rendered replies, certificate
    fields, error messages quoting the server), the embedded server's log, JUnit
    XML, and comments the recorder writes. A multi-line text goes through line by
    line, since CR and LF are escaped too: one event is one line.
    """
    return _NOT_INERT.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def is_inert(text: str) -> bool:
    """True when :func:`inert` would change nothing."""
    return _NOT_INERT.search(text) is None
