"""What every case needs: the commands to run, their environment, the server, the sizes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from servers import Target

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CLIENTS = BENCH / "clients"


def smtpshell_command() -> list[str]:
    """The console script users run, installed beside this interpreter, if it is there."""
    script = Path(sys.executable).parent / "smtpshell"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "smtpshell"]


def child_environment(data_home: Path) -> dict[str, str]:
    """The environment of every command: this checkout's code first, a scratch data dir."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["XDG_DATA_HOME"] = str(data_home)
    env["XDG_CONFIG_HOME"] = str(data_home / "config")
    env.pop("NO_COLOR", None)
    # An installed package has its bytecode compiled; a checkout run with this set
    # would compile every module on every start, which no user pays. The warm-up
    # run writes the .pyc files.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


@dataclass
class Bench:
    smtpshell: list[str]
    env: dict[str, str]
    target: Target
    scratch: Path
    runs: int
    quick: bool
    # Starts the embedded server on first use, for what Postfix refuses (100 MB).
    embedded: Callable[[], Target]
    notes: list[str] = field(default_factory=list)

    def python(self, client: str) -> list[str]:
        return [sys.executable, str(CLIENTS / client)]

    def swaks(self) -> str | None:
        return shutil.which("swaks")

    def swaks_tls(self) -> bool:
        """Whether swaks can do STARTTLS here (it needs Perl's Net::SSLeay)."""
        if not self.swaks():
            return False
        support = subprocess.run(["swaks", "--support"], capture_output=True, text=True)
        return "=== TLS supported" in support.stdout + support.stderr

    def file(self, name: str, data: bytes) -> Path:
        path = self.scratch / name
        path.write_bytes(data)
        return path
