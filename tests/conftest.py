"""Shared fixtures: the embedded server on free loopback ports, a private data home,
the shell in a real pseudo-terminal, and the real servers of the interop tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from interop_env import InteropEnv, require_interop
from pty_shell import ShellPty
from server_fixtures import make_config

from smtpshell.server import BackgroundServer

pytest_plugins = ["pytester"]

USER, PASSWORD = "alice", "wonderland"


@pytest.fixture(scope="session", autouse=True)
def config_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An empty XDG_CONFIG_HOME for the whole run, children included: the profiles
    of whoever runs the tests (a default one would route every send) stay out."""
    import os

    home = tmp_path_factory.mktemp("config-home")
    before = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(home)
    yield home
    if before is None:
        del os.environ["XDG_CONFIG_HOME"]
    else:
        os.environ["XDG_CONFIG_HOME"] = before


@pytest.fixture(scope="session")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One CA for the whole run: key generation is the slow part of starting a server.
    return tmp_path_factory.mktemp("server-tls")


@pytest.fixture
def server(tmp_path: Path, cert_dir: Path) -> Iterator[BackgroundServer]:
    """The embedded server: STARTTLS on .port, implicit TLS on .tls_port, one user."""
    config = make_config(tmp_path, cert_dir=cert_dir, users={USER: PASSWORD})
    with BackgroundServer(config) as running:
        yield running


@pytest.fixture
def env() -> InteropEnv:
    """The Postfix + Dovecot + DNS of tests/servers/start, or a skip when they are
    not running (a failure with SMTPSHELL_INTEROP_REQUIRED=1)."""
    return require_interop()


@pytest.fixture
def data_home(tmp_path: Path) -> Path:
    """XDG_DATA_HOME for the program under test: history lives here, never in ~."""
    home = tmp_path / "data-home"
    home.mkdir()
    return home


@pytest.fixture
def start_shell(data_home: Path) -> Iterator[Callable[..., ShellPty]]:
    """Start ``python -m smtpshell ARGS...`` in a pty; closed after the test."""
    started: list[ShellPty] = []

    def start(
        *args: str, env: dict[str, str] | None = None, program: list[str] | None = None
    ) -> ShellPty:
        pty = ShellPty(list(args), data_home, env, program)
        started.append(pty)
        return pty

    yield start
    for pty in started:
        pty.close()


def history_text(data_home: Path) -> str:
    path = data_home / "smtpshell" / "history"
    return path.read_text(encoding="utf-8") if path.exists() else ""
