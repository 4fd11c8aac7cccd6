"""What a parsed transcript is (steps, expected replies) and its ``${NAME}`` variables."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

from smtpshell.errors import SmtpShellError, UsageError
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
# Control characters but TAB (C0, DEL, C1) and lone surrogates, which stand for
# bytes that were not UTF-8 (argv and the environment are decoded "surrogateescape").
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NO_VALUES: Mapping[str, str] = MappingProxyType({})


class VariableError(UsageError, ValueError):
    """A ``--var`` or ``--env`` that cannot be used; ``str(error)`` is one line."""


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
        # Only values handed over explicitly are used: a transcript names its own
        # server, so it must not read whatever the environment holds (CWE-526).
        name = next(iter(self.missing)) if len(self.missing) == 1 else "NAME"
        super().__init__(
            path, first, f"no value for {listed}; pass --var {name}=... or --env {name}"
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
class Connection:
    """One connection of a transcript: its directive, greeting, steps and closing.

    ``greeting`` None: the greeting is read but not checked. ``closing`` is one
    extra reply written after the last command's, such as an unsolicited 421 before
    the server closed; the replayer reads and checks it after the last step.
    """

    connect: ConnectDirective | None
    greeting: ExpectedReply | None
    steps: tuple[ClientStep, ...]
    closing: ExpectedReply | None = None


@dataclass(frozen=True)
class Transcript:
    """A parsed transcript; ``variables`` are the names its ``${...}`` references use.

    ``connect``, ``greeting``, ``steps`` and ``closing`` are the first connection's
    (see :class:`Connection`). A connect directive after the first connection's lines
    starts another: those are in ``more``, and :attr:`connections` lists them all.
    """

    path: str
    connect: ConnectDirective | None
    greeting: ExpectedReply | None
    steps: tuple[ClientStep, ...]
    variables: frozenset[str] = frozenset()
    closing: ExpectedReply | None = None
    # Names every reference to which has a default (``${RCPT:-a@example.com}``).
    optional: frozenset[str] = frozenset()
    # Names used in AUTH payloads: a replay on a terminal may ask for them.
    secrets: frozenset[str] = frozenset()
    more: tuple[Connection, ...] = ()  # the connections after the first

    @property
    def first(self) -> Connection:
        return Connection(self.connect, self.greeting, self.steps, self.closing)

    @property
    def connections(self) -> tuple[Connection, ...]:
        """Every connection, in order: the first, then ``more``."""
        return (self.first, *self.more)

    @property
    def step_count(self) -> int:
        """Client steps in all connections."""
        return len(self.steps) + sum(len(c.steps) for c in self.more)


# Transforms that turn plain values into what an AUTH exchange sends (RFC 4954):
# base64 of one value, or the SASL PLAIN message [authzid] NUL authcid NUL passwd
# (RFC 4616), so nobody has to base64 a credential by hand.
TRANSFORMS = {"b64": (1, 1), "plain": (2, 3)}  # name -> (fewest, most) variables
_FORMS = {"b64": "${b64:NAME}", "plain": "${plain:USER:PASS} or ${plain:AUTHZID:USER:PASS}"}


@dataclass(frozen=True)
class Reference:
    """A ``${...}`` in a client line: ``${NAME}``, ``${NAME:-default}``,
    ``${b64:NAME}``, ``${plain:USER:PASS}`` or ``${plain:AUTHZID:USER:PASS}``.

    ``source`` is the reference as written, ``${`` to ``}``.
    """

    names: tuple[str, ...]
    source: str
    transform: str = ""
    default: str | None = None

    def value(self, lookup: Mapping[str, str]) -> str | None:
        """The text sent, from the values in ``lookup``; None if one is missing."""
        values = [lookup.get(name) for name in self.names]
        if any(value is None for value in values):
            return self.default if not self.transform and self.default is not None else None
        present = [value for value in values if value is not None]
        if self.transform == "b64":
            return _base64(present[0])
        if self.transform == "plain":
            authzid = present[0] if len(present) == 3 else ""
            return _base64("\0".join([authzid, *present[-2:]]))
        return present[0]


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


Part = str | Reference  # literal text, or a reference


def parse_reference(inner: str) -> Reference:
    """Read what is between ``${`` and ``}``; raises VariableError."""
    source = f"${{{inner}}}"
    head, colon, rest = inner.partition(":")
    if colon and head in TRANSFORMS:
        names = tuple(rest.split(":"))
        fewest, most = TRANSFORMS[head]
        if not fewest <= len(names) <= most or not all(_NAME.fullmatch(n) for n in names):
            form = _FORMS[head]
            raise VariableError(f"bad variable {source!r}: write {form}")
        return Reference(names, source, transform=head)
    if colon and rest.startswith("-") and _NAME.fullmatch(head):
        return Reference((head,), source, default=rest[1:])
    if _NAME.fullmatch(inner):
        return Reference((inner,), source)
    if colon and _NAME.fullmatch(head):
        raise VariableError(
            f"bad variable {source!r}: {head!r} is not a transform "
            "(b64, plain); write ${NAME:-default} for a default"
        )
    raise VariableError(
        f"bad variable {source[:40]!r}: write ${{NAME}} (letters, digits, _), "
        "${NAME:-default}, ${b64:NAME}, ${plain:USER:PASS}, or \\$ for a literal $"
    )


def template_parts(raw: str) -> list[Part]:
    """Split a client line as written into literal text and ``${...}`` references.

    Resolves ``\\#``, ``\\$`` and the leading ``\\.``; raises ValueError for a
    malformed reference.
    """
    if "\\" not in raw and "${" not in raw:
        # Most lines hold neither an escape nor a reference: one literal, as written.
        return [raw] if raw else []
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
            if end < 0:
                raise VariableError(
                    f"bad variable {raw[index : index + 20]!r}: a ${{ without its }} "
                    "(write \\$ for a literal $)"
                )
            reference = parse_reference(raw[index + 2 : end])
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(reference)
            index = end + 1
        else:
            literal.append(char)
            index += 1
    if literal:
        parts.append("".join(literal))
    return parts


def display_template(parts: list[Part]) -> str:
    """The text with references shown as written (``${NAME}``, ``${b64:NAME}``)."""
    return "".join(part.source if isinstance(part, Reference) else part for part in parts)


def reference_names(parts: list[Part], defaulted: bool | None = None) -> set[str]:
    """The names the references use; ``defaulted`` True or False keeps only those
    with or without a default."""
    return {
        name
        for part in parts
        if isinstance(part, Reference)
        and (defaulted is None or (part.default is not None) == defaulted)
        for name in part.names
    }


def required_variables(transcript: Transcript) -> set[str]:
    """The names a transcript needs values for: those used without a default."""
    return set(transcript.variables - transcript.optional)


def parse_var_option(text: str) -> tuple[str, str]:
    """Read a ``--var NAME=VALUE`` argument; raises ValueError for a malformed one.

    The message never repeats the value: it may be a credential.
    """
    name, equals, value = text.partition("=")
    if not equals or not _NAME.fullmatch(name):
        given = f", not {name!r}=..." if equals and name.isprintable() else ""
        raise VariableError(f"--var wants NAME=VALUE (NAME: letters, digits, _){given}")
    _check_value("--var", name, value)
    return name, value


def environment_values(names: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The values of the environment variables named with ``--env NAME``.

    Only these reach a transcript's ``${NAME}``: the allow-list is the caller's.
    Raises ValueError for a bad name, an unset variable or an unusable value.
    """
    values: dict[str, str] = {}
    for name in names:
        if not _NAME.fullmatch(name):
            shown = f", not {name!r}" if name.isprintable() else ""
            raise VariableError(f"--env wants a NAME (letters, digits, _){shown}")
        if name not in environ:
            raise VariableError(f"--env {name}: no such environment variable")
        _check_value("--env", name, environ[name])
        values[name] = environ[name]
    return values


