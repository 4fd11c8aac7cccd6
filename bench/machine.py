"""The header line: which machine, system, interpreter and server the figures come from."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def system() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}"


def load() -> str:
    """The load average when the run began: other work on the machine skews the figures."""
    try:
        return f"load average {os.getloadavg()[0]:.1f} at the start"
    except OSError:
        return "load average unknown"


def header(server: str, runs: int, date: str, load_at_start: str) -> str:
    return (
        f"{date}: {cpu_model()}, {os.cpu_count()} cores, {system()}, "
        f"Python {platform.python_version()}; server: {server}; "
        f"median of {runs} runs after a warm-up; {load_at_start}"
    )
