"""Finding, reading and preparing transcripts before anything is sent."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from smtpshell.errors import UsageError
from smtpshell.protocol.inert import inert
from smtpshell.transcript import (
    Transcript,
    TranscriptError,
    argument_problem,
    environment_values,
    parse_transcript,
    parse_var_option,
    substitute,
)

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
            raise UsageError(
                f"{inert(str(path))}: no such file or directory "
                "(smtpshell replay --examples lists the shipped transcripts)"
            )
    if not found:
        raise UsageError("no transcripts found (a directory is searched for *.smtp files)")
    return found


def variable_values(
    pairs: Iterable[str], env_names: Iterable[str], environ: Mapping[str, str]
) -> dict[str, str]:
    """Values for ``${NAME}``: ``--var NAME=VALUE`` pairs, and the environment variables
    named with ``--env NAME`` (a ``--var`` of the same name wins). Nothing else from
    the environment ever reaches a transcript."""
    try:
        values = environment_values(env_names, environ)
        values.update(parse_var_option(pair) for pair in pairs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return values


def load(path: Path, values: Mapping[str, str]) -> Transcript:
    """Parse and fill in variables; every problem is a TranscriptError or UsageError."""
    return substitute(parse(path), values)


def parse(path: Path) -> Transcript:
    """Read and parse, variables left in place; raises TranscriptError or UsageError."""
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    transcript = parse_transcript(text, str(path))
    if not transcript.step_count:
        # Nothing would be sent or checked: a replay of it would pass whatever the
        # server does (a file saved before anything was recorded, a wrong file).
        raise TranscriptError(str(path), 0, "no steps: a transcript needs a client line ('> ...')")
    return transcript


def read_text(path: Path) -> str:
    """A transcript's text, exactly as written; raises UsageError for a file that is
    not a regular file and UnicodeDecodeError for one that is not UTF-8.

    No newline translation: a bare CR must reach the parser, which refuses it
    (universal newlines would make it a line break no reviewer sees). A FIFO opens
    without waiting for a writer (O_NONBLOCK) and, like a device, is refused.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise UsageError(f"{path}: not a regular file")
        os.set_blocking(descriptor, True)
        return stream.read().decode("utf-8")


Asker = Callable[[str], str]


def ask_for_secrets(
    transcripts: Iterable[Transcript], values: Mapping[str, str], ask: Asker
) -> dict[str, str]:
    """Values for the AUTH variables no ``--var`` or ``--env`` gave, asked for once
    each (``ask`` prompts on the terminal without echo). Only credentials are asked
    for: any other missing variable stays an error, as in a script."""
    wanted: dict[str, str] = {}
    for transcript in transcripts:
        for name in sorted(transcript.secrets - transcript.optional):
            wanted.setdefault(name, transcript.path)
    answers: dict[str, str] = {}
    for name in wanted:
        if name in values:
            continue
        value = ask(f"value for ${{{name}}} (not shown): ")
        if not value:
            continue  # left empty: reported as missing, with the usual hint
        problem = argument_problem(value)
        if problem is not None:
            raise UsageError(f"{name}: the value typed {problem}")
        answers[name] = value
    return answers


def load_all(
    paths: Iterable[Path], values: Mapping[str, str], ask: Asker | None = None
) -> tuple[list[Transcript], list[str]]:
    """All transcripts, or the one-line problems of every one that can't be replayed.

    With ``ask``, a missing AUTH variable is asked for before anything is sent.
    """
    parsed: list[Transcript] = []
    problems: list[str] = []
    for path in paths:
        try:
            parsed.append(parse(path))
        except TranscriptError as exc:
            problems.extend(_problem_lines(exc))
        except UsageError as exc:
            problems.append(str(exc))
    if ask is not None and not problems:
        values = {**values, **ask_for_secrets(parsed, values, ask)}
    transcripts: list[Transcript] = []
    for transcript in parsed:
        try:
            transcripts.append(substitute(transcript, values))
        except TranscriptError as exc:
            problems.extend(_problem_lines(exc))
    return transcripts, problems


def _problem_lines(exc: TranscriptError) -> list[str]:
    return [
        f"{exc.path}:{line}: {message}" if line else f"{exc.path}: {message}"
        for line, message in exc.problems
    ]
