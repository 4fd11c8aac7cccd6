"""Server lines of a transcript: reply patterns, expected replies and how they match.

Plain text after the code is a *note* and is never compared: greetings, queue ids
and host names differ from one server or run to the next. A line asks for a check
by starting its text with a marker:

``~ TEXT``   some reply line contains TEXT (``*`` and ``?`` are wildcards, any case)
``= TEXT``   a reply line is exactly TEXT (same wildcards, any case)
``/RE/``     a reply line matches the regular expression RE (RE2 syntax, searched)

Every pattern is matched in time linear in the reply (see :mod:`.engine`).

A note that really starts with a marker is written with a backslash before it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from smtpshell.errors import UsageError
from smtpshell.transcript.engine import UnusablePattern, compile_glob, compile_regex

PatternKind = Literal["any", "contains", "equals", "regex"]

# A code ("250") or a class ("2xx"), then a space, a '-' or the end of the line.
SERVER_LINE = re.compile(r"([0-9]{3}|[0-9][xX]{2})([ -]|$)")

# Leading white space, then one or more backslashes before a marker: an escaped note.
_ESCAPED_MARKER = re.compile(r"\s*\\+[~=/]")
_MARKERS: dict[str, PatternKind] = {"~": "contains", "=": "equals"}
_SHOW_LIMIT = 80


class PatternError(UsageError, ValueError):
    """Server lines that cannot be used: a bad pattern, or codes mixed in one reply."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class ReplyPattern:
    """One expected reply line's test; ``kind == "any"`` (a note) accepts every line."""

    kind: PatternKind
    text: str
    line: int = 0

    def matches(self, line_text: str) -> bool:
        """Test the text of one reply line (what follows the code and its separator)."""
        if self.kind == "any":
            return True
        compiled = compile_regex(self.text) if self.kind == "regex" else compile_glob(self.text)
        if self.kind == "equals":
            return compiled.fullmatch(line_text) is not None
        return compiled.search(line_text) is not None

    def __str__(self) -> str:
        if self.kind == "regex":
            return f"/{self.text}/"
        marker = {"contains": "~", "equals": "="}.get(self.kind)
        return f"{marker} {self.text}" if marker else self.text


def parse_reply_text(text: str, line: int = 0) -> tuple[str, ReplyPattern]:
    """Read the text after a server line's code: return (text as sent, its pattern).

    ``text`` has comments and ``\\#`` escapes already resolved. Raises
    :class:`PatternError` for a regular expression that does not compile.
    """
    if _ESCAPED_MARKER.match(text):
        stripped = text.lstrip()
        unescaped = text[: len(text) - len(stripped)] + stripped[1:]
        return unescaped, ReplyPattern("any", unescaped, line)
    stripped = text.strip()
    if stripped and stripped[0] in _MARKERS:
        glob = stripped[1:].strip()
        try:
            compile_glob(glob)
        except UnusablePattern as exc:
            raise PatternError(f"bad pattern {_show(stripped)}: {exc}", line) from None
        return text, ReplyPattern(_MARKERS[stripped[0]], glob, line)
    if stripped.startswith("/"):
        if len(stripped) < 2 or not stripped.endswith("/"):
            raise PatternError(
                f"the pattern {_show(stripped)} must end with '/' (a ' #' starts a comment: "
                "write \\# for a literal #; write \\/ at the start for a note)",
                line,
            )
        try:
            compile_regex(stripped[1:-1])
        except UnusablePattern as exc:
            raise PatternError(f"bad regular expression {_show(stripped)}: {exc}", line) from None
        return text, ReplyPattern("regex", stripped[1:-1], line)
    return text, ReplyPattern("any", text, line)


@dataclass(frozen=True)
class ServerLine:
    """One server line as read from a transcript."""

    line: int
    code: str
    final: bool  # no '-' after the code: the last line of its reply
    raw: str  # the line with its comment removed and escapes resolved
    pattern: ReplyPattern


def read_server_line(content: str, line: int = 0) -> ServerLine | None:
    """Read a server line (comment already removed); None if it is not one."""
    match = SERVER_LINE.match(content)
    if match is None:
        return None
    code, sep = match.group(1).lower(), match.group(2)
    text, pattern = parse_reply_text(content[match.end() :].replace("\\#", "#"), line)
    return ServerLine(line, code, sep != "-", f"{code}{sep}{text}", pattern)


