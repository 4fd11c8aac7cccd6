"""Rewriting a transcript's expected replies from the replies a server gave.

Like a snapshot test's update: every client line, comment, variable and directive
stays as written, and so does each expected reply that still says what came back.
Only the server lines of the replies that changed are rewritten:

- a pattern (``~``, ``=``, ``/.../``) that still matches its line is kept, and so
  is a code class (``2xx``) or a bare code (``250``, no text) that still matches;
- a note whose text differs becomes the text the server sent, its comment kept;
- a reply of another length is written as the server sent it, patterns that still
  match kept in order.

A reply that is written with patterns or bare codes and still matches is left alone:
someone chose what to check there.

Server text is made inert before it is written, as the recorder writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from smtpshell.protocol.inert import inert
from smtpshell.protocol.reply import Reply
from smtpshell.transcript.parse import strip_comment
from smtpshell.transcript.patterns import (
    SERVER_LINE,
    ExpectedReply,
    ServerLine,
    code_matches,
    read_server_line,
)
from smtpshell.transcript.write import escape_server


@dataclass(frozen=True)
class _Written:
    """One server line of the file: where it is and how it reads."""

    index: int  # in the file's lines, from 0
    text: str  # the file line as it is
    parsed: ServerLine
    comment: str  # the trailing comment with the white space before it, or ""


def update_replies(text: str, observed: Sequence[tuple[ExpectedReply, Reply]]) -> str:
    """``text`` with each observed expected reply rewritten to match its reply."""
    lines = text.split("\n")
    # From the last reply up, so the line numbers of those before stay right.
    for expected, reply in sorted(observed, key=lambda item: -item[0].line):
        written = _server_lines(lines, expected)
        replacement = _rewrite(written, reply) if written else None
        if replacement is None:
            continue
        first, last = written[0].index, written[-1].index
        kept = {w.index for w in written}
        # Whole-line comments between the reply's lines stay, before its new lines.
        between = [lines[i] for i in range(first, last + 1) if i not in kept]
        lines[first : last + 1] = [*between, *replacement]
    return "\n".join(lines)


def _server_lines(lines: list[str], expected: ExpectedReply) -> list[_Written]:
    """The file lines that hold ``expected``: it starts at its line, and its other
    lines follow, with only comments or blank lines between them."""
    found: list[_Written] = []
    index = expected.line - 1
    while len(found) < len(expected.raw) and index < len(lines):
        line = lines[index]
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#"):
            content = strip_comment(stripped)
            parsed = read_server_line(content, index + 1)
            if parsed is None:
                break
            comment = line[len(line) - len(stripped) + len(content) :]
            found.append(_Written(index, line, parsed, comment))
        index += 1
    return found


def _rewrite(written: list[_Written], reply: Reply) -> list[str] | None:
    """The new lines of one reply, or None when the written ones stay."""
    texts = list(reply.lines) or [""]
    chosen = all(w.parsed.pattern.kind != "any" or _bare(w) for w in written)
    expected = ExpectedReply.from_lines([w.parsed for w in written])
    if chosen and expected.check(reply.code, reply.lines) is None:
        return None
    last = len(texts) - 1
    new: list[str] = []
    if len(written) == len(texts):
        for position, (w, actual) in enumerate(zip(written, texts, strict=True)):
            new.append(_line(w, reply.code, actual, position == last))
    else:
        kept = _kept_patterns(written, texts)
        for position, actual in enumerate(texts):
            final = position == last
            if position in kept:
                new.append(_line(kept[position], reply.code, actual, final))
            else:
                new.append(_note(reply.code, actual, final))
    return None if new == [w.text for w in written] else new


def _kept_patterns(written: list[_Written], texts: list[str]) -> dict[int, _Written]:
    """The reply line each pattern that still matches goes on, in order (as
    :func:`~smtpshell.transcript.patterns.match_lines` matches them); a pattern
    that matches no line after the previous one's is dropped."""
    kept: dict[int, _Written] = {}
    position = 0
    for w in written:
        if w.parsed.pattern.kind == "any":
            continue
        for index in range(position, len(texts)):
            if w.parsed.pattern.matches(texts[index]):
                kept[index], position = w, index + 1
                break
    return kept


def _bare(w: _Written) -> bool:
    """A code with no text: only the code is checked."""
    return not w.parsed.raw[4:].strip()


def _line(w: _Written, code: int, actual: str, final: bool) -> str:
    """One written line brought up to date, its pattern and comment kept if they fit."""
    parsed = w.parsed
    fits = code_matches(parsed.code, code)
    written_code = parsed.code if fits else f"{code:03d}"
    separator = " " if final else "-"
    pattern = parsed.pattern
    if pattern.kind != "any" and pattern.matches(actual):
        body = _written_text(w)
    elif pattern.kind == "any" and _bare(w) and fits:
        body = ""
    else:
        return _note(code, actual, final) + w.comment
    if body or separator == "-":
        return f"{written_code}{separator}{body}" + w.comment
    return written_code + w.comment


def _written_text(w: _Written) -> str:
    """The text after the code as it is written in the file (escapes intact)."""
    content = w.text.lstrip()
    content = content[: len(content) - len(w.comment)] if w.comment else content
    match = SERVER_LINE.match(content)
    return content[match.end() :] if match else ""


def _note(code: int, actual: str, final: bool) -> str:
    separator = " " if final else "-"
    line = f"{code:03d}{separator}{actual}" if actual or not final else f"{code:03d}"
    return escape_server(inert(line))
