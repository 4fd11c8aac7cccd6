"""Replaying one transcript against a server with a Session, step by step."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from smtpshell.core.events import Closed, Listener, Received
from smtpshell.core.options import ConnectOptions
from smtpshell.core.session import Session
from smtpshell.errors import SmtpShellError, StartTlsRefused, UsageError
from smtpshell.protocol.commands import verb_of
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.protocol.reply import Reply
from smtpshell.protocol.secrets import secret_start
from smtpshell.transcript import ClientStep, Connection, ExpectedReply, Transcript

_SHOWN_REPLY = 80  # characters of a reply quoted in a one-line reason


@dataclass(frozen=True)
class Mismatch:
    """Where a replay went wrong: the transcript line, what was expected and what came."""

    line: int
    reason: str
    sent: str = ""  # the client line whose reply failed ("" for the greeting)
    expected: tuple[str, ...] = ()
    actual: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReplayResult:
    path: str
    mismatch: Mismatch | None
    # Client steps carried out: on a failure, the number of the step that failed
    # (counted from 1; 0 when the connection or the greeting failed).
    steps: int
    seconds: float
    total: int = 0  # client steps in the transcript

    @property
    def passed(self) -> bool:
        return self.mismatch is None


def target(
    transcript: Transcript, options: ConnectOptions, connection: Connection | None = None
) -> ConnectOptions:
    """Where to connect: the options given, else the connect directive of
    ``connection`` (the transcript's first when None)."""
    directive = (connection or transcript.first).connect
    if directive is not None:
        if options.mode is TlsMode.PLAIN and directive.tls is not TlsMode.PLAIN:
            # The transcript was written over TLS: replayed in plain text, its AUTH
            # and message would cross the network in clear.
            raise UsageError(
                f"{transcript.path}:{directive.line}: the transcript connects with TLS "
                f"({directive.tls}); a plain-text override would send it in clear"
            )
        given = ConnectOptions(directive.host, directive.port, directive.tls)
        options = options.over(given)
    if options.host is None:
        raise UsageError(
            f"{transcript.path}: no connect directive in the transcript; pass --connect HOST[:PORT]"
        )
    return options


def targets(transcript: Transcript, options: ConnectOptions) -> list[ConnectOptions]:
    """Where each connection of the transcript goes (UsageError if one cannot)."""
    return [target(transcript, options, connection) for connection in transcript.connections]


Observer = Callable[[ExpectedReply, Reply], None]


class _Replay:
    """One connection of a transcript, from connecting to closing.

    With ``observe`` (``replay --update``) every expected reply is handed over with
    the reply that came, and a reply that differs does not stop the replay: only a
    step that cannot be carried out does (the conversation diverged).
    """

    def __init__(
        self,
        transcript: Transcript,
        connection: Connection,
        options: ConnectOptions,
        listener: Listener | None,
        observe: Observer | None = None,
    ):
        self.transcript = transcript
        self.observe = observe
        self.connection = connection
        self.options = options
        self.session = Session(listener, timeout=options.timeout)
        # Unsolicited replies, then None once the connection has closed.
        self.unsolicited: asyncio.Queue[Reply | None] = asyncio.Queue()
        if connection.closing is not None:
            # Only a transcript that ends with an unsolicited reply reads them: the
            # others spare a call per event.
            self.session.subscribe(self._collect_unsolicited)
        self.done = 0  # steps started: the one in progress is steps[done - 1]

    def _collect_unsolicited(self, event: object) -> None:
        if isinstance(event, Received) and event.unsolicited:
            self.unsolicited.put_nowait(event.reply)
        elif isinstance(event, Closed):
            self.unsolicited.put_nowait(None)  # nothing more can come

    async def run(self) -> Mismatch | None:
        options = target(self.transcript, self.options, self.connection)
        # Whatever happens after connecting, a mismatch, an error or a cancellation,
        # the connection is closed before the replay returns.
        try:
            return await self._connect(options) or await self._converse()
        finally:
            await self.session.close()

    async def _connect(self, options: ConnectOptions) -> Mismatch | None:
        """Connect and check the greeting (RFC 5321 3.1)."""
        connect = self.connection.connect
        line = connect.line if connect else 0
        try:
            greeting = await self.session.open(options)
        except SmtpShellError as exc:
            return Mismatch(line, str(exc))
        return self._verify(self.connection.greeting, greeting, "")

    async def _converse(self) -> Mismatch | None:
        try:
            return await self._steps(self.connection.steps) or await self._closing()
        except SmtpShellError as exc:
            steps = self.connection.steps
            step = steps[min(max(self.done, 1), len(steps)) - 1]
            return Mismatch(step.line, str(exc), _shown(step))

    async def _steps(self, steps: Sequence[ClientStep]) -> Mismatch | None:
        index = 0
        while index < len(steps):
            step = steps[index]
            if step.kind == "data":
                self.done = index + 1
                self.session.send_data_line(step.text)
                index += 1
            elif step.kind == "end_data":
                self.done = index + 1
                reply = await self.session.end_data()
                index += 1
                if (failed := self._verify(step.expect, reply, step)) is not None:
                    return failed
            else:
                batch = _pipelined_group(steps, index)
                if (failed := await self._commands(batch, index)) is not None:
                    return failed
                index += len(batch)
        return None

    async def _commands(self, batch: Sequence[ClientStep], start: int) -> Mismatch | None:
        """Send a group of commands together (RFC 2920), then check their replies."""
        futures = []
        for offset, item in enumerate(batch):
            if (refused := self._refuse_unexpected_secret(item)) is not None:
                self.done = start + offset + 1
                return refused
            futures.append(self.session.send_nowait(item.text))
        for offset, (item, future) in enumerate(zip(batch, futures, strict=True)):
            # A failure is reported at the command whose reply failed, not at the
            # first of its group.
            self.done = start + offset + 1
            if item.starttls:
                failed = await self._starttls(item, future)
            else:
                reply = await self.session.wait_reply(future, _shown(item))
                failed = self._verify(item.expect, reply, item)
            if failed is not None:
                return failed
        return None

    async def _starttls(self, step: ClientStep, future: asyncio.Future[Reply]) -> Mismatch | None:
        """RFC 3207 4: after STARTTLS the conversation goes on in TLS or not at all.

        A refusal, a 250 the transcript happened to expect, replies pipelined behind
        a refusal (curl CVE-2021-22947) or a failed handshake: the replay stops
        without sending another byte, so no AUTH or message goes out in clear.
        """
        try:
            reply = await self.session.wait_reply(future, "STARTTLS")
        except StartTlsRefused as exc:
            return _refused(step, exc.reply)
        except SmtpShellError as exc:
            return Mismatch(step.line, _no_tls(str(exc)), _shown(step))
        if self.session.tls is None:
            return _refused(step, tuple(reply.wire_lines()))
        return self._verify(step.expect, reply, step)

    def _refuse_unexpected_secret(self, step: ClientStep) -> Mismatch | None:
        """A credential goes out only where the session also treats it as one.

        The transcript marks AUTH responses secret because it expects a 334; if the
        server has not asked (no 334 pending), the session would send and show the
        line as an ordinary command, so it is not sent at all (RFC 4954 4).
        """
        if not step.secret or secret_start(step.text, self.session.auth_pending) is not None:
            return None
        return Mismatch(
            step.line,
            "the server is not waiting for an AUTH response (no 334 pending); "
            "the credential was not sent",
            _shown(step),
        )

    async def _closing(self) -> Mismatch | None:
        """A transcript may end with the 421 a server sends before closing."""
        expected = self.connection.closing
        if expected is None:
            return None
        try:
            reply = await asyncio.wait_for(self.unsolicited.get(), self.options.timeout)
        except TimeoutError:
            return Mismatch(expected.line, f"expected {expected.code} from the server, got nothing")
        if reply is None:
            return Mismatch(
                expected.line,
                f"expected {expected.code} from the server; the connection closed without it",
            )
        return self._verify(expected, reply, "")

    def _verify(
        self, expected: ExpectedReply | None, reply: Reply, step: ClientStep | str
    ) -> Mismatch | None:
        failed = _check(expected, reply, step)
        if self.observe is None or expected is None:
            return failed
        self.observe(expected, reply)
        # A 334 or 354 that did not come: what follows (a credential, a message
        # body) would go to a server that does not expect it. Any other reply may
        # differ and the conversation still goes on as written.
        if failed is not None and expected.code[:1] == "3" and reply.code // 100 != 3:
            return failed
        return None


def _pipelined_group(steps: Sequence[ClientStep], start: int) -> list[ClientStep]:
    """The commands from ``start`` that go out before the first reply is read.

    Commands written with no reply between them are pipelined (RFC 2920), but a
    group ends after STARTTLS (RFC 3207 4), after AUTH (RFC 4954 4: the last command
    of a group) and after each AUTH response, which waits for its 334: sent early,
    it would go out before the session knows it is a credential.
    """
    group = [steps[start]]
    for step in steps[start + 1 :]:
        last = group[-1]
        if not step.pipelined or step.kind != "command" or step.secret:
            break
        if last.secret or last.starttls or verb_of(last.text) == "AUTH":
            break
        group.append(step)
    return group


def _refused(step: ClientStep, reply: tuple[str, ...]) -> Mismatch:
    first = reply[0] if reply else ""
    shown = first if len(first) <= _SHOWN_REPLY else first[:_SHOWN_REPLY] + "..."
    expected = step.expect.raw if step.expect else ()
    why = _no_tls(f"the server answered {shown}")
    return Mismatch(step.line, why, _shown(step), expected, reply)


def _no_tls(why: str) -> str:
    return f"STARTTLS did not start TLS: {why}; nothing more was sent"


def _shown(step: ClientStep) -> str:
    # Never show a credential, even one that came from a variable.
    return step.template if step.secret else step.text


def _check(expected: ExpectedReply | None, reply: Reply, step: ClientStep | str) -> Mismatch | None:
    if expected is None:
        return None
    failure = expected.failure(reply.code, reply.lines)
    if failure is None:
        return None
    # Reported at the line that failed (a pattern's own line), and only there.
    line, reason = failure
    sent = _shown(step) if isinstance(step, ClientStep) else step
    return Mismatch(line, reason, sent, expected.raw, tuple(reply.wire_lines()))


async def replay(
    transcript: Transcript,
    options: ConnectOptions,
    listener: Listener | None = None,
    observe: Observer | None = None,
) -> ReplayResult:
    """Replay a transcript (variables already substituted) and say how it went.

    ``observe`` gets each expected reply with the reply that came; with it, only a
    conversation that diverged fails (see :class:`_Replay`).
    """
    started = time.monotonic()
    done, mismatch = 0, None
    # One connection after the other, as recorded: each closes before the next opens.
    for connection in transcript.connections:
        runner = _Replay(transcript, connection, options, listener, observe)
        mismatch = await runner.run()
        if mismatch is not None:
            done += runner.done
            break
        done += len(connection.steps)
    elapsed = time.monotonic() - started
    return ReplayResult(transcript.path, mismatch, done, elapsed, transcript.step_count)
