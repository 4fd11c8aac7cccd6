"""``smtpshell replay --update``: rewrite expected replies from what the server says.

Each transcript is replayed with every reply observed rather than checked; when the
conversation went as written, its expected replies are rewritten (see
:mod:`smtpshell.transcript.update`), the change is shown as a diff and the file is
replaced in one step. When it diverged (a step could not be carried out), the file
is left as it is and the step is named.

Only server lines change: client lines keep their ``${...}`` references, so no
credential is ever written, and server text is made inert as the recorder makes it.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smtpshell.protocol.inert import inert
from smtpshell.replay.load import read_text
from smtpshell.replay.runner import ReplayResult, replay
from smtpshell.transcript import Transcript, TranscriptError, parse_transcript
from smtpshell.transcript.update import update_replies

if TYPE_CHECKING:
    from smtpshell.core.events import Listener
    from smtpshell.core.options import ConnectOptions
    from smtpshell.protocol.reply import Reply
    from smtpshell.transcript import ExpectedReply


@dataclass(frozen=True)
class Update:
    result: ReplayResult
    diff: str  # unified diff of the file, "" when nothing changed or it diverged
    problem: str = ""  # why the file was not written, "" when it was (or needed not be)

    @property
    def changed(self) -> bool:
        return bool(self.diff) and not self.problem


async def update(
    transcript: Transcript, options: ConnectOptions, listener: Listener | None = None
) -> Update:
    """Replay ``transcript`` observing its replies, then rewrite its file."""
    observed: list[tuple[ExpectedReply, Reply]] = []
    result = await replay(transcript, options, listener, lambda e, r: observed.append((e, r)))
    if result.mismatch is not None:
        return Update(result, "", "the conversation diverged")
    path = Path(transcript.path)
    try:
        before = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        return Update(result, "", f"cannot read it again: {exc}")
    after = update_replies(before, observed)
    if after == before:
        return Update(result, "")
    try:
        parse_transcript(after, transcript.path)
    except TranscriptError as exc:  # never write a file replay could not read
        return Update(result, "", f"the update would not parse ({exc.message})")
    diff = "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"{transcript.path} (before)",
            f"{transcript.path} (updated)",
        )
    )
    try:
        _replace(path, after)
    except OSError as exc:
        return Update(result, diff, f"cannot write: {exc.strerror or exc}")
    return Update(result, diff)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` over ``path`` in one step, keeping its mode: a reader never
    sees half a file, and an interrupted update leaves the old one."""
    target = path.resolve()
    mode = target.stat().st_mode & 0o7777
    descriptor, temporary = tempfile.mkstemp(prefix=".update-", dir=target.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def update_lines(outcome: Update) -> list[str]:
    """What ``--update`` prints for one transcript: a status line, then the diff."""
    result = outcome.result
    path = inert(result.path)
    mismatch = result.mismatch
    if mismatch is not None:
        lines = [
            f"NOT UPDATED {path}:{mismatch.line} (step {result.steps} of {result.total}): "
            f"the conversation diverged: {inert(mismatch.reason)}"
        ]
        if mismatch.sent:
            lines.append(f"  sent      > {inert(mismatch.sent)}")
        lines += [f"  got       {inert(line)}" for line in mismatch.actual]
        return lines
    if outcome.problem:
        return [f"NOT UPDATED {path}: {inert(outcome.problem)}"]
    if not outcome.diff:
        return [f"UNCHANGED {path}"]
    return [f"UPDATED {path}", *(inert(line) for line in outcome.diff.splitlines())]


def update_summary(outcomes: list[Update]) -> str:
    updated = sum(outcome.changed for outcome in outcomes)
    refused = sum(bool(outcome.problem or outcome.result.mismatch) for outcome in outcomes)
    unchanged = len(outcomes) - updated - refused
    return f"update: {updated} updated, {unchanged} unchanged, {refused} not updated"
