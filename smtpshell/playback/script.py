"""A transcript read for serving: the lines to send, and what each client line must be.

The transcript format is the replayer's (``smtpshell.transcript``); serving reads it
from the other side. Reply lines are sent as written, but a pattern's marker is
dropped (``250 ~ queued as *`` sends ``250 queued as *``); a reply written as a class
(``2xx``) names no code to send, so it is refused when the transcript is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smtpshell.errors import UsageError
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.transcript import ExpectedReply, Transcript, TranscriptError, parse_transcript
from smtpshell.transcript.patterns import parse_reply_text

# Sent when the transcript has no greeting written.
DEFAULT_GREETING = "220 smtpshell script server ESMTP"
# Fields a client makes anew for every message: not compared in DATA unless asked.
DEFAULT_IGNORED_HEADERS = ("Date", "Message-ID")


class ScriptError(UsageError):
    """A transcript that cannot be served; ``str(error)`` is ``FILE:LINE: message``."""


@dataclass(frozen=True)
class Script:
    """A parsed transcript with the values its ``${NAME}`` references take.

    ``values`` holds only the names given (``--var``, ``--env``): a reference without
    a value accepts whatever the client sends there, and says so.
    """

    transcript: Transcript
    values: Mapping[str, str] = field(default_factory=dict)
    ignored_headers: tuple[str, ...] = DEFAULT_IGNORED_HEADERS

    @property
    def path(self) -> str:
        return self.transcript.path

    @property
    def tls(self) -> TlsMode:
        directive = self.transcript.connect
        return directive.tls if directive is not None else TlsMode.PLAIN

    @property
    def needs_tls(self) -> bool:
        return self.tls is not TlsMode.PLAIN or any(step.starttls for step in self.transcript.steps)

    def greeting(self) -> list[str]:
        if self.transcript.greeting is None:
            return [DEFAULT_GREETING]
        return wire_lines(self.transcript.greeting)

    def where(self, line: int) -> str:
        return f"{self.path}:{line}" if line else self.path


def wire_lines(expected: ExpectedReply) -> list[str]:
    """The reply lines to send for an expected reply, markers dropped."""
    pending = list(expected.patterns)
    lines = []
    for raw in expected.raw:
        head, text = raw[:4], raw[4:]
        _, pattern = parse_reply_text(text)
        # An escaped note ("\\~x") reads like a pattern once unescaped: only a line
        # that is the next of the reply's patterns loses its marker.
        if pending and (pattern.kind, pattern.text) == (pending[0].kind, pending[0].text):
            pending.pop(0)
            if pattern.kind != "regex":
                text = pattern.text
        lines.append(head + text)
    return lines


def check_servable(transcript: Transcript) -> None:
    """Refuse what a server cannot send: a reply code written as a class (``2xx``)."""
    replies = [transcript.greeting, transcript.closing]
    replies += [step.expect for step in transcript.steps]
    for reply in replies:
        if reply is not None and reply.code.endswith("xx"):
            raise ScriptError(
                f"{transcript.path}:{reply.line}: a reply written as {reply.code} names no "
                "code to send; write the code the server should answer (250, 354...)"
            )


def load_script(
    path: str | Path,
    values: Mapping[str, str] | None = None,
    ignored_headers: tuple[str, ...] = DEFAULT_IGNORED_HEADERS,
) -> Script:
    """Read and check a transcript for serving; raises :class:`ScriptError` (a usage error)."""
    shown = str(path)
    if not Path(path).is_file():
        # A named pipe or a device would be waited on for ever.
        why = "not a regular file" if Path(path).exists() else "no such file"
        raise ScriptError(f"{shown}: {why}")
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ScriptError(f"{shown}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScriptError(f"{shown}: not UTF-8 text (byte {exc.start})") from None
    try:
        transcript = parse_transcript(text, shown)
    except TranscriptError as exc:
        raise ScriptError(str(exc)) from None
    check_servable(transcript)
    if not transcript.steps:
        raise ScriptError(f"{shown}: no steps: a transcript needs a client line to serve")
    if len(transcript.connections) > 1:
        second = transcript.connections[1].connect
        line = f":{second.line}" if second is not None else ""
        raise ScriptError(
            f"{shown}{line}: a second connection: serve --script plays one; put each "
            "connection in a file of its own"
        )
    return Script(transcript, dict(values or {}), tuple(ignored_headers))
