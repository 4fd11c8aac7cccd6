"""pytest plugin: transcripts as test items, so a team keeps them next to its tests.

Configure in pytest.ini / pyproject ([tool.pytest.ini_options]) or on the command line:

    smtp_transcripts = transcripts        # folders whose *.smtp files are collected
    smtp_connect = 127.0.0.1:2525          # server (else each transcript's directive)
    smtp_tls = implicit                     # plain | starttls | implicit (else the directive's)
    smtp_cafile = ca.pem
    smtp_insecure = false
    smtp_timeout = 30
    smtp_vars = AUTH_USER=... AUTH_PASSWORD=...
    smtp_env = AUTH_USER AUTH_PASSWORD      # environment variables transcripts may use

Command-line options of the same names: --smtp-transcripts, --smtp-connect, --smtp-tls,
--smtp-cafile, --smtp-insecure, --smtp-timeout, --smtp-var NAME=VALUE, --smtp-env NAME.
Only the environment variables named in smtp_env / --smtp-env reach a transcript.

Each transcript is one item and holds nothing shared, so pytest-xdist spreads them over
worker processes (``pytest -n auto``). xdist starts each worker with the command
line the controller was given, so the controller and every worker add the same
configured folders and collect the same items, as xdist requires.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smtpshell.core.options import DEFAULT_TIMEOUT, ConnectOptions
from smtpshell.errors import SmtpShellError
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.protocol.inert import inert
from smtpshell.replay.load import SUFFIX, load, variable_values
from smtpshell.replay.runner import Mismatch, replay
from smtpshell.transcript import MissingVariables


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smtpshell", "SMTP transcripts (smtpshell)")
    group.addoption("--smtp-transcripts", action="append", default=[], metavar="DIR",
                    help="collect *.smtp transcripts under DIR")  # fmt: skip
    group.addoption("--smtp-connect", metavar="HOST[:PORT]", help="server to replay against")
    group.addoption("--smtp-tls", choices=[mode.value for mode in TlsMode], help="TLS mode")
    group.addoption("--smtp-cafile", metavar="PEM", help="trust these CA certificates")
    group.addoption("--smtp-insecure", action="store_true", default=None,
                    help="do not verify certificates")  # fmt: skip
    group.addoption("--smtp-timeout", type=float, metavar="SECONDS", help="time-out per reply")
    group.addoption("--smtp-var", action="append", default=[], metavar="NAME=VALUE",
                    help="value for ${NAME} in transcripts")  # fmt: skip
    group.addoption("--smtp-env", action="append", default=[], metavar="NAME",
                    help="the environment variable NAME gives ${NAME}")  # fmt: skip
    parser.addini("smtp_transcripts", "folders of *.smtp transcripts to collect", type="paths")
    parser.addini("smtp_connect", "server HOST[:PORT] to replay transcripts against")
    parser.addini("smtp_tls", "plain, starttls or implicit")
    parser.addini("smtp_cafile", "CA certificates (PEM) for TLS verification")
    parser.addini("smtp_insecure", "skip certificate verification", type="bool", default=False)
    parser.addini("smtp_timeout", "time-out per reply, in seconds", default=str(DEFAULT_TIMEOUT))
    parser.addini("smtp_vars", "NAME=VALUE pairs for ${NAME}", type="linelist")
    parser.addini("smtp_env", "environment variables transcripts may use", type="args")


def _folders(config: pytest.Config) -> list[Path]:
    from_option = [Path(p).resolve() for p in config.getoption("smtp_transcripts")]
    return from_option or [Path(p).resolve() for p in config.getini("smtp_transcripts")]


def pytest_configure(config: pytest.Config) -> None:
    # When pytest runs its default paths (testpaths or the current folder), add the
    # transcript folders so they are collected without being named each time.
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return
    for folder in _folders(config):
        if folder.is_dir() and str(folder) not in config.args:
            config.args.append(str(folder))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.File | None:
    if file_path.suffix != SUFFIX:
        return None
    folders = _folders(parent.config)
    if any(file_path.resolve().is_relative_to(folder) for folder in folders):
        return TranscriptFile.from_parent(parent, path=file_path)
    return None


class TranscriptFile(pytest.File):
    def collect(self) -> Iterator[TranscriptItem]:
        yield TranscriptItem.from_parent(self, name=self.path.name)


class TranscriptFailure(SmtpShellError):
    def __init__(self, mismatch: Mismatch) -> None:
        super().__init__(inert(mismatch.reason))
        self.mismatch = mismatch


class TranscriptItem(pytest.Item):
    def runtest(self) -> None:
        config = self.config
        values = _variables(config)
        transcript = load(self.path, values)
        result = asyncio.run(replay(transcript, _options(config)))
        if result.mismatch is not None:
            raise TranscriptFailure(result.mismatch)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        # Server replies, transcript lines and file names reach a terminal or a CI
        # log here: every line goes through inert().
        error = excinfo.value
        if isinstance(error, TranscriptFailure):
            m = error.mismatch
            lines = [f"{self.path}:{m.line}: {m.reason}"]
            if m.sent:
                lines.append(f"  sent:     > {m.sent}")
            lines += [f"  expected: {line}" for line in m.expected]
            lines += [f"  got:      {line}" for line in m.actual]
            return "\n".join(inert(line) for line in lines)
        if isinstance(error, MissingVariables):
            hint = "smtp_vars / --smtp-var NAME=..., smtp_env / --smtp-env NAME"
            return inert(f"{error} (here: {hint})")
        if isinstance(error, SmtpShellError):
            return inert(str(error))
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"transcript {self.path.name}"


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(f"smtp_{name}")
    return value if value is not None else config.getini(f"smtp_{name}")


def _variables(config: pytest.Config) -> dict[str, str]:
    pairs = [*config.getini("smtp_vars"), *config.getoption("smtp_var")]
    names = [*config.getini("smtp_env"), *config.getoption("smtp_env")]
    return variable_values(pairs, names, os.environ)


def _options(config: pytest.Config) -> ConnectOptions:
    tls = _option(config, "tls")
    cafile = _option(config, "cafile")
    return ConnectOptions.parse(
        _option(config, "connect") or None,
        mode=TlsMode(tls) if tls else None,
        cafile=Path(cafile) if cafile else None,
        insecure=bool(_option(config, "insecure")),
        timeout=float(_option(config, "timeout")),
    )
