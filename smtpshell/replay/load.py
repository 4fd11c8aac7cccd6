"""Finding, reading and preparing transcripts before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from smtpshell.errors import UsageError
from smtpshell.transcript import Transcript, TranscriptError, parse_transcript, substitute

SUFFIX = ".smtp"


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories searched recursively for ``*.smtp``, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob(f"*{SUFFIX}") if p.is_file()))
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    if not found:
        raise UsageError("no transcripts found (a directory is searched for *.smtp files)")
    return found


def load(path: Path, values: Mapping[str, str], environ: Mapping[str, str]) -> Transcript:
    """Parse and fill in variables; every problem is a TranscriptError or UsageError."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    return substitute(parse_transcript(text, str(path)), values, environ)


def load_all(
    paths: Iterable[Path], values: Mapping[str, str], environ: Mapping[str, str]
) -> tuple[list[Transcript], list[str]]:
    """All transcripts, or the one-line problems of every one that can't be replayed."""
    transcripts: list[Transcript] = []
    problems: list[str] = []
    for path in paths:
        try:
            transcripts.append(load(path, values, environ))
        except TranscriptError as exc:
            problems.extend(f"{exc.path}:{line}: {message}" for line, message in exc.problems)
        except UsageError as exc:
            problems.append(str(exc))
    return transcripts, problems
