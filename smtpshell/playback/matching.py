"""Does what the client sent match the transcript's line?

A command line matches its transcript line exactly, after ``${NAME}`` substitution,
except that the verb and its keywords are compared in any case (RFC 5321 2.4:
``mail from:`` is ``MAIL FROM:``). A line written as a pattern, as reply lines are
(``~ TEXT``, ``= TEXT``, ``/RE/``), is matched as one, in linear time (RE2). A
reference without a value matches anything there, and is reported as unchecked.
Message text is compared line by line, with the header fields named in
``ignored_headers`` left out on both sides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from smtpshell.protocol.commands import verb_of
from smtpshell.transcript import ClientStep
from smtpshell.transcript.engine import compile_regex
from smtpshell.transcript.model import template_parts
from smtpshell.transcript.patterns import ReplyPattern, parse_reply_text

# The verb and the keywords that go with it; any case on both sides.
_KEYWORDS = re.compile(
    r"(mail[ \t]+from:|rcpt[ \t]+to:|auth[ \t]+[a-z0-9_-]+|[a-z]+)(?=[ \t<]|$)", re.I
)
_MARKERS = ("~", "=", "/")


def canonical(line: str) -> str:
    """``line`` with its verb and keywords in capitals: ``mail from:<a>`` -> ``MAIL FROM:<a>``."""
    match = _KEYWORDS.match(line)
    if match is None:
        return line
    return " ".join(match.group().upper().split()) + line[match.end() :]


def _escape(text: str) -> str:
    # Every ASCII character that is not a letter or digit as \xHH: valid in RE2 whatever it is.
    return "".join(c if c.isalnum() or ord(c) > 127 else f"\\x{ord(c):02x}" for c in text)


@dataclass(frozen=True)
class ClientExpectation:
    """What one client step accepts; ``unchecked`` names the references without a value."""

    step: ClientStep
    expected: str  # the line as the report shows it: substituted, never a credential
    unchecked: tuple[str, ...]
    _exact: str | None
    _pattern: ReplyPattern | None
    _regex: str | None
    _keywords: bool

    def accepts(self, line: str) -> bool:
        if self._pattern is not None:
            return self._pattern.matches(line)
        sent = canonical(line) if self._keywords else line
        if self._exact is not None:
            return sent == self._exact
        assert self._regex is not None
        return compile_regex(self._regex).fullmatch(sent) is not None


def _parts(template: str, values: Mapping[str, str]) -> list[tuple[str, bool]]:
    """The line as (text, False) pieces where its references have values (transforms
    and defaults applied), and (NAME, True) where one has none: the names it lacks,
    joined with ":" when a transform takes several."""
    parts: list[tuple[str, bool]] = []
    for part in template_parts(template):
        if isinstance(part, str):
            parts.append((part, False))
            continue
        value = part.value(values)
        parts.append((value, False) if value is not None else (":".join(part.names), True))
    return parts


def expect_client(step: ClientStep, values: Mapping[str, str]) -> ClientExpectation:
    """The expectation for a command step (AUTH responses included)."""
    parts = _parts(step.template, values)
    unchecked = tuple(
        dict.fromkeys(name for name, is_var in parts if is_var and name not in values)
    )
    shown = step.template if step.secret else _display(parts, values)
    # An AUTH response is base64 or a mechanism's own text: compared exactly, never in
    # capitals; an AUTH command's verb and mechanism are keywords like any other.
    keywords = not step.secret or verb_of(step.text) == "AUTH"
    first = parts[0][0] if parts and not parts[0][1] else ""
    if first.lstrip()[:1] in _MARKERS and not first.lstrip().startswith(("\\",)):
        return ClientExpectation(step, shown, unchecked, None, _pattern(parts, values), None, False)
    if first.lstrip().startswith(tuple("\\" + m for m in _MARKERS)):
        # "\~x" is the text "~x", as for notes in reply lines.
        stripped = first.lstrip()
        parts = [(first[: len(first) - len(stripped)] + stripped[1:], False), *parts[1:]]
    if keywords and parts and not parts[0][1]:
        parts = [(canonical(parts[0][0]), False), *parts[1:]]
    if not unchecked:
        exact = "".join(values[text] if is_var else text for text, is_var in parts)
        return ClientExpectation(step, shown, (), exact, None, None, keywords)
    regex = "".join(
        (_escape(values[text]) if text in values else ".*") if is_var else _escape(text)
        for text, is_var in parts
    )
    return ClientExpectation(step, shown, unchecked, None, None, f"(?s){regex}", keywords)


def _display(parts: Sequence[tuple[str, bool]], values: Mapping[str, str]) -> str:
    return "".join(values.get(text, f"${{{text}}}") if is_var else text for text, is_var in parts)


def _pattern(parts: Sequence[tuple[str, bool]], values: Mapping[str, str]) -> ReplyPattern:
    regex = "".join(parts[0][0].split()).startswith("/")
    wildcard = ".*" if regex else "*"
    text = "".join(
        ((_escape(values[name]) if regex else values[name]) if name in values else wildcard)
        if is_var
        else name
        for name, is_var in parts
    )
    _, pattern = parse_reply_text(text)
    return pattern


def expand(step: ClientStep, values: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """A message text line with its values; references without one are left as written."""
    parts = _parts(step.template, values)
    missing = tuple(name for name, is_var in parts if is_var and name not in values)
    return _display(parts, values), missing


def body_regex(step: ClientStep, values: Mapping[str, str]) -> str:
    """An RE2 pattern for a message line whose references lack values: they match anything."""
    return "".join(
        (_escape(values[text]) if text in values else ".*") if is_var else _escape(text)
        for text, is_var in _parts(step.template, values)
    )


@dataclass(frozen=True)
class BodyDifference:
    """Where a message first differs: the transcript line, what came, what was expected."""

    line: int
    sent: str | None  # None: the client ended the message there
    expected: str | None  # None: the transcript's message had ended


def _kept(lines: Sequence[str], ignored: frozenset[str]) -> list[int]:
    """Indexes of the lines compared: all but the ignored header fields (RFC 5322 2.2)."""
    kept: list[int] = []
    skipping = False
    for index, line in enumerate(lines):
        if line == "":
            kept.extend(range(index, len(lines)))  # the body: every line counts
            return kept
        if line[:1] in (" ", "\t") and index > 0:
            if not skipping:
                kept.append(index)  # a folded line of a field that counts
            continue
        name = line.split(":", 1)[0].strip().casefold() if ":" in line else None
        skipping = name is not None and name in ignored
        if not skipping:
            kept.append(index)
    return kept


def compare_body(
    sent: Sequence[str],
    expected: Sequence[str],
    expected_lines: Sequence[int],
    end_line: int,
    ignored_headers: Sequence[str],
    patterns: Mapping[int, str] | None = None,
) -> BodyDifference | None:
    """Compare the client's message (unstuffed lines) with the transcript's.

    ``patterns`` maps the index of an expected line to the RE2 pattern it is matched
    with instead (a line with references that have no value).
    """
    ignored = frozenset(name.casefold() for name in ignored_headers)
    ours = _kept(expected, ignored)
    theirs = _kept(sent, ignored)
    for position in range(max(len(ours), len(theirs))):
        if position >= len(ours):
            return BodyDifference(end_line, sent[theirs[position]], None)
        line = expected_lines[ours[position]]
        if position >= len(theirs):
            return BodyDifference(line, None, expected[ours[position]])
        text, index = sent[theirs[position]], ours[position]
        pattern = (patterns or {}).get(index)
        same = (
            compile_regex(f"(?s){pattern}").fullmatch(text) is not None
            if pattern is not None
            else text == expected[index]
        )
        if not same:
            return BodyDifference(line, text, expected[index])
    return None
