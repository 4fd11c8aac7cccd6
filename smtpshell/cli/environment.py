"""Everything the program takes from its surroundings, injectable for tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO


class Environment:
    """The streams and variables a run uses: the process's own unless given.

    A plain class, not a dataclass: ``dataclasses`` imports ``inspect``, a cost
    ``--version`` would pay for nothing.
    """

    def __init__(
        self,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.stdin: TextIO = sys.stdin if stdin is None else stdin
        self.stdout: TextIO = sys.stdout if stdout is None else stdout
        self.stderr: TextIO = sys.stderr if stderr is None else stderr
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    @property
    def interactive(self) -> bool:
        """Whether a person types the input: stdin is a terminal. Where stdout goes
        does not matter (`smtpshell ... | tee log` still prompts, and still asks for a
        password with echo off); piped input is a script."""
        return _isatty(self.stdin)

    @property
    def data_dir(self) -> Path:
        xdg = self.environ.get("XDG_DATA_HOME", "")
        if xdg and Path(xdg).is_absolute():
            return Path(xdg) / "smtpshell"
        from platformdirs import user_data_dir

        return Path(user_data_dir("smtpshell", appauthor=False))

    @property
    def config_dir(self) -> Path:
        """Where profiles.toml lives: as ``data_dir``, from this environment's
        XDG_CONFIG_HOME rather than the process's, so that tests can point it anywhere."""
        xdg = self.environ.get("XDG_CONFIG_HOME", "")
        if xdg and Path(xdg).is_absolute():
            return Path(xdg) / "smtpshell"
        from platformdirs import user_config_dir

        return Path(user_config_dir("smtpshell", appauthor=False))

    @property
    def profiles_file(self) -> Path:
        """The profiles file: ``profiles.toml`` in ``config_dir``."""
        from smtpshell.core.profiles import FILE_NAME

        return self.config_dir / FILE_NAME

    def password_asker(self) -> Callable[[str], str] | None:
        """A prompt with echo off when a person types the input, else None: a piped
        session is never stopped to ask."""
        if not self.interactive:
            return None

        def ask(prompt: str) -> str:
            import getpass

            try:
                return getpass.getpass(prompt)  # on the terminal itself, not on stdout
            except EOFError:
                return ""

        return ask


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
