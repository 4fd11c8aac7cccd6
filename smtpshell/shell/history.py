"""Command history on disk that never holds a secret.

prompt_toolkit appends every accepted line to the history, ``is_password`` or not,
and FileHistory writes each entry to disk: secrets must be filtered here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit.history import FileHistory

from smtpshell.protocol.commands import is_utf8
from smtpshell.shell.registry import Registry


def keep_in_history(line: str, registry: Registry, *, in_data: bool, auth_pending: bool) -> bool:
    """Whether a line typed in this state may be kept: never a secret, nor message text."""
    if auth_pending or in_data or "\n" in line:
        return False  # AUTH responses (even "*"), message text and pastes stay out
    if not is_utf8(line):
        return False  # bytes that are not UTF-8 (refused anyway) cannot be stored
    return registry.secret_start(line) is None


class FilteredFileHistory(FileHistory):
    """A FileHistory (mode 0600) that drops lines for which ``keep`` says False."""

    def __init__(self, path: Path, keep: Callable[[str], bool]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
        super().__init__(str(path))
        self._keep = keep

    def append_string(self, string: str) -> None:
        if self._keep(string):
            super().append_string(string)

