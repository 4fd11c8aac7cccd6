"""``record``: the session as a transcript, written from inside the shell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from smtpshell.errors import UsageError
from smtpshell.shell.registry import LocalCommand

if TYPE_CHECKING:
    from smtpshell.shell.context import CommandContext


async def record(ctx: CommandContext, rest: str) -> None:
    """Record the session to FILE as a replayable transcript (secrets become ${VARS})."""
    rest = rest.strip()
    if rest == "stop":
        path = ctx.stop_recording()
        if path is None:
            raise UsageError("not recording")
        ctx.info(f"recording saved to {path}: replay it with smtpshell replay {path}")
        return
    if not rest:
        path = ctx.recording_path
        ctx.info(f"recording to {path}" if path else "not recording")
        return
    ctx.start_recording(Path(rest).expanduser())


COMMANDS = (LocalCommand("record", record, usage="record FILE | record stop"),)
