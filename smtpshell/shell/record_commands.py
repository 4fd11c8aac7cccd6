"""Recording the session as a transcript from inside the shell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from smtpshell.errors import UsageError
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.shell.registry import REGISTRY

if TYPE_CHECKING:
    from smtpshell.shell.app import Shell


@REGISTRY.command("record", usage="record FILE | record stop")
async def record(shell: Shell, rest: str) -> None:
    """Record the session to FILE as a replayable transcript (secrets become ${VARS})."""
    rest = rest.strip()
    if rest == "stop":
        path = shell.stop_recording()
        if path is None:
            raise UsageError("not recording")
        shell.info(f"recording saved to {path}: replay it with smtpshell replay {path}")
        return
    if not rest:
        state = f"recording to {shell.recording_path}" if shell.recording_path else "not recording"
        shell.info(state)
        return
    shell.start_recording(Path(rest).expanduser())


def resume_mode(shell: Shell) -> str:
    """How a replay gets to where the session is now."""
    session = shell.session
    if session.mode is TlsMode.IMPLICIT:
        return "implicit"
    return "starttls" if session.tls is not None else "plain"
