"""The transcript the shell is writing, if any: ``--record FILE`` and ``record FILE``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from smtpshell.errors import UsageError
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.protocol.inert import inert

if TYPE_CHECKING:
    from pathlib import Path

    from smtpshell.core.events import Event
    from smtpshell.core.session import Session
    from smtpshell.replay.recorder import TranscriptRecorder


class Recording:
    """A transcript recorder subscribed to a session's events, or nothing."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._recorder: TranscriptRecorder | None = None
        self._file: TextIO | None = None
        self.path: Path | None = None

    def start(self, path: Path, replace: bool = False) -> Path | None:
        """Record to ``path`` from now on; the path of the recording this one ends, if
        any. An existing file is replaced only when ``replace`` is true.

        The new file is opened before the running recording is touched: when it
        cannot be, the running one goes on as it was.
        """
        from smtpshell.replay.recorder import TranscriptRecorder, open_recording

        if self.path is not None and _same_file(path, self.path):
            raise UsageError(f"already recording to {inert(str(self.path))}")
        stream = open_recording(path, replace)
        previous = self.stop()
        self._file = stream
        self._recorder = TranscriptRecorder(stream)
        session = self._session
        if session.connected and session.endpoint is not None:
            self._recorder.resume(session.endpoint, resume_mode(session))
        session.subscribe(self._recorder)
        self.path = path
        return previous

    def catch_up(self, events: Iterable[Event]) -> None:
        """Record what happened out of the session's sight: a new connection's first
        events, made on a second session that this one has just adopted."""
        if self._recorder is not None:
            for event in events:
                self._recorder(event)

    def stop(self) -> Path | None:
        """End the recording; the path written to, or None when not recording."""
        path = self.path
        if self._recorder is not None and self._file is not None:
            self._session.unsubscribe(self._recorder)
            self._recorder.close()
            self._file.close()
        self._recorder = self._file = self.path = None
        return path


def _same_file(path: Path, other: Path) -> bool:
    try:
        return os.path.samefile(path, other)
    except OSError:  # one of them is not there (any more): not the same file
        return False


def resume_mode(session: Session) -> TlsMode:
    """How a replay gets to where the session is now."""
    if session.mode is TlsMode.IMPLICIT:
        return TlsMode.IMPLICIT
    return TlsMode.STARTTLS if session.tls is not None else TlsMode.PLAIN
