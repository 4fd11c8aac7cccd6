"""Strings a hostile server (or DNS answer, or certificate) sends to act on whoever
reads them. Every output path of smtpshell is tested with the same list."""

from __future__ import annotations

HOSTILE = {
    "clear screen (ESC [2J)": "\x1b[2J\x1b[H",
    "OSC 52 clipboard write": "\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "window title (OSC 0)": "\x1b]0;owned\x07",
    "BEL": "\x07",
    "NUL": "\x00",
    "VT": "\x0b",
    "bare CR (overwrite the line)": "\rfake: all good",
    "C1 CSI (0x9b)": "\x9b2J",
    "bidi override U+202E": "\u202egnp.exe",
    "bidi isolate U+2066": "\u2066x\u2069",
    "line separator U+2028": "a\u2028b",
    "lone surrogate": "\udcff",
}

# Characters none of them may leave raw on any sink.
FORBIDDEN = ["\x1b", "\x07", "\x00", "\x0b", "\r", "\x9b", "\u202e", "\u2066", "\u2028", "\udcff"]


def leaked(text: str) -> list[str]:
    """The forbidden characters still present in ``text``."""
    return [repr(char) for char in FORBIDDEN if char in text]