def _check_value(option: str, name: str, value: str) -> None:
    problem = argument_problem(value)
    if problem is not None:
        raise VariableError(f"{option} {name}: the value {problem}")


def argument_problem(text: str) -> str | None:
    """Why a command-line or environment value cannot be used as typed, or None.

    Undecodable bytes arrive as lone surrogates (argv and the environment are
    decoded with "surrogateescape", PEP 383) and cannot be sent; a control character
    would inject a second command or act on a terminal. The text is never quoted.
    """
    if _SURROGATE.search(text):
        return "is not valid UTF-8"
    control = _CONTROL.search(text)
    if control is not None:
        return f"contains a control character (0x{ord(control.group()):02X})"
    return None


def substitute(
    transcript: Transcript, values: Mapping[str, str], exported: Mapping[str, str] = _NO_VALUES
) -> Transcript:
    """Fill in ``${NAME}`` from ``values`` (``--var``), else from ``exported``: the
    environment variables the user named (``--env NAME``), never the whole environment.

    Raises :class:`MissingVariables` naming every missing variable and its lines.
    Works from the templates, so substituting again with other values is fine.
    """
    missing: dict[str, list[int]] = {}
    bad: list[tuple[int, str]] = []

    lookup = {**exported, **values}

    def expand(raw: str, line: int) -> str:
        out: list[str] = []
        for part in template_parts(raw):
            if isinstance(part, str):
                out.append(part)
                continue
            value = part.value(lookup)
            if value is None:
                for name in part.names:
                    if name not in lookup and line not in missing.setdefault(name, []):
                        missing[name].append(line)
            elif any(c in value for c in "\r\n\0"):
                # A line break in a value would smuggle in another command.
                bad.append((line, f"the value of {part.source} contains a line break or NUL"))
            else:
                out.append(value)
        return "".join(out)

    def fill(connection: Connection) -> tuple[tuple[ClientStep, ...], str]:
        steps = tuple(
            _with_text(step, expand(step.template, step.line)) for step in connection.steps
        )
        connect = connection.connect
        return steps, expand(connect.source, connect.line) if connect is not None else ""

    filled = [fill(connection) for connection in transcript.connections]
    if missing:
        raise MissingVariables(transcript.path, missing)
    if bad:
        raise TranscriptError(transcript.path, bad[0][0], bad[0][1], also=bad[1:])
    done = [
        replace(
            connection,
            steps=steps,
            connect=_directive(transcript.path, connection.connect, connect_text),
        )
        for connection, (steps, connect_text) in zip(transcript.connections, filled, strict=True)
    ]
    first = done[0]
    return replace(
        transcript,
        steps=first.steps,
        connect=first.connect,
        more=tuple(done[1:]),
    )


def _directive(path: str, connect: ConnectDirective | None, text: str) -> ConnectDirective | None:
    # A directive without references reads the same as when it was parsed.
    if connect is None or not _has_reference(connect.source):
        return connect
    try:
        parsed = parse_connect_directive(text, connect.line)
    except DirectiveError as exc:
        raise TranscriptError(path, connect.line, f"connect directive: {exc}") from None
    return connect if parsed is None else replace(parsed, source=connect.source)


def _with_text(step: ClientStep, text: str) -> ClientStep:
    # Most steps hold no reference: keep them rather than copy each one.
    return step if step.text == text else replace(step, text=text)


def _has_reference(raw: str) -> bool:
    return any(isinstance(part, Reference) for part in template_parts(raw))
