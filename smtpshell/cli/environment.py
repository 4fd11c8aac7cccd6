"""Everything the program takes from its surroundings, injectable for tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


@dataclass
class Environment:
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

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


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
