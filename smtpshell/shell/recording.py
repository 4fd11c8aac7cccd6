"""The transcript the shell is writing, if any: ``--record FILE`` and ``record FILE``."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from smtpshell.protocol.endpoint import TlsMode

if TYPE_CHECKING:
    from pathlib import Path

    from smtpshell.core.session import Session
    from smtpshell.replay.recorder import TranscriptRecorder


class Recording:
    """A transcript recorder subscribed to a session's events, or nothing."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._recorder: TranscriptRecorder | None = None
        self._file: TextIO | None = None
        self.path: Path | None = None

    def start(self, path: Path) -> None:
        """Record to ``path`` from now on, ending any recording under way."""
        from smtpshell.replay.recorder import TranscriptRecorder, open_recording

        self.stop()
        self._file = open_recording(path)
        self._recorder = TranscriptRecorder(self._file)
        session = self._session
        if session.connected and session.endpoint is not None:
            self._recorder.resume(session.endpoint, resume_mode(session))
        session.subscribe(self._recorder)
        self.path = path

    def stop(self) -> Path | None:
        """End the recording; the path written to, or None when not recording."""
        path = self.path
        if self._recorder is not None and self._file is not None:
            self._session.unsubscribe(self._recorder)
            self._recorder.close()
            self._file.close()
        self._recorder = self._file = self.path = None
        return path


def resume_mode(session: Session) -> TlsMode:
    """How a replay gets to where the session is now."""
    if session.mode is TlsMode.IMPLICIT:
        return TlsMode.IMPLICIT
    return TlsMode.STARTTLS if session.tls is not None else TlsMode.PLAIN
