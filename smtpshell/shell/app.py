"""The interactive shell: a prompt that only dispatches, on top of a Session."""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from smtpshell.core.dns import ResolverConfig
from smtpshell.core.events import Closed, Event, Received
from smtpshell.core.options import ConnectOptions
from smtpshell.core.reach import reach
from smtpshell.core.session import Session
from smtpshell.errors import (
    CommandRejected,
    HelpRequested,
    NotConnected,
    SmtpShellError,
    UsageError,
)
from smtpshell.protocol.commands import SMTP_VERBS, is_utf8, verb_of
from smtpshell.protocol.inert import inert
from smtpshell.render.events import EventRenderer
from smtpshell.render.tables import help_entry
from smtpshell.shell.batch import (
    CommandsAboveReplies,
    GroupRole,
    PipedInput,
    Pipeline,
    ScriptStatus,
    group_role,
    local_echo,
)
from smtpshell.shell.commands import build_registry
from smtpshell.shell.commands.connection import meaning_offline
from smtpshell.shell.output import OutputQueue
from smtpshell.shell.paste import PastedLines, masked
from smtpshell.shell.recording import Recording
from smtpshell.shell.registry import asks_for_help

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prompt_toolkit import PromptSession
    from prompt_toolkit.formatted_text import FormattedText
    from rich.console import RenderableType

    from smtpshell.protocol.reply import Reply
    from smtpshell.render.plain import Printer
    from smtpshell.shell.pipelining import PipelinedEchoes
    from smtpshell.shell.registry import LocalCommand, Registry


@dataclass(frozen=True)
class ShellConfig:
    history_file: Path | None  # None: no history on disk
    resolver: ResolverConfig = field(default_factory=ResolverConfig)  # for every DNS lookup
    record: Path | None = None  # record the session as a transcript from the start
    replace_record: bool = False  # --force: the recording may replace an existing file
    # The command line's --cafile, --insecure, --helo and --timeout, for `connect`.
    connect_defaults: ConnectOptions = field(default_factory=ConnectOptions)
    # Piped sessions: exit 0 even when a command got a 4xx or 5xx reply (--exit-zero),
    # and echo each line of message text instead of a summary (-v).
    exit_zero: bool = False
    verbose: bool = False
    # Where `connect --profile NAME` finds profiles, and the environment a profile's
    # password_env is read from.
    # (A function: finding the config directory may import platformdirs.)
    profiles_file: Callable[[], Path] | None = None
    environ: Mapping[str, str] = field(default_factory=dict)


class LineReader(Protocol):
    def readline(self) -> str: ...


