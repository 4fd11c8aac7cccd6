"""Recording a live session as a transcript, in the format replay reads.

A listener on the session's events, so the recording and the screen always agree.
Secrets are never written: AUTH payloads become ``${...}`` variables with a comment
saying what value the replay needs.

A recording is a file people read in a terminal and review: everything the server
chose (reply lines, the certificate subject, notices and close reasons, a decoded
334 challenge) goes through :func:`~smtpshell.protocol.inert.inert`. A reply line is
written escaped as a note, so a recording holds whatever a server sends.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from smtpshell import __version__
from smtpshell.core.events import Closed, Connected, Event, Notice, Received, Sent, TlsStarted
from smtpshell.protocol.auth import decode_challenge
from smtpshell.protocol.endpoint import Endpoint, TlsMode
from smtpshell.protocol.inert import inert
from smtpshell.protocol.reply import Reply
from smtpshell.transcript import ConnectDirective, TranscriptWriter

# What a decoded 334 challenge asks for, as a variable name.
_CHALLENGE_NAMES = {"username:": "AUTH_USER", "password:": "AUTH_PASSWORD"}
_MEANINGS = {"AUTH_USER": "user name", "AUTH_PASSWORD": "password"}


class TranscriptRecorder:
    """Writes events to ``stream`` as they happen (flushed line by line)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._writer = TranscriptWriter()
        self._challenge: str | None = None
        self._mechanism = ""  # of the AUTH command sent last
        self.variables: dict[str, str] = {}  # name -> what value it needs
        # Pipelining (RFC 2920): a transcript writes a group's commands, then its
        # replies. A command sent while replies were still owed joins the group, so
        # replies are held until none is owed, whatever order the events came in.
        self._owed = 0
        self._held: list[Reply] = []
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        self._writer.header([f"recorded by smtpshell {__version__} on {now}"])
        self._flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Connected):
            self._connected(event)
        elif isinstance(event, Sent):
            self._sent(event)
        elif isinstance(event, Received):
            reply = event.reply
            self._challenge = reply.lines[0] if reply.code == 334 and reply.lines else None
            self._held.append(reply)
            if event.answers is not None:
                self._owed = max(self._owed - 1, 0)
            if not self._owed:
                self._write_held()
        elif isinstance(event, TlsStarted):
            self._comment(f"TLS: {event.info.version}, {event.info.cipher}")
        elif isinstance(event, Notice) and event.level == "warning":
            self._comment(f"warning: {event.text}")
        elif isinstance(event, Closed):
            self._owed = 0
            self._write_held()
            self._comment(event.reason)
        self._flush()

    def _write_held(self) -> None:
        for reply in self._held:
            for line in reply.wire_lines():
                # A bare CR or an escape sequence is shown, not acted on; the note
                # is not matched on replay, so the escaped text is what it should be.
                self._writer.server(inert(line))
        self._held.clear()

    def _comment(self, text: str) -> None:
        self._writer.comment(inert(text))

    def _connected(self, event: Connected) -> None:
        endpoint = event.endpoint
        self._comment(f"server: {endpoint} ({event.peer})")
        if event.tls is not None:
            cert = event.tls.certificate
            subject = f"; certificate {cert.subject}" if cert else ""
            self._comment(f"TLS: {event.tls.version}, {event.tls.cipher}{subject}")
        # --starttls mode: its EHLO and STARTTLS are recorded as client lines, so the
        # directive connects in plain text and the replay upgrades where they did.
        mode = TlsMode.PLAIN if event.mode is TlsMode.STARTTLS else event.mode
        directive = ConnectDirective(endpoint.host, endpoint.port, mode)
        # After a reconnect the directive starts the transcript's next connection,
        # which replay opens once the previous one is closed.
        self._writer.directive(directive, another=True)

    def resume(self, endpoint: Endpoint, tls: TlsMode) -> None:
        """Recording starts on an open connection: say how to get back to this point.

        ``tls`` is the mode a replay connects with (STARTTLS when TLS was started
        on this connection).
        """
        self._comment(f"recording started mid-session on {endpoint}")
        self._writer.directive(ConnectDirective(endpoint.host, endpoint.port, tls))
        self._flush()

    def _sent(self, event: Sent) -> None:
        writer = self._writer
        if event.end_of_data or not event.in_data:
            self._owed += 1  # every line but message text gets a reply
        if event.end_of_data:
            writer.client(".")
        elif event.in_data:
            writer.data(event.public)
        elif event.secret:
            self._secret(event.public)
        else:
            words = event.public.split()
            if words and words[0].upper() == "AUTH":
                self._mechanism = words[1].upper() if len(words) > 1 else ""
            writer.client(event.public)

    def _secret(self, public: str) -> None:
        """A credential: written as variables holding plain values where the
        mechanism says what it is (LOGIN, PLAIN), as a raw base64 one elsewhere."""
        prefix = f"{public} " if public else ""
        mechanism = public.split()[-1].upper() if public else self._mechanism
        decoded = decode_challenge(self._challenge or "") if not public else ""
        asks = _CHALLENGE_NAMES.get((decoded or "").strip().lower())
        if mechanism == "PLAIN":
            # RFC 4616: [authzid] NUL authcid NUL passwd. The recording cannot tell
            # whether an authorization identity was sent (it never reads the secret).
            user, password = self._fresh("AUTH_USER"), self._fresh("AUTH_PASSWORD")
            template = f"${{plain:{user}:{password}}}"
            note = f"${{plain:AUTHZID:{user}:{password}}} adds an authzid"
            names = [user, password]
        elif mechanism == "LOGIN" and (asks is not None or public):
            name = self._fresh(asks or "AUTH_USER")
            template, names, note = f"${{b64:{name}}}", [name], ""
        else:
            name, meaning = self._secret_name(public)
            self.variables[name] = meaning
            self._writer.client_template(
                f"{prefix}${{{name}}}", f"not recorded: replay with --var {name}=<{meaning}>"
            )
            return
        for name in names:
            self.variables[name] = _MEANINGS[name.rstrip("_0123456789") or name]
        wanted = " ".join(f"--var {name}=<{self.variables[name]}>" for name in names)
        comment = f"not recorded: replay with {wanted}" + (f" ({note})" if note else "")
        self._writer.client_template(prefix + template, comment)

    def _fresh(self, base: str) -> str:
        """``base``, or ``base_2``... when a name is in use (a second login)."""
        name, count = base, 1
        while name in self.variables:
            count += 1
            name = f"{base}_{count}"
        self.variables[name] = ""
        return name

    def _secret_name(self, public: str) -> tuple[str, str]:
        if public:  # an initial response of another mechanism
            mechanism = public.split()[-1].upper().replace("-", "_")
            base, meaning = f"AUTH_{mechanism}", f"base64 {mechanism} initial response"
        else:
            decoded = decode_challenge(self._challenge or "") or ""
            base = _CHALLENGE_NAMES.get(decoded.strip().lower(), "AUTH_RESPONSE")
            # The challenge is the server's text: it is described, never written raw.
            meaning = f"base64 answer to '{inert(decoded.strip())}'" if decoded else "base64 answer"
        return self._fresh(base), meaning

    def close(self) -> None:
        if self.variables:
            needed = " ".join(f"--var {name}=..." for name in self.variables)
            self._writer.comment(f"replay needs: {needed}")
        self._flush()

    def _flush(self) -> None:
        new = self._writer.take()
        if new:
            self._stream.write(new)
            self._stream.flush()


def open_recording(path: Path, replace: bool = False) -> TextIO:
    """Open ``path`` for a new recording, created readable by its owner only (0600).

    A recording holds addresses and message text; like a shell history it is
    nobody else's business. An existing file is refused unless ``replace`` (it may
    be an earlier recording); one that is replaced keeps the mode it has.
    """
    from smtpshell.errors import UsageError

    # O_EXCL: the check and the creation are one step, so nothing written between
    # the two is lost. O_NONBLOCK: opening a FIFO for writing would wait for a reader
    # forever, with the whole shell stopped; only a regular file is accepted.
    flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not replace:
        flags |= os.O_EXCL
    shown = inert(str(path))
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise UsageError(f"{shown} exists: --force replaces it") from None
    except OSError as exc:
        raise UsageError(f"cannot record to {shown}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise UsageError(f"cannot record to {shown}: not a regular file")
    os.set_blocking(descriptor, True)
    os.ftruncate(descriptor, 0)
    return os.fdopen(descriptor, "w", encoding="utf-8", newline="\n")
