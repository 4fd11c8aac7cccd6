"""Reply patterns compiled for RE2, so matching takes time linear in the reply.

Transcripts are written by other people. Python's ``re`` backtracks: ``/(a+)+$/``
against a long reply, or a glob with a dozen stars against a 4,000-character line,
runs for hours inside C code where no time-out reaches it (ReDoS, CWE-1333), and a
pattern nested 2,000 deep raises RecursionError. RE2 (google-re2) matches in linear
time; it has no backreferences or lookaround, so a pattern that uses them is
refused when the transcript is read.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from smtpshell.errors import UsageError

# Deeper than any pattern a person writes; a bound we check before RE2 sees it.
MAX_NESTING = 100
# RE2's message for "\\1": a backreference, which linear-time matching cannot have.
_BACKREFERENCE = re.compile(r"escape sequence: \\[0-9]")


class UnusablePattern(UsageError, ValueError):
    """A pattern that cannot be matched in linear time; ``str(e)`` says why."""


def _re2() -> Any:
    # Loaded with the first pattern, not with the package: most transcripts check
    # reply codes only, and a replay of many short ones should not pay for it.
    import re2

    return re2


def _options(case_sensitive: bool) -> Any:
    options = _re2().Options()
    options.log_errors = False  # RE2 would write its own error to the terminal
    options.never_capture = True  # we only ask "does it match": no submatch memory
    options.case_sensitive = case_sensitive
    options.dot_nl = not case_sensitive  # globs: '*' matches any character at all
    return options


@functools.lru_cache(maxsize=1024)
def compile_regex(text: str) -> Any:
    """A ``/RE/`` pattern: RE2 syntax, case-sensitive, used with ``search``."""
    depth = _nesting(text)
    if depth > MAX_NESTING:
        raise UnusablePattern(f"groups nested {depth} deep (at most {MAX_NESTING})")
    return _compile(text, case_sensitive=True)


@functools.lru_cache(maxsize=1024)
def compile_glob(text: str) -> Any:
    """A ``~``/``=`` pattern: ``*`` any run, ``?`` one character, any case.

    Our own glob: fnmatch would read "[127.0.0.1]" in EHLO replies as a character
    class. RFC 5321 2.4: keywords are case-insensitive, and servers vary "Ok"/"OK".
    """
    escape = _re2().escape
    body = "".join(".*" if char == "*" else "." if char == "?" else escape(char) for char in text)
    return _compile(body, case_sensitive=False)


def _compile(pattern: str, case_sensitive: bool) -> Any:
    re2 = _re2()
    try:
        return re2.compile(pattern, _options(case_sensitive))
    except re2.error as exc:
        raise UnusablePattern(_reason(exc)) from None


def _reason(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else exc
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    linear_only = any(mark in text for mark in ("(?=", "(?!", "(?<")) or bool(
        _BACKREFERENCE.search(text)
    )
    if len(text) > 80:
        text = text[:80] + "..."
    if linear_only:
        return f"{text} (no backreferences or lookaround: patterns match in linear time)"
    return text


def _nesting(pattern: str) -> int:
    """How deep groups nest, outside escapes and character classes."""
    depth = deepest = index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = _class_end(pattern, index)
            continue
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
        index += 1
    return deepest


def _class_end(pattern: str, start: int) -> int:
    """The index just after the character class that opens at ``start``."""
    index = start + 1
    if pattern.startswith("^", index):
        index += 1
    if pattern.startswith("]", index):  # a ']' first is a member, not the end
        index += 1
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
        elif pattern.startswith("[:", index) and (end := pattern.find(":]", index + 2)) >= 0:
            index = end + 2  # [:alpha:]
        elif pattern[index] == "]":
            return index + 1
        else:
            index += 1
    return index
