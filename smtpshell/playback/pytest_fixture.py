"""pytest: the ``smtp_script_server`` fixture, a transcript served to the code under test.

    def test_receipt_is_sent(smtp_script_server):
        server = smtp_script_server("receipt.smtp", SENDER="shop@example.test")
        send_receipt(host=server.host, port=server.port)

The transcript's path is taken from the test file's folder (else the current one).
When the test ends, the server waits a moment for the conversation to finish; if the
client deviated from the transcript or stopped early, the test fails with
``FILE:LINE: client sent X, transcript expected Y``. Installing smtpshell registers
this plugin; without the entry point, ``-p smtpshell.playback.pytest_fixture``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smtpshell.errors import UsageError
from smtpshell.playback.background import ScriptServer

_SERVERS = pytest.StashKey[list[ScriptServer]]()
_REPORT = "the SMTP client did not follow the transcript:"


def _finish(item: pytest.Item) -> list[str]:
    """Stop the item's servers (once) and gather their failures."""
    servers = item.stash.get(_SERVERS, [])
    item.stash[_SERVERS] = []
    failures: list[str] = []
    for server in servers:
        server.close()
        failures.extend(server.failures)
    return failures


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    # Checked in the call phase, so a deviation fails the test itself (not its teardown).
    try:
        result = yield
    except Exception as exc:
        failures = _finish(item)
        if not failures:
            raise
        # The client's own error (smtplib's exception for the 554 it got) follows from
        # the deviation: the deviation is the failure to show.
        report = "\n".join(failures)
        then = f"(then the test failed: {type(exc).__name__}: {exc})"
        raise pytest.fail.Exception(f"{_REPORT}\n{report}\n{then}", pytrace=False) from None
    failures = _finish(item)
    if failures:
        pytest.fail(f"{_REPORT}\n" + "\n".join(failures), pytrace=False)
    return result


@pytest.fixture
def smtp_script_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., ScriptServer]]:
    """Serve a transcript on a free port: ``smtp_script_server(PATH, NAME=VALUE...)``.

    Keyword arguments are ``${NAME}`` values; ``connections=N`` serves it N times,
    ``variables={...}`` gives values whose names are taken, and other keywords
    (``timeout``, ``ignore_headers``, ``mismatch_reply``, ``cert``, ``key``) are
    :class:`ScriptServer`'s. The server has ``host``, ``port`` and ``cafile`` (the CA
    to trust for STARTTLS, made for this test session).
    """
    servers: list[ScriptServer] = []
    request.node.stash[_SERVERS] = servers
    options = {"connections", "timeout", "ignore_headers", "mismatch_reply", "cert", "key"}

    def start(
        path: str | Path, variables: dict[str, str] | None = None, **kwargs: Any
    ) -> ScriptServer:
        chosen = {name: kwargs.pop(name) for name in list(kwargs) if name in options}
        values = {**{name: str(value) for name, value in kwargs.items()}, **(variables or {})}
        cert_dir = tmp_path_factory.getbasetemp() / "smtpshell-script-tls"
        try:
            server = ScriptServer(_locate(request, Path(path)), values, cert_dir=cert_dir, **chosen)
        except UsageError as exc:
            pytest.fail(str(exc), pytrace=False)
        servers.append(server)
        return server.start()

    yield start
    # Without the call-phase hook (the fixture imported by hand), fail at teardown.
    failures = _finish(request.node)
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


def _locate(request: pytest.FixtureRequest, path: Path) -> Path:
    if path.is_absolute():
        return path
    beside = Path(request.node.path).parent / path
    if not beside.exists():
        return path
    # Reports name the file as a user would type it, from where pytest runs.
    try:
        return beside.relative_to(Path.cwd())
    except ValueError:
        return beside
