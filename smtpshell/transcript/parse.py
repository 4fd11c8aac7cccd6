"""Reading transcripts: text lines to client steps with their expected replies.

The format is documented for users in docs/transcripts.md; the rules here follow it.
Parsing leaves ``${NAME}`` references in place and never reads the environment:
:func:`~smtpshell.transcript.model.substitute` fills them in before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from smtpshell.protocol.commands import verb_of
from smtpshell.protocol.secrets import secret_start
from smtpshell.transcript.directive import ConnectDirective, DirectiveError, parse_connect_directive
from smtpshell.transcript.model import (
    ClientStep,
    Connection,
    StepKind,
    Transcript,
    TranscriptError,
    display_template,
    reference_names,
    template_parts,
)
from smtpshell.transcript.patterns import (
    ExpectedReply,
    PatternError,
    ServerLine,
    group_replies,
    read_server_line,
)

_PROGRAM_HINT = re.compile(r"(telnet|nc|ncat|netcat|openssl|smtpshell)\s")


def strip_comment(line: str) -> str:
    """Drop a comment: '#' preceded by white space (or at the start) and the space before it."""
    index = line.find("#")
    while index >= 0:
        if index == 0 or line[index - 1].isspace():
            return line[:index].rstrip()
        index = line.find("#", index + 1)
    return line


@dataclass
class _Step:  # a client step while its reply is not yet known
    line: int
    template: str
    text: str
    kind: StepKind
    pipelined: bool = False
    expect: ExpectedReply | None = None


class _Parser:
    def __init__(self, path: str) -> None:
        self.path = path
        self.variables: set[str] = set()
        self.required: set[str] = set()  # used at least once without a default
        self.connections: list[Connection] = []  # those ended by a later directive
        self.start_connection()

    def start_connection(self) -> None:
        self.connect: ConnectDirective | None = None
        self.greeting: list[ServerLine] = []
        self.steps: list[_Step] = []
        self.run: list[_Step] = []  # commands written since the last reply
        self.replies: list[ServerLine] = []  # server lines written after them
        self.last_command: _Step | None = None
        self.body_from = 0  # line of the reply that opened a message body; 0: none open
        self.body_lines = 0
        self.closing: ExpectedReply | None = None

    def error(self, line: int, message: str) -> TranscriptError:
        return TranscriptError(self.path, line, message)

    def feed(self, number: int, line: str) -> None:
        # Only LF and CRLF end lines. A terminal shows a bare CR as a line break, so
        # "> NOOP\r> MAIL FROM:<x>" would read as two lines, and a CR in a comment
        # could hide the line it is on: refused wherever it is.
        if "\r" in line:
            raise self.error(number, "a carriage return inside a line")
        stripped = line.lstrip()
        if not stripped.strip() or stripped.startswith("#"):
            return
        content = strip_comment(stripped)
        if content == ">" or content.startswith("> "):
            self.client(number, content[2:])
            return
        try:
            entry = read_server_line(content, number)
        except PatternError as exc:
            raise self.error(number, str(exc)) from None
        if entry is not None:
            self.server(entry)
        elif content.startswith(">"):
            raise self.error(number, "a client line starts with '> ' (a space after '>')")
        else:
            hint = " (prefix commands you type with '> ')" if _PROGRAM_HINT.match(content) else ""
            raise self.error(
                number,
                "not a client line ('> ...'), a server line (a three-digit code and a "
                f"space or '-') or a comment ('#'){hint}",
            )

    def client(self, number: int, raw: str) -> None:
        try:
            parts = template_parts(raw)
        except ValueError as exc:
            raise self.error(number, str(exc)) from None
        self.variables.update(reference_names(parts))
        self.required.update(reference_names(parts, defaulted=False))
        text = display_template(parts)
        if self.replies:
            self.close_run()
        if self.body_from:
            # RFC 5321 4.1.1.4: a line holding only "." ends the message body.
            kind: StepKind = "end_data" if raw.rstrip() == "." else "data"
            step = _Step(number, raw, text, kind)
            self.steps.append(step)
            if kind == "data":
                self.body_lines += 1
            else:
                self.body_from, self.run = 0, [step]
            return
        if self.directive(number, raw, text):
            return
        self.check_unanswered()
        step = _Step(number, raw, text, "command", pipelined=bool(self.run))
        self.steps.append(step)
        self.run.append(step)
        self.last_command = step

    def directive(self, number: int, raw: str, text: str) -> bool:
        """A connect directive: the first client line, or the start of another
        connection (a recording that spans a reconnect)."""
        first = not self.steps and not self.greeting and self.connect is None
        try:
            directive = parse_connect_directive(text, number)
        except DirectiveError as exc:
            if not first:
                # Later on, only a line that reads as a directive starts a connection:
                # "telnet is not special here" is a command, as it always was.
                return False
            raise self.error(number, f"connect directive: {exc}") from None
        if directive is None:
            return False
        if self.steps or (self.greeting and self.connect is not None):
            self.end_connection()  # a connection may only check the greeting
        elif self.greeting:
            raise self.error(number, "the connect directive must come before the greeting")
        elif self.connect is not None:
            raise self.error(
                number,
                f"a second connect directive with no client line since line {self.connect.line}",
            )
        self.connect = replace(directive, source=raw)
        return True

    def check_unanswered(self) -> None:
        last = self.last_command
        if last is None or last.expect is not None:
            return
        if last.text.strip().casefold() == "data":
            raise self.error(last.line, "write the reply to DATA (354) before the message body")
        if verb_of(last.text) == "STARTTLS":
            # RFC 3207 4.2: nothing may follow STARTTLS before its reply; what follows
            # a 220 is sent over TLS.
            raise self.error(last.line, "write the reply to STARTTLS (220) before the next line")

    def server(self, entry: ServerLine) -> None:
        if self.body_from:
            raise self.error(
                entry.line, "a server line inside the message body (end the body with '> .')"
            )
        (self.replies if self.run else self.greeting).append(entry)

    def group(self, lines: Sequence[ServerLine]) -> list[list[ServerLine]]:
        try:
            return group_replies(lines)
        except PatternError as exc:
            raise self.error(exc.line, str(exc)) from None

    def close_run(self, at_end: bool = False) -> None:
        """Give the commands of a run their replies, in order (RFC 2920)."""
        replies = self.group(self.replies)
        if at_end and len(replies) == len(self.run) + 1 and replies[-1][0].code in ("421", "4xx"):
            # RFC 5321 3.8: a server may send 421 and close at any time; a recording
            # then ends with that unsolicited reply.
            self.closing = ExpectedReply.from_lines(replies.pop())
        if len(replies) > len(self.run):
            extra = replies[len(self.run)][0]
            raise self.error(
                extra.line,
                f"{len(replies)} replies for {len(self.run)} command(s) from line "
                f"{self.run[0].line}; a multi-line reply has '-' after the code on all "
                "but its last line",
            )
        last = len(self.run) - 1
        for index, (step, reply) in enumerate(zip(self.run, replies, strict=False)):
            step.expect = ExpectedReply.from_lines(reply)
            if step.expect.code == "354" or (
                step.expect.code == "3xx" and step.text.strip().casefold() == "data"
            ):
                if index != last:
                    raise self.error(
                        reply[0].line,
                        f"this {step.expect.code} answers line {step.line} (replies answer "
                        "the commands before them in order); the body must follow the "
                        "reply to the last of them",
                    )
                self.body_from, self.body_lines = reply[0].line, 0
        self.run, self.replies = [], []

    def end_connection(self) -> None:
        """The current connection is complete: check it, keep it, start afresh."""
        if self.replies:
            self.close_run(at_end=True)
        if self.body_from and self.body_lines:
            raise self.error(self.body_from, "the message body after this line never ends ('> .')")
        greeting = self.group(self.greeting)
        if len(greeting) > 1:
            raise self.error(
                greeting[1][0].line,
                "the greeting is one reply; a multi-line reply has '-' after the code on all "
                "but its last line",
            )
        self.connections.append(
            Connection(
                connect=self.connect,
                greeting=ExpectedReply.from_lines(greeting[0]) if greeting else None,
                steps=_finish_steps(self.path, self.steps),
                closing=self.closing,
            )
        )
        self.start_connection()

    def finish(self) -> Transcript:
        self.end_connection()
        first, *more = self.connections
        steps = [step for connection in self.connections for step in connection.steps]
        return Transcript(
            path=self.path,
            connect=first.connect,
            greeting=first.greeting,
            steps=first.steps,
            variables=frozenset(self.variables),
            closing=first.closing,
            more=tuple(more),
            optional=frozenset(self.variables - self.required),
            secrets=frozenset(
                name
                for step in steps
                if step.secret
                for name in reference_names(template_parts(step.template))
            ),
        )


class _AuthExchange:
    """Follows AUTH exchanges through the steps to tell which lines are credentials."""

    def __init__(self) -> None:
        self.mechanism: str | None = None  # set while an AUTH exchange is going on
        self.responses = 0  # credentials sent in this exchange so far

    def secret(self, step: _Step) -> bool:
        """Whether ``step`` carries a credential; the rule is protocol.secrets'."""
        if step.kind != "command":
            self.mechanism = None
            return False
        secret = secret_start(step.text, auth_pending=self.mechanism is not None) is not None
        if self.mechanism is None and verb_of(step.text) == "AUTH":
            words = step.text.split()
            self.mechanism, self.responses = (words[1].upper() if len(words) > 1 else ""), 0
        self.responses += int(secret)
        return secret

    def answered(self, step: _Step) -> None:
        # The exchange goes on while the server answers 334 (RFC 4954 4).
        if step.expect is not None and step.expect.code not in ("334", "3xx"):
            self.mechanism = None

    def suggest(self, secret: bool) -> str:
        """A variable name to write instead of a '...' placeholder."""
        mechanism = self.mechanism if secret else None
        if mechanism == "LOGIN":
            return "AUTH_USER" if self.responses <= 1 else "AUTH_PASSWORD"
        if mechanism == "PLAIN":
            return "AUTH_PLAIN"
        return "VALUE" if mechanism is None else "AUTH_RESPONSE"