def group_replies(lines: Sequence[ServerLine]) -> list[list[ServerLine]]:
    """Split consecutive server lines into replies; a reply ends at a line without '-'."""
    replies: list[list[ServerLine]] = []
    current: list[ServerLine] = []
    for entry in lines:
        if current and entry.code != current[0].code:
            raise PatternError(
                f"code {entry.code} continues the {current[0].code} reply of line "
                f"{current[0].line}; end a reply with a space (not '-') after its code",
                entry.line,
            )
        current.append(entry)
        if entry.final:
            replies.append(current)
            current = []
    if current:  # a reply written without its last line still counts
        replies.append(current)
    return replies


@dataclass(frozen=True)
class ExpectedReply:
    """The server lines written after a command (or the greeting).

    ``raw`` holds the lines as written, comments removed and escapes resolved;
    ``patterns`` only the lines that ask for a comparison (notes are left out).
    """

    line: int
    code: str
    raw: tuple[str, ...]
    patterns: tuple[ReplyPattern, ...] = ()

    def check(self, code: int, lines: Sequence[str]) -> str | None:
        """Compare an actual reply: None when it matches, else a one-line reason.

        ``lines`` are the texts of the reply's lines, after the code and separator.
        """
        if not code_matches(self.code, code):
            first = lines[0] if lines else ""
            if len(first) > _SHOW_LIMIT:
                first = first[:_SHOW_LIMIT] + "..."
            return f"expected {self.code}, got {code:03d} {first}".rstrip()
        return match_lines(self.patterns, lines)

    def failure(self, code: int, lines: Sequence[str]) -> tuple[int, str] | None:
        """Like :meth:`check`, with the transcript line that failed: the reply's
        first line for its code, else the pattern's own line (named once, there)."""
        if not code_matches(self.code, code):
            return self.line, self.check(code, lines) or ""
        reason = match_lines(self.patterns, lines, where=False)
        if reason is None:
            return None
        failing = _first_failing(self.patterns, lines)
        return (failing.line or self.line) if failing else self.line, reason

    @classmethod
    def from_lines(cls, lines: Sequence[ServerLine]) -> ExpectedReply:
        """The expectation one reply's server lines (from :func:`group_replies`) set."""
        return cls(
            line=lines[0].line,
            code=lines[0].code,
            raw=tuple(entry.raw for entry in lines),
            patterns=tuple(entry.pattern for entry in lines if entry.pattern.kind != "any"),
        )


def code_matches(expected: str, actual: int) -> bool:
    """``"250"`` matches 250 only; a class such as ``"2xx"`` matches any 2yz code."""
    actual_text = f"{actual:03d}"
    if expected.endswith("xx"):
        return actual_text[:1] == expected[:1]
    return actual_text == expected


def match_lines(
    patterns: Sequence[ReplyPattern], lines: Sequence[str], where: bool = True
) -> str | None:
    """Check patterns against reply lines in order; None if all match, else a reason
    (naming the pattern's transcript line unless ``where`` is False).

    Each pattern must match a line after the one the previous pattern matched, so an
    expectation may name a few of the lines of a long EHLO reply. Taking the earliest
    match for each pattern is enough: it never rules out a later pattern.
    """
    position = 0
    for pattern in patterns:
        for index in range(position, len(lines)):
            if pattern.matches(lines[index]):
                position = index + 1
                break
        else:
            which = "later line" if position else "line"
            at = f" (line {pattern.line})" if pattern.line and where else ""
            return f"no {which} of the reply matches {_show(str(pattern))}{at}"
    return None


def _first_failing(patterns: Sequence[ReplyPattern], lines: Sequence[str]) -> ReplyPattern | None:
    """The pattern :func:`match_lines` fails at, or None."""
    position = 0
    for pattern in patterns:
        index = next((i for i in range(position, len(lines)) if pattern.matches(lines[i])), None)
        if index is None:
            return pattern
        position = index + 1
    return None


def _show(text: str) -> str:
    return repr(text if len(text) <= _SHOW_LIMIT else text[:_SHOW_LIMIT] + "...")
