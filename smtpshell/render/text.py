"""Server text made safe for a terminal.

rich strips only a few control characters; ESC passes through, so a greeting could
clear the screen or write the clipboard (OSC 52). Every control character is shown
as a visible escape instead.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}"
