"""``ScriptServer``: a transcript served in a thread, for tests in any runner.

    with ScriptServer("tests/send-receipt.smtp", variables={"USER": "app"}) as server:
        send_receipt(host=server.host, port=server.port, cafile=server.cafile)
    assert server.failures == []

Leaving the ``with`` block waits a moment for the conversation to finish, then stops
the server; ``failures`` then says where the client deviated or stopped, and
``check()`` raises :class:`ScriptFailed` with the same lines.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from smtpshell.errors import SmtpShellError
from smtpshell.playback.conversation import DEFAULT_MISMATCH_REPLY, Settings
from smtpshell.playback.listener import PlaybackServer, tls_context
from smtpshell.playback.script import DEFAULT_IGNORED_HEADERS, Script, load_script


class ScriptFailed(SmtpShellError, AssertionError):
    """The client did not follow the transcript; ``str()`` is the report, one line each."""


class ScriptServer:
    """Serve a transcript on ``host`` (a free port unless ``port``) from a thread.

    ``variables`` give ``${NAME}`` its value; a reference without one accepts anything
    (``notes`` say so). ``cert_dir`` holds the CA and certificate for STARTTLS and
    implicit TLS (default: the embedded server's, as ``smtpshell serve`` uses), or
    ``cert``/``key`` name a certificate of your own. ``cafile`` is the CA to trust.
    """

    def __init__(
        self,
        script: str | Path | Script,
        variables: Mapping[str, str] | None = None,
        *,
        connections: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        cert_dir: str | Path | None = None,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        timeout: float = 30.0,
        ignore_headers: Sequence[str] = DEFAULT_IGNORED_HEADERS,
        mismatch_reply: str = DEFAULT_MISMATCH_REPLY,
        grace: float = 2.0,
    ) -> None:
        if not isinstance(script, Script):
            script = load_script(script, variables, tuple(ignore_headers))
        self.script = script
        self.cafile: Path | None = None
        context = None
        if script.needs_tls:
            context, self.cafile = tls_context(
                Path(cert) if cert else None,
                Path(key) if key else None,
                Path(cert_dir) if cert_dir else None,
            )
        self._settings = Settings(context, timeout, mismatch_reply)
        self._options = {"host": host, "port": port, "connections": connections}
        self._grace = grace
        self._server: PlaybackServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()
        self._closing = asyncio.Event()
        self.host = host
        self.port = 0

    @property
    def failures(self) -> list[str]:
        return list(self._server.failures) if self._server is not None else []

    @property
    def notes(self) -> list[str]:
        return list(self._server.notes) if self._server is not None else []

    def start(self) -> ScriptServer:
        """Return once listening; re-raise what kept the server from starting."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        problems: list[BaseException] = []
        closing = asyncio.Event()  # set from close(), once the server has stopped

        async def main() -> None:
            server = PlaybackServer(self.script, self._settings, **self._options)  # type: ignore[arg-type]
            try:
                await server.start()
            except BaseException as exc:
                problems.append(exc)
                ready.set()
                return
            self._server = server
            self.port = server.port
            ready.set()
            await server.done.wait()
            self._finished.set()
            await closing.wait()  # meanwhile close() runs server.stop() on this loop

        def run() -> None:
            try:
                loop.run_until_complete(main())
            finally:
                self._finished.set()
                loop.close()

        thread = threading.Thread(target=run, name="smtpshell-playback", daemon=True)
        thread.start()
        ready.wait()
        if problems:
            thread.join()
            raise problems[0]
        self._loop, self._thread, self._closing = loop, thread, closing
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every connection was served, or one deviated; False on time-out."""
        return self._finished.wait(timeout)

    def close(self) -> None:
        """Give conversations under way a moment to end, then stop the server."""
        loop, thread, server = self._loop, self._thread, self._server
        if loop is None or thread is None or server is None:
            return
        self._loop = self._thread = None
        stopping = asyncio.run_coroutine_threadsafe(server.stop(self._grace), loop)
        try:
            stopping.result(timeout=self._grace * 2 + 5)
        finally:
            loop.call_soon_threadsafe(self._closing.set)
            thread.join(timeout=10)

    def check(self) -> None:
        """Raise :class:`ScriptFailed` if the client deviated or did not finish."""
        if self.failures:
            raise ScriptFailed("\n".join(self.failures))

    def __enter__(self) -> ScriptServer:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
