"""What a parsed transcript is (steps, expected replies) and its ``${NAME}`` variables."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from smtpshell.errors import SmtpShellError
from smtpshell.protocol.commands import verb_of
from smtpshell.transcript.directive import (
    ConnectDirective,
    DirectiveError,
    parse_connect_directive,
)
from smtpshell.transcript.patterns import ExpectedReply

StepKind = Literal["command", "data", "end_data"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# One backslash before leading dots is dropped: "\." sends "." (not the end of a body),
# "\..." sends "..." (not a placeholder); "\\." sends "\.".
_LEADING_DOTS = re.compile(r"\\+\.")


class TranscriptError(SmtpShellError):
    """A transcript that cannot be replayed; ``str(e)`` is ``FILE:LINE: message``.

    ``problems`` lists every (line, message) found when one error reports several.
    """

    def __init__(
        self, path: str, line: int, message: str, also: Sequence[tuple[int, str]] = ()
    ) -> None:
        self.path = path
        self.line = line
        self.message = message
        self.problems: tuple[tuple[int, str], ...] = ((line, message), *also)
        super().__init__(path, line, message)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class MissingVariables(TranscriptError):
    """``${NAME}`` references with no value; ``missing`` maps each name to its lines."""

    def __init__(self, path: str, missing: Mapping[str, Sequence[int]]) -> None:
        self.missing = {name: tuple(sorted(set(lines))) for name, lines in missing.items()}
        first = min(min(lines) for lines in self.missing.values())
        listed = ", ".join(
            f"${{{name}}} ({_lines(lines)})"
            for name, lines in sorted(self.missing.items(), key=lambda item: min(item[1]))
        )
        super().__init__(
            path,
            first,
            f"no value for {listed}; pass --var NAME=VALUE or set the environment variable",
        )


def _lines(numbers: Sequence[int]) -> str:
    word = "line" if len(numbers) == 1 else "lines"
    return f"{word} {', '.join(str(n) for n in numbers)}"


@dataclass(frozen=True)
class ClientStep:
    """One client line to send.

    ``template`` is the line as written (escapes and ``${NAME}`` intact); ``text`` is
    what is sent, final only after :func:`substitute`
    (before it, references read ``${NAME}``). Body lines have ``kind == "data"`` and
    are sent dot-stuffed; the lone ``.`` that ends the body is ``"end_data"``.
    ``expect`` None means the reply is read but not checked. ``pipelined`` means no
    reply was written between this command and the previous one (RFC 2920), so it may
    be sent before that reply is read. ``secret`` marks AUTH payloads to redact.
    """

    line: int
    text: str
    template: str
    kind: StepKind = "command"
    expect: ExpectedReply | None = None
    secret: bool = False
    pipelined: bool = False

    @property
    def in_data(self) -> bool:
        return self.kind == "data"

    @property
    def starttls(self) -> bool:
        """A STARTTLS command: after a 220 reply the replayer upgrades to TLS (RFC 3207).

        Read by its verb, as the session reads it: ``STARTTLS x`` upgrades too.
        """
        return self.kind == "command" and not self.secret and verb_of(self.text) == "STARTTLS"


@dataclass(frozen=True)
class Transcript:
    """A parsed transcript; ``variables`` are the ``${NAME}`` references it uses.

    ``greeting`` None: the greeting is read but not checked. ``closing`` is one
    extra reply written after the last command's, such as an unsolicited 421 before
    the server closed; the replayer reads and checks it after the last step.
    """

    path: str
    connect: ConnectDirective | None
    greeting: ExpectedReply | None
    steps: tuple[ClientStep, ...]
    variables: frozenset[str] = frozenset()
    closing: ExpectedReply | None = None


Part = tuple[str, bool]  # (literal text, False) or (variable name, True)


def template_parts(raw: str) -> list[Part]:
    """Split a client line as written into literal text and ``${NAME}`` references.

    Resolves ``\\#``, ``\\$`` and the leading ``\\.``; raises ValueError for a
    malformed reference.
    """
    if _LEADING_DOTS.match(raw):
        raw = raw[1:]
    parts: list[Part] = []
    literal: list[str] = []
    index = 0
    while index < len(raw):
        char, following = raw[index], raw[index + 1 : index + 2]
        if char == "\\" and following in ("#", "$"):
            literal.append(following)
            index += 2
        elif char == "$" and following == "{":
            end = raw.find("}", index + 2)
            name = raw[index + 2 : end] if end >= 0 else ""
            if not _NAME.fullmatch(name):
                shown = raw[index : end + 1] if end >= 0 else raw[index : index + 20]
                raise ValueError(
                    f"bad variable {shown!r}: write ${{NAME}} (letters, digits, _) "
                    "or \\$ for a literal $"
                )
            if literal:
                parts.append(("".join(literal), False))
                literal = []
            parts.append((name, True))
            index = end + 1
        else:
            literal.append(char)
            index += 1
    if literal:
        parts.append(("".join(literal), False))
    return parts


def display_template(parts: list[Part]) -> str:
    """The text with references shown as ``${NAME}``."""
    return "".join(f"${{{text}}}" if is_var else text for text, is_var in parts)


def required_variables(transcript: Transcript) -> set[str]:
    """The names a transcript needs values for."""
    return set(transcript.variables)


def parse_var_option(text: str) -> tuple[str, str]:
    """Read a ``--var NAME=VALUE`` argument; raises ValueError for a malformed one."""
    name, equals, value = text.partition("=")
    if not equals or not _NAME.fullmatch(name):
        raise ValueError(f"--var wants NAME=VALUE (NAME: letters, digits, _), not {text!r}")
    return name, value


def substitute(
    transcript: Transcript, values: Mapping[str, str], environ: Mapping[str, str]
) -> Transcript:
    """Fill in ``${NAME}`` from ``values`` (``--var``), else from ``environ``.

    Raises :class:`MissingVariables` naming every missing variable and its lines.
    Works from the templates, so substituting again with other values is fine.
    """
    missing: dict[str, list[int]] = {}
    bad: list[tuple[int, str]] = []

    def expand(raw: str, line: int) -> str:
        out: list[str] = []
        for text, is_var in template_parts(raw):
            value = values.get(text, environ.get(text)) if is_var else text
            if value is None:
                missing.setdefault(text, [])
                if line not in missing[text]:
                    missing[text].append(line)
            elif is_var and any(c in value for c in "\r\n\0"):
                # A line break in a value would smuggle in another command.
                bad.append((line, f"the value of ${{{text}}} contains a line break or NUL"))
            else:
                out.append(value)
        return "".join(out)

    steps = tuple(replace(step, text=expand(step.template, step.line)) for step in transcript.steps)
    connect = transcript.connect
    connect_text = expand(connect.source, connect.line) if connect is not None else ""
    if missing:
        raise MissingVariables(transcript.path, missing)
    if bad:
        raise TranscriptError(transcript.path, bad[0][0], bad[0][1], also=bad[1:])
    if connect is not None:
        try:
            parsed = parse_connect_directive(connect_text, connect.line)
        except DirectiveError as exc:
            raise TranscriptError(
                transcript.path, connect.line, f"connect directive: {exc}"
            ) from None
        if parsed is not None:
            connect = replace(parsed, source=connect.source)
    return replace(transcript, steps=steps, connect=connect)
