"""One connection served from a transcript: greet, then check and answer each line.

Commands are read one line at a time and answered in order, so a client that
pipelines (RFC 2920) is served as one that waits: what it sent ahead stays in the
socket until its turn. The first deviation is answered with the mismatch reply, and
the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from smtpshell.errors import SmtpShellError
from smtpshell.playback.matching import body_regex, compare_body, expand, expect_client
from smtpshell.playback.script import Script, wire_lines
from smtpshell.protocol.commands import verb_of
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.protocol.inert import inert
from smtpshell.protocol.secrets import split_secret
from smtpshell.transcript import ClientStep

DEFAULT_MISMATCH_REPLY = "554 5.5.0 smtpshell: transcript expected {expected} ({where})"
# Lines longer than this are a deviation of their own (RFC 5321 4.5.3.1.6 allows 1000
# octets; a little more is tolerated, a flood is not).
LINE_LIMIT = 1 << 16
_SHOWN = 200  # characters of a line quoted in a report
_SHOWN_IN_REPLY = 100
# Message text kept beyond the transcript's own: enough to show where it differs.
_EXTRA_BODY_LINES = 1000


@dataclass(frozen=True)
class Settings:
    """How a conversation is served; ``tls`` serves STARTTLS (and implicit TLS)."""

    tls: ssl.SSLContext | None = None
    timeout: float = 30.0
    mismatch_reply: str = DEFAULT_MISMATCH_REPLY


class Deviation(SmtpShellError):
    """The client left the script; ``str()`` is the report's text after ``FILE:LINE:``."""

    def __init__(self, line: int, message: str, expected: str, answer: bool = True) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.expected = expected
        self.answer = answer  # False: the connection is gone or unusable, send nothing


def _quote(text: str) -> str:
    shown = inert(text)
    if len(shown) > _SHOWN:
        shown = shown[:_SHOWN] + "..."
    return shown if shown else "an empty line"


def _shown_sent(line: str, step: ClientStep) -> str:
    """The client's line for a report: never a credential."""
    if step.secret and verb_of(step.text) != "AUTH":
        return "a different answer (not shown: it may be a credential)"
    shown, held_back = split_secret(line)
    return _quote(shown) + (" ********" if held_back else "")