class Shell:
    """The REPL around one Session; to its local commands it is a CommandContext."""

    # Interactive only (set by _run_interactive and the prompt's accept handler):
    # the line sent as Enter accepted it, and the reply that waits for it.
    _early: tuple[str, asyncio.Future[Reply]] | None = None
    # The lines of a pipelined paste still to show, each under the reply before it.
    _echoes: PipelinedEchoes | None = None
    _accepted_prompt: FormattedText | None = None  # the prompt as Enter left it

    def __init__(
        self,
        console: Printer,
        config: ShellConfig,
        interactive: bool = True,
        err_console: Printer | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.registry = registry if registry is not None else build_registry()
        # What local commands read (CommandContext): the commands, for `?`; the
        # command line's options, for `connect`; the resolver, for `mx`.
        self.local_commands: Registry = self.registry
        self.connect_defaults = config.connect_defaults
        self.resolver = config.resolver
        self._profiles_file = config.profiles_file
        self.environ = config.environ
        self.console = console
        # Errors go to stderr when reading from a pipe, so output stays parseable.
        self.err_console = err_console or console
        self.config = config
        self.interactive = interactive
        self.session = Session()
        # Typed lines are already on screen; lines read from a pipe are not.
        self.renderer = EventRenderer(console, echo_user=not interactive)
        self.session.subscribe(self._on_event)
        self.done = False
        self._status = ScriptStatus(count_replies=not config.exit_zero)
        self._last_closed = ""
        self._prompt: PromptSession[str] | None = None
        self._secret_prompt = False  # the line being typed answers a 334
        self._auth_answers_next = False  # AUTH was the last command: answers may follow
        self._stdin: LineReader = sys.stdin
        self._recording = Recording(self.session)
        self._output = OutputQueue(self._say_dropped)
        self._pasted = PastedLines()  # what a paste left after its first line
        # Replies owed to commands whose wait Ctrl-C abandoned: shown as late.
        self._late: deque[str] = deque()
        # A command that may ask for a secret runs and has not asked yet: keys typed
        # meanwhile are thrown away (they may be the secret), and counted.
        self._typeahead_secret = False
        self._discarded = 0

    @property
    def profiles_file(self) -> Path | None:
        return self._profiles_file() if self._profiles_file is not None else None

    # -- output -------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Closed):
            self._last_closed = event.reason
            self._late.clear()
            if self._echoes is not None:
                self._echoes.flush()  # sent lines whose replies will never come
        elif isinstance(event, Received):
            self._status.replied(event)
            if not event.unsolicited and self._late:
                self.info(f"(late) the reply to the interrupted {self._late.popleft()}:")

        def show() -> None:
            self.renderer(event)
            if self._prompt is not None and self._prompt.app.is_running:
                self._prompt.app.invalidate()  # the prompt shows state: redraw it

        # Server replies may be counted instead of shown when they flood in.
        self._output.put(show, droppable=isinstance(event, Received))
        if isinstance(event, Received) and not event.unsolicited and self._echoes is not None:
            self._echoes.replied()  # the next pasted line of a group, under this reply

    def _say_dropped(self, count: int) -> None:
        self.console.print(
            f"... {count:,} more {'reply' if count == 1 else 'replies'} not shown "
            "(they came faster than they can be shown)",
            style="warning",
        )

    @property
    def exit_status(self) -> int:
        """What a piped session exits with: see batch.ScriptStatus."""
        return self._status.value

    def error(self, message: str) -> None:
        self._status.failed()
        # The session already reported why it closed; don't say it twice.
        if message != self._last_closed:
            line = f"error: {inert(message)}"
            self._output.put(lambda: self.err_console.print(line, style="error"))

    def show(self, renderable: RenderableType) -> None:
        self._output.put(lambda: self.console.print(renderable))

    def info(self, message: str) -> None:
        line = inert(message)
        self._output.put(lambda: self.console.print(line, style="notice"))

    async def ask(self, question: str, secret: bool = False) -> str:
        """Ask the user for one line (echo off when ``secret``); never kept in history."""
        if secret:
            self._discard_typeahead()
            self._typeahead_secret = False  # keys typed after the answer are kept
        await self._output.flush()  # the challenge being answered is on screen first
        if not self.interactive:
            loop = asyncio.get_running_loop()
            line = await loop.run_in_executor(None, self._stdin.readline)
            if not line:
                raise UsageError(f"end of input while asking for {question.strip(': ')}")
            return line.rstrip("\n").removesuffix("\r")
        from prompt_toolkit import PromptSession

        # On the prompt's terminal, which is stderr's when stdout is a pipe.
        terminal = self._prompt.input if self._prompt else None
        output = self._prompt.output if self._prompt else None
        asker: PromptSession[str] = PromptSession(is_password=secret, input=terminal, output=output)
        try:
            return await asker.prompt_async(question)
        except (EOFError, KeyboardInterrupt):
            raise UsageError("cancelled") from None

    async def confirm(self, question: str) -> bool:
        """A yes-or-no question, no unless answered yes; no when reading from a pipe,
        where there is no one to ask."""
        if not self.interactive:
            return False
        answer = await self.ask(f"{question} [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    def _discard_typeahead(self) -> None:
        """Throw away keys typed before a secret is asked for, as getpass does
        (TCSAFLUSH): a password typed ahead must not be taken as an answer to a
        question not yet on screen, nor sent as a command if none comes."""
        if self._prompt is not None:
            from prompt_toolkit.input.typeahead import get_typeahead

            terminal = self._prompt.input
            self._discarded += len(get_typeahead(terminal))  # get_ also empties it
            if self._typeahead_secret:  # still in raw mode: read what is pending
                self._discarded += len(terminal.read_keys())
        if self._discarded:
            self._discarded = 0
            self.info("discarded what was typed ahead: it may have been a secret")

    # -- the rest of what handlers may touch (CommandContext) ---------------

    @property
    def recording_path(self) -> Path | None:
        return self._recording.path

    def start_recording(self, path: Path, replace: bool = False) -> None:
        if (previous := self._recording.start(path, replace)) is not None:
            self.info(f"recording saved to {previous}")
        self.info(f"recording to {path}")

    def stop_recording(self) -> Path | None:
        return self._recording.stop()

    def exit(self) -> None:
        self.done = True

    # -- the loop -----------------------------------------------------------

    async def connect(self, target: ConnectOptions) -> bool:
        """Connect on a second session; it replaces the current one only once its
        server has greeted, so a failed ``connect`` leaves the shell as it was."""
        trial = Session(self._on_event)
        # The recording hears of the new connection only if it is kept.
        held: list[Event] = []
        trial.subscribe(held.append)
        try:
            await reach(trial, target, self.resolver)
        except BaseException as exc:  # Ctrl-C too: the half-made connection goes
            await trial.close(f"connection to {trial.endpoint} closed")
            if not isinstance(exc, SmtpShellError):
                raise
            self.error(str(exc))
            return False
        # The old connection ends (without QUIT) now that the new one is up.
        await self.session.close(f"connection to {self.session.endpoint} closed")
        self.session.adopt(trial)
        self._recording.catch_up(held)
        return True

    async def run(self, initial: ConnectOptions | None = None, stdin: TextIO | None = None) -> int:
        if self.config.record is not None:
            self.start_recording(self.config.record, self.config.replace_record)
        try:
            if not self.interactive:
                return await self._run_batch(initial, stdin or sys.stdin)
            return await self._run_interactive(initial)
        finally:
            await self.session.close()
            if (path := self.stop_recording()) is not None:
                self.info(f"recording saved to {path}")
            self._output.flush_now()

    async def _run_interactive(self, initial: ConnectOptions | None) -> int:
        from prompt_toolkit.patch_stdout import patch_stdout

        from smtpshell.shell.pipelining import PipelinedEchoes
        from smtpshell.shell.prompt import above_prompt, build_prompt

        self._echoes = PipelinedEchoes()
        self._prompt = prompt = build_prompt(
            self.session,
            self.registry,
            self.config.history_file,
            self._typing_secret,
            self._pasted,
            self._send_early,
        )
        self._output.around = lambda: above_prompt(prompt)
        with patch_stdout(raw=True):
            if initial is not None and not await self.connect(initial):
                return 1
            while not self.done:
                text = await self._read()
                if text is None:
                    break
                await self._handle_typed(text.split("\n"), self._pasted.take())
        return 0

    async def _run_batch(self, initial: ConnectOptions | None, stdin: TextIO) -> int:
        """Lines from a pipe, as if typed; the exit status says what went wrong first.

        When the server offers PIPELINING (RFC 2920), MAIL, RCPT and RSET go out
        without waiting for their replies, up to the DATA (or other command) that
        ends the group: one round trip instead of one per command.
        """
        source = PipedInput(stdin)
        self._stdin = source  # what `ask` reads comes from the same buffer
        # Each command shown above its reply, though a group's replies come together.
        self.session.unsubscribe(self._on_event)
        self.session.subscribe(CommandsAboveReplies(self._on_event))
        pipeline = Pipeline()
        if initial is not None and not await self.connect(initial):
            return 1
        while not self.done and (raw := await source.line()) is not None:
            line = raw.decode("utf-8", "surrogateescape")
            if not is_utf8(line):
                # A command is ASCII or UTF-8 (RFC 5321 2.4, RFC 6531); a message
                # body may be 8-bit (RFC 6152), and is read apart, as bytes.
                await pipeline.settle(self.session, self.error)
                self.error(f"line {source.number}: not UTF-8 text, not sent")
                continue
            await self._piped_line(line, source, pipeline)
        await pipeline.settle(self.session, self.error)
        return self.exit_status

    async def _piped_line(self, line: str, source: PipedInput, pipeline: Pipeline) -> None:
        """One command line of a piped session, and the message text after a DATA."""
        session = self.session
        role = group_role(session, self.registry, line)
        if role is GroupRole.MEMBER:
            command = line.removeprefix("\\")
            self._auth_answers_next = False
            try:
                pipeline.add(verb_of(command), session.send_nowait(command))
            except SmtpShellError as exc:
                await pipeline.settle(session, self.error)
                self.error(str(exc))
            return
        if role is GroupRole.NONE:
            await pipeline.settle(session, self.error)
        is_data = not session.auth_pending and verb_of(line.removeprefix("\\")) == "DATA"
        if not session.auth_pending and (echo := local_echo(self.registry, line)):
            # Echoed like the SMTP lines, so the output reads as the conversation.
            self._output.put(lambda: self.console.print(echo, style="client"))
        await self.handle(line)
        # The last command of a group is answered after the others (RFC 2920 3.1):
        # their replies are in, unless the connection failed before they came.
        await pipeline.settle(session, self.error)
        if session.in_data:
            await self._piped_message(source)
        elif is_data:
            # The lines up to "." are the message, whatever they look like: sent as
            # commands they could do anything (RSET, QUIT, another RCPT).
            first, last = await source.skip_body()
            self.info(f"message text not sent (lines {first}-{last}): DATA was not accepted")

    async def _piped_message(self, source: PipedInput) -> None:
        """Message text after 354, up to the line ".": streamed in blocks, with a
        summary line; line by line when each line must show (-v) or be recorded."""
        session = self.session
        by_line = self.config.verbose or self._recording.path is not None
        body = (
            source.body_lines()
            if by_line
            else source.body(lambda text: session.notify(text, "warning"))
        )
        try:
            if by_line:
                await self._message_by_line(body, source)
            else:
                await session.send_message(body)
        except SmtpShellError as exc:
            abandoned = source.in_message
            if abandoned and session.connected:
                # Part of the message is out: only closing keeps the server from
                # delivering it without what was refused or never came.
                await session.close()
            self.error(str(exc) + ("; the message was not sent" if abandoned else ""))
            if abandoned:
                await source.skip_body()
        finally:
            await body.aclose()

    async def _message_by_line(self, body: AsyncGenerator[bytes, None], source: PipedInput) -> None:
        async for raw in body:
            try:
                self.session.send_data_line(raw.decode("utf-8", "surrogateescape"))
            except CommandRejected as exc:
                raise CommandRejected(f"line {source.number}: {exc}") from None
            # Flow control: input read faster than the server takes it waits here
            # instead of piling up in memory.
            await self.session.drain()
        await self.session.end_data()

    def _typing_secret(self) -> bool:
        return self._secret_prompt or self.session.auth_pending

    async def _read(self) -> str | None:
        from smtpshell.shell.prompt import prompt_fragments

        assert self._prompt is not None
        while True:
            # A line begun while a 334 is pending is a credential to the end, even
            # if the server gives up (421) before Enter.
            await self._output.flush()
            # What a paste left to edit, a credential by the paste's own lines or not.
            tail, tail_secret = self._pasted.take_tail()
            self._secret_prompt = self.session.auth_pending or tail_secret
            try:
                return await self._prompt.prompt_async(
                    lambda: self._accepted_prompt or prompt_fragments(self.session),
                    default=tail,
                )
            except KeyboardInterrupt:
                continue
            except EOFError:
                if self.session.in_data:
                    return "."  # Ctrl-D ends the message, as "." does
                return None
            finally:
                self._accepted_prompt = None
                # Held since a line went out early. Shown from the next await on:
                # by then the terminal is back in raw mode for the wait (_guarded),
                # so a Ctrl-C prompted by the reply arrives as a key.
                self._output.release()

    def _send_early(self, text: str) -> None:
        """Enter accepted ``text``: when it is an SMTP command for the server, send it
        now, before prompt_toolkit redraws the line and leaves the prompt; the reply
        is waited for, shown and counted as usual (``_handle_typed``). What needs
        more than sending (local commands, AUTH answers, message text, refusals) is
        left to ``handle``, as is a paste (its lines may go out as a group)."""
        if self._pasted.accepting or "\n" in text or self._early is not None:
            return
        from smtpshell.shell.prompt import prompt_fragments

        line = self._server_line(text)
        if line is None or verb_of(line) == "AUTH":
            # Not AUTH: a 334 arriving before the prompt is left would redraw the
            # accepted line masked.
            return
        # The prompt is drawn once more, as accepted: as it is now, not as the
        # reply may already have changed it (" data" after a 354).
        self._accepted_prompt = prompt_fragments(self.session)
        try:
            future = self.session.send_nowait(line)
        except SmtpShellError:
            self._accepted_prompt = None
            return  # handle() tries again and says why it cannot
        self._early = (text, future)
        # Output waits until the prompt is left: drawn now, a fast reply would land
        # on the prompt's line before prompt_toolkit redraws it as accepted.
        self._output.hold()

    def _server_line(self, line: str) -> str | None:
        """What ``_command`` would send of ``line`` with nothing else to do, or None
        when it would do more or other (a local command, a slip, a refusal), when the
        line is or may be a secret, or when it is not a command (DATA, AUTH answers)."""
        session = self.session
        if not session.connected or session.in_data or self._typing_secret():
            return None
        if not line.strip() or not is_utf8(line) or self.registry.match(line) is not None:
            return None
        if self.registry.secret_start(line) is not None:
            return None  # AUTH PLAIN with its initial response: the usual path
        try:
            return self._to_send(line)
        except (UsageError, NotConnected):
            return None  # _command says why, on the usual path

    async def _handle_typed(
        self, lines: list[str], pasted: list[tuple[str, int | None]] | None = None
    ) -> None:
        """What was typed or pasted at one prompt, line by line; the ``pasted`` lines
        after it are each shown at a prompt first, so replies come under their lines.
        Ctrl-C abandons the rest of a pasted block: the user stopped it, so nothing
        more is sent."""
        todo: list[tuple[str, bool, int | None]] = [(line, False, None) for line in lines]
        todo += [(line, True, start) for line, start in pasted or ()]
        early, self._early = self._early, None
        index = 0
        while index < len(todo):
            line, show, start = todo[index]
            group = self._pipeline_group(todo[index:])
            if show:
                self._show_pasted(line, start)
            if early is not None and index == 0 and early[0] == line:
                count, work = 1, self._await_early(line, early[1])
            elif len(group) > 1:
                count, work = len(group), self._send_group(group)
            else:
                count, work = 1, self.handle(line)
            finished = await self._guarded(work)
            self._secret_prompt = False
            index += count
            if not finished:
                left = len(todo) - index + (1 if self._pasted.take_tail()[0] else 0)
                if left:
                    self.info(f"the other {left} pasted line(s) were not sent")
                return

    async def _await_early(self, line: str, reply: asyncio.Future[Reply]) -> None:
        """The rest of ``_command`` for a line ``_send_early`` sent."""
        self._auth_answers_next = verb_of(line.removeprefix("\\")) == "AUTH"
        try:
            await self.session.wait_reply(reply, verb_of(line.removeprefix("\\")) or "the line")
        except SmtpShellError as exc:
            self.error(str(exc))

    def _pipeline_group(self, todo: list[tuple[str, bool, int | None]]) -> list[tuple[str, str]]:
        """The lines that go out as one group from the first of ``todo`` on, each as
        typed and as sent (without a leading backslash): only when the server offers
        PIPELINING (RFC 2920), only SMTP commands sent as they are, none secret."""
        from smtpshell.shell.pipelining import group_size

        capabilities = self.session.capabilities
        if capabilities is None or not capabilities.has("PIPELINING"):
            return []
        sendable: list[tuple[str, str]] = []

        def verbs() -> Iterator[str | None]:  # computed only up to the group's end
            for line, _, start in todo:
                sent = self._server_line(line) if start is None else None
                if sent is not None:
                    sendable.append((line, sent))
                yield None if sent is None else verb_of(sent)

        return sendable[: group_size(verbs())]

    async def _send_group(self, group: list[tuple[str, str]]) -> None:
        """Send the lines of a group at once, then wait for each reply in order; each
        line after the first is shown under the reply to the one before it."""
        session, echoes = self.session, self._echoes
        assert echoes is not None
        owed_before = len(session.awaiting)
        replies: list[tuple[str, asyncio.Future[Reply]]] = []
        for _, sent in group:
            try:
                replies.append((verb_of(sent), session.send_nowait(sent)))
            except SmtpShellError as exc:
                self.error(str(exc))
                break
            self._auth_answers_next = verb_of(sent) == "AUTH"
        echoes.expect(
            owed_before,
            [partial(self._show_pasted, line, None) for line, _ in group[1 : len(replies)]],
        )
        for verb, reply in replies:
            try:
                await session.wait_reply(reply, verb or "the line")
            except SmtpShellError as exc:
                self.error(str(exc))

    def _show_pasted(self, line: str, secret_start: int | None) -> None:
        from smtpshell.shell.prompt import prompt_fragments, show_as_typed

        session = self.session
        if session.in_data:
            secret_start = None  # message text, never a credential
        elif session.auth_pending:
            secret_start = 0  # the whole line answers a 334
        shown = inert(masked(line, secret_start))
        fragments = prompt_fragments(session)  # the prompt as it is now, not when shown
        prompt = self._prompt
        assert prompt is not None
        self._output.put(lambda: show_as_typed(prompt, fragments, shown))

    async def _guarded(self, work: Awaitable[None]) -> bool:
        """Run one line's work; Ctrl-C abandons the wait (the reply still shows later)
        and makes this return False.

        The terminal stays in raw mode meanwhile: keys typed ahead are kept for the
        next prompt instead of being echoed by the terminal, and Ctrl-C arrives as a
        key rather than a signal.
        """
        from prompt_toolkit.input.typeahead import store_typeahead
        from prompt_toolkit.keys import Keys

        assert self._prompt is not None
        terminal = self._prompt.input
        task = asyncio.ensure_future(work)

        def keys_typed_while_waiting() -> None:
            kept = []
            for press in terminal.read_keys():
                if press.key == Keys.ControlC:
                    task.cancel()
                elif self._typeahead_secret:
                    self._discarded += 1
                else:
                    kept.append(press)
            store_typeahead(terminal, kept)

        try:
            with terminal.raw_mode(), terminal.attach(keys_typed_while_waiting):
                await task
        except asyncio.CancelledError:
            if self._echoes is not None:
                self._echoes.flush()  # the lines that went out, before what is owed
            self._interrupted()
            return False
        return True

    def _interrupted(self) -> None:
        """The wait is abandoned, not the replies: they still come, in order (RFC 5321
        4.1), and each is shown as late when it does; the next command waits for its
        own. A wait that cannot be left in step (STARTTLS) closes the connection."""
        owed = self.session.awaiting
        self._late.extend(owed)
        if owed:
            self.info(f"interrupted: the reply to {', '.join(owed)} will be shown when it comes")
        else:
            self.info("interrupted")

    async def handle(self, line: str) -> None:
        """One line typed at the prompt."""
        session = self.session
        try:
            if session.in_data:
                if line == ".":
                    await session.end_data()
                else:
                    session.send_data_line(line)
            elif not is_utf8(line):
                # A terminal in Latin-1 sends bytes that are not UTF-8; a command or
                # an AUTH answer is ASCII or UTF-8 (RFC 5321 2.4, RFC 6531).
                raise UsageError("this line holds bytes that are not UTF-8 text: not sent")
            elif session.auth_pending:
                await self._answer(line)
            elif self._secret_prompt:
                raise UsageError("the AUTH exchange ended while you typed: that line was not sent")
            elif line.strip():
                await self._command(line)
        except SmtpShellError as exc:
            self.error(str(exc))
        except OSError as exc:  # a local command's file (record /dev/full...)
            where = f"{exc.filename}: " if exc.filename else ""
            self.error(f"{where}{exc.strerror or exc}")

    async def _answer(self, line: str) -> None:
        """A line typed while a 334 waits: the response, unless it is a local command
        (``b64 TEXT`` then answers with the encoding; ``tls`` shows TLS)."""
        found = self.registry.match(line)
        if found is not None:
            await self._run(*found)
            return
        await self.session.send(line.removeprefix("\\"))

    async def _run(self, command: LocalCommand, rest: str) -> None:
        if asks_for_help(rest):
            self.show(help_entry(*command.help_row))
            return
        if command.asks_secret:
            self._typeahead_secret = True
            self._discard_typeahead()
        try:
            await command.handler(self, rest)
        except HelpRequested as exc:
            self.show(exc.text.rstrip("\n"))
        finally:
            if self._typeahead_secret:
                self._discard_typeahead()  # it failed before asking: still thrown away
                self._typeahead_secret = False

    async def _command(self, line: str) -> None:
        found = self.registry.match(line)
        if found is not None:
            await self._run(*found)
            return
        if not self.session.connected and (offline := meaning_offline(line)) is not None:
            await offline[0](self, offline[1])  # QUIT and HELP at smtpshell>
            return
        line = self._to_send(line)
        self._auth_answers_next = verb_of(line) == "AUTH"
        await self.session.send(line)

    def _to_send(self, line: str) -> str:
        """The text a line that is no local command sends to the server (a leading
        ``\\`` dropped), or the error that refuses it: a slip of a local command's
        name, no connection, or a line after AUTH the server did not ask for."""
        escaped = line.startswith("\\")
        if escaped:
            line = line[1:]
        elif (slip := self.registry.near_miss(line)) is not None:
            word = line.lstrip().partition(" ")[0]
            raise UsageError(
                f"unknown command {word!r}: did you mean `{slip[0]}`? "
                f"(start the line with \\ to send it to the server as typed)"
            )
        if not self.session.connected:
            raise NotConnected("not connected: use connect HOST[:PORT] (? lists local commands)")
        if self._auth_answers_next and not escaped and verb_of(line) not in SMTP_VERBS:
            # The lines after AUTH (pasted, piped or typed ahead) are its answers, but
            # the server sent no 334 for them: sent now they would be commands, shown,
            # recorded and logged by the server as such (RFC 4954 4).
            raise UsageError(
                "not sent: the server is not waiting for an AUTH answer (no 334); "
                "start the line with \\ to send it anyway"
            )
        return line
