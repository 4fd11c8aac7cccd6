"""Header fields a user hands us (``--subject``, ``--header 'Name: value'``): checked.

A CR or LF in a value would end the field and start another one of the user's (or an
attacker's) choosing: header injection, CVE-2024-6923 in the email package itself.
We refuse them, and every other control character but TAB, before the email package
sees the value, whatever its version.
"""

from __future__ import annotations

import re

from smtpshell.errors import MessageRefused
from smtpshell.protocol.endpoint import find_control
from smtpshell.protocol.inert import inert

# RFC 5322 2.2 / 3.6.8: ftext is any printable US-ASCII character but the colon.
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
# C1 controls (U+0085 NEL among them) and the Unicode line and paragraph separators.
_OTHER_BREAKS = re.compile("[\x80-\x9f\u2028\u2029]")


def check_header_name(name: str) -> None:
    """Refuse a field name that is not RFC 5322 ftext (spaces, colons, controls, UTF-8)."""
    if not _FIELD_NAME.fullmatch(name):
        raise MessageRefused(
            f"{inert(name)!r} is not a header field name "
            "(printable ASCII without spaces or colons, RFC 5322 3.6.8)"
        )


def check_header_value(name: str, value: str) -> None:
    """Refuse a value holding CR, LF or another control character (C1 included, and
    U+2028/U+2029: Python's str.splitlines ends lines there, and the email package
    refuses them with a ValueError), or one that is not text (lone surrogates from
    bytes that were not UTF-8)."""
    control = find_control(value, allow_tab=True) or _find_line_break(value)
    if control is not None:
        raise MessageRefused(
            f"the {inert(name)} header would hold a control character ({inert(control)}): "
            "CR or LF there would start another header field (header injection)"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MessageRefused(f"the {inert(name)} header is not valid UTF-8 text") from exc


def _find_line_break(value: str) -> str | None:
    found = _OTHER_BREAKS.search(value)
    return found.group() if found else None


def parse_header_option(text: str) -> tuple[str, str]:
    """``"Name: value"`` as ``("Name", "value")``, both checked."""
    name, colon, value = text.partition(":")
    if not colon:
        raise MessageRefused(f"--header {inert(text)!r}: expected 'Name: value'")
    check_header_name(name)
    value = value.strip(" \t")
    check_header_value(name, value)
    return name, value