def _finish_steps(path: str, pending: list[_Step]) -> tuple[ClientStep, ...]:
    """Mark AUTH payloads secret and reject '...' placeholders, naming a variable."""
    steps: list[ClientStep] = []
    problems: list[tuple[int, str]] = []
    exchange = _AuthExchange()
    for step in pending:
        secret = exchange.secret(step)
        if step.template.rstrip() == "...":
            problems.append((step.line, exchange.suggest(secret)))
        exchange.answered(step)
        steps.append(
            ClientStep(
                line=step.line,
                text=step.text,
                template=step.template,
                kind=step.kind,
                expect=step.expect,
                secret=secret,
                pipelined=step.pipelined,
            )
        )
    if problems:
        first_line, first_name = problems[0]
        others = "; ".join(f"line {line}: ${{{name}}}" for line, name in problems[1:])
        raise TranscriptError(
            path,
            first_line,
            f'"..." is a placeholder; write the value or a variable such as ${{{first_name}}}'
            + (f" (also {others})" if others else ""),
            also=[(line, f'"..." is a placeholder (${{{name}}})') for line, name in problems[1:]],
        )
    return tuple(steps)


def parse_transcript(text: str, path: str = "<string>") -> Transcript:
    """Parse a transcript; raises :class:`TranscriptError` (``FILE:LINE: message``).

    Variables are not substituted: call :func:`substitute` before sending anything.
    """
    parser = _Parser(path)
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        parser.feed(number, line.removesuffix("\r"))
    return parser.finish()
