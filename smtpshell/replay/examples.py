"""The walkthrough transcripts installed with smtpshell: list them, find one by name.

They are package data (``smtpshell/data/transcripts``), so ``smtpshell replay NAME``
works wherever smtpshell is installed, not only in a checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from smtpshell.replay.load import SUFFIX


def examples() -> dict[str, Path]:
    """Example name (the file name without ``.smtp``) to its file, sorted by name."""
    folder = resources.files("smtpshell").joinpath("data", "transcripts")
    # An installed package is a folder of files; one in a zip would have no Path,
    # and replay reads transcripts as files.
    if not isinstance(folder, Path) or not folder.is_dir():
        return {}
    return {path.stem: path for path in sorted(folder.glob(f"*{SUFFIX}"))}


def find_example(name: str) -> Path | None:
    """The example called ``name`` (``.smtp`` optional); None for any other text."""
    return examples().get(name.removesuffix(SUFFIX))


def is_example(path: Path) -> bool:
    """Whether ``path`` is one of the shipped files (however it is reached)."""
    target = path.resolve()
    return any(target == example.resolve() for example in examples().values())


def description(path: Path) -> str:
    """The first line of the transcript's opening comment: what it shows."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and line.lstrip("#").strip():
            return line.lstrip("#").strip()
        if line.strip() and not line.startswith("#"):
            break
    return ""


def listing() -> str:
    """``NAME  description`` for each example, one a line, then how to replay one."""
    found = examples()
    width = max((len(name) for name in found), default=0)
    lines = [f"{name:<{width}}  {description(path)}" for name, path in found.items()]
    lines.append("replay one with: smtpshell replay NAME --connect HOST[:PORT] [--var NAME=...]")
    return "\n".join(lines) + "\n"
