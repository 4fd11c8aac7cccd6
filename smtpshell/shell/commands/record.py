"""``record``: the session as a transcript, written from inside the shell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from smtpshell.core.arguments import ArgumentParser, split_arguments
from smtpshell.errors import UsageError
from smtpshell.shell.registry import LocalCommand

if TYPE_CHECKING:
    from smtpshell.shell.context import CommandContext


async def record(ctx: CommandContext, rest: str) -> None:
    """Record the session to FILE as a replayable transcript (secrets become ${VARS})."""
    parser = ArgumentParser(prog="record", add_help=False)
    parser.add_argument("file", nargs="?")
    parser.add_argument("--force", "-f", action="store_true")
    args = parser.parse_args(split_arguments(rest))
    if args.file == "stop":
        path = ctx.stop_recording()
        if path is None:
            raise UsageError("not recording")
        ctx.info(f"recording saved to {path}: replay it with smtpshell replay {path}")
        return
    if args.file is None:
        path = ctx.recording_path
        ctx.info(f"recording to {path}" if path else "not recording")
        return
    # A file that exists is an earlier recording, perhaps: replaced only when asked.
    ctx.start_recording(Path(args.file).expanduser(), replace=args.force)


COMMANDS = (LocalCommand("record", record, usage="record FILE [--force] | record stop"),)