class Conversation:
    """Serve ``script`` once over ``reader``/``writer``; ``run`` returns the deviation."""

    def __init__(
        self,
        script: Script,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        settings: Settings,
        notes: list[str],
    ) -> None:
        self.script = script
        self.reader = reader
        self.writer = writer
        self.settings = settings
        self.notes = notes
        self.index = 0  # the step being served

    def waiting_for(self) -> tuple[int, str]:
        """The transcript line and text the conversation is at (for a stopped client)."""
        steps = self.script.transcript.steps
        if self.index >= len(steps):
            return 0, "the end of the conversation"
        step = steps[self.index]
        return step.line, self._expected_text(step)

    def _expected_text(self, step: ClientStep) -> str:
        if step.kind == "end_data":
            return "the end of the message (.)"
        if step.kind == "data":
            return expand(step, self.script.values)[0] or "an empty line"
        return expect_client(step, self.script.values).expected

    async def run(self) -> Deviation | None:
        directive = self.script.transcript.connect
        line = directive.line if directive is not None else 0
        try:
            await self._send(self.script.greeting())
            if self.script.tls is TlsMode.STARTTLS:
                await self._starttls_prologue(line)
            await self._steps()
            steps = self.script.transcript.steps
            if self.script.transcript.closing is not None:
                await self._send(wire_lines(self.script.transcript.closing))
            elif steps[-1].expect is not None:
                # A last command without a reply is the server closing; after a
                # reply, the client must be the one to leave.
                await self._nothing_more()
        except Deviation as deviation:
            if deviation.answer:
                await self._answer_mismatch(deviation)
            return deviation
        except (ConnectionError, ssl.SSLError) as exc:
            line, expected = self.waiting_for()
            return Deviation(line, f"the connection failed ({exc}); transcript expected "
                             f"{_quote(expected)}", expected, answer=False)  # fmt: skip
        return None

    async def _steps(self) -> None:
        steps = self.script.transcript.steps
        while self.index < len(steps):
            step = steps[self.index]
            if step.kind == "command":
                await self._command(step)
                self.index += 1
            else:
                end = self.index
                while steps[end].kind != "end_data":
                    end += 1
                await self._message(steps[self.index : end + 1])
                self.index = end + 1

    async def _nothing_more(self) -> None:
        """After the last step the client may only leave: a line more is a deviation
        (a client that goes on where the transcript ended is not the one scripted)."""
        steps = self.script.transcript.steps
        last = steps[-1].line if steps else 0
        end = "the end of the conversation"
        try:
            raw = await asyncio.wait_for(self.reader.readuntil(b"\n"), self.settings.timeout)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError, ssl.SSLError):
            return  # gone, or idle: either way it asked for nothing more
        except asyncio.LimitOverrunError:
            raw = b"a line too long to show"
        sent = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
        raise Deviation(
            last,
            f"client sent {_quote(split_secret(sent)[0])} after the transcript's last step; "
            f"transcript expected {end}",
            end,
        )

    async def _command(self, step: ClientStep) -> None:
        expectation = expect_client(step, self.script.values)
        line = await self._read(step.line, expectation.expected)
        if not expectation.accepts(line):
            raise Deviation(
                step.line,
                f"client sent {_shown_sent(line, step)}, transcript expected "
                f"{_quote(expectation.expected)}",
                expectation.expected,
            )
        self._note_unchecked(step, expectation.unchecked)
        if step.expect is None:
            return
        lines = wire_lines(step.expect)
        if step.starttls and step.expect.code == "220":
            await self._upgrade(step.line, lines, "a TLS handshake after STARTTLS")
        else:
            await self._send(lines)

    def _note_unchecked(self, step: ClientStep, names: Sequence[str]) -> None:
        for name in names:
            # A transform's names come joined (``AUTH_USER:AUTH_PASSWORD``): one --var each.
            needed = " ".join(f"--var {one}=..." for one in name.split(":"))
            self.notes.append(
                f"{self.script.where(step.line)}: no value for ${{{name}}} ({needed}): "
                "accepted what the client sent there unchecked"
            )

    async def _starttls_prologue(self, line: int) -> None:
        """A STARTTLS directive (``openssl s_client -starttls smtp``): the transcript
        starts inside TLS, after the EHLO and STARTTLS the client sends by itself."""
        for verbs, reply in (
            (("EHLO", "HELO"), ["250-smtpshell script server", "250 STARTTLS"]),
            (("STARTTLS",), ["220 2.0.0 Ready to start TLS"]),
        ):
            wanted = f"{verbs[0]} (the connect directive starts TLS with STARTTLS)"
            sent = await self._read(line, wanted)
            if verb_of(sent) not in verbs:
                raise Deviation(line, f"client sent {_quote(sent)}, transcript expected {wanted}",
                                verbs[0])  # fmt: skip
            if verbs[0] == "STARTTLS":
                await self._upgrade(line, reply, "a TLS handshake after STARTTLS")
            else:
                await self._send(reply)

    async def _upgrade(self, line: int, reply: list[str], what: str) -> None:
        """Send ``reply`` (STARTTLS's 220) and make the connection TLS.

        RFC 3207 4.2: the client sends nothing after STARTTLS before the handshake.
        """
        context = self.settings.tls
        assert context is not None  # the server makes one for any transcript with TLS
        buffered = bytes(getattr(self.reader, "_buffer", b""))
        if buffered:
            raise Deviation(
                line,
                f"client sent {_quote(buffered.decode('utf-8', 'replace').splitlines()[0])} "
                "after STARTTLS without waiting for its reply (RFC 3207 4.2)",
                "STARTTLS",
            )
        # No await between the 220 and start_tls, which stops reading first: a
        # ClientHello read in between would land in the plain-text buffer.
        self.writer.write("".join(f"{text}\r\n" for text in reply).encode("utf-8"))
        try:
            await asyncio.wait_for(self.writer.start_tls(context), self.settings.timeout)
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise Deviation(line, f"{what} failed: {_quote(reason)}", what, answer=False) from None

    async def _message(self, steps: Sequence[ClientStep]) -> None:
        end = steps[-1]
        body = steps[:-1]
        values = self.script.values
        expected, patterns = [], {}
        for index, step in enumerate(body):
            text, missing = expand(step, values)
            expected.append(text)
            if missing:
                patterns[index] = body_regex(step, values)
                self._note_unchecked(step, missing)
        sent: list[str] = []
        limit = len(expected) + _EXTRA_BODY_LINES
        while True:
            at = body[min(len(sent), len(body) - 1)] if body else end
            line = await self._read(at.line, "the message text")
            if line == ".":
                break
            if len(sent) < limit:
                # RFC 5321 4.5.2: the client doubled a leading dot; undo it.
                sent.append(line[1:] if line.startswith(".") else line)
        difference = compare_body(
            sent,
            expected,
            [step.line for step in body],
            end.line,
            self.script.ignored_headers,
            patterns,
        )
        if difference is not None:
            got = (
                "the end of the message (.)" if difference.sent is None else _quote(difference.sent)
            )
            wanted = (
                "the end of the message (.)" if difference.expected is None else difference.expected
            )
            raise Deviation(
                difference.line, f"client sent {got}, transcript expected {_quote(wanted)}", wanted
            )
        if end.expect is not None:
            await self._send(wire_lines(end.expect))

    async def _read(self, line: int, expected: str) -> str:
        """The next line from the client, without its CRLF; a deviation if none comes."""
        try:
            raw = await asyncio.wait_for(self.reader.readuntil(b"\n"), self.settings.timeout)
        except asyncio.IncompleteReadError as exc:
            what = "in the middle of a line" if exc.partial else ""
            raise Deviation(
                line,
                f"client closed the connection{' ' + what if what else ''}; "
                f"transcript expected {_quote(expected)}",
                expected,
                answer=False,
            ) from None
        except asyncio.LimitOverrunError:
            raise Deviation(
                line,
                f"client sent a line over {LINE_LIMIT} bytes; transcript expected "
                f"{_quote(expected)}",
                expected,
            ) from None
        except TimeoutError:
            raise Deviation(
                line,
                f"client sent nothing for {self.settings.timeout:g} s; transcript expected "
                f"{_quote(expected)}",
                expected,
            ) from None
        except (ConnectionError, ssl.SSLError) as exc:
            raise Deviation(
                line,
                f"the connection failed ({exc}); transcript expected {_quote(expected)}",
                expected,
                answer=False,
            ) from None
        text = raw.decode("utf-8", "surrogateescape")
        if not text.endswith("\r\n") or "\r" in text[:-2] or "\0" in text:
            # A bare LF or CR, or a NUL: what SMTP smuggling is made of (RFC 5321 2.3.8).
            raise Deviation(
                line,
                f"client sent {_quote(text)} (lines end with CRLF, with no bare CR, LF or NUL); "
                f"transcript expected {_quote(expected)}",
                expected,
            )
        return text[:-2]

    async def _send(self, lines: list[str]) -> None:
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode("utf-8"))
        await self.writer.drain()

    async def _answer_mismatch(self, deviation: Deviation) -> None:
        expected = inert(deviation.expected)
        if len(expected) > _SHOWN_IN_REPLY:
            expected = expected[:_SHOWN_IN_REPLY] + "..."
        where = self.script.where(deviation.line)
        reply = self.settings.mismatch_reply.replace("{expected}", expected)
        reply = reply.replace("{where}", inert(where))
        # The client may be gone already: the report says what went wrong.
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self._send([reply])
