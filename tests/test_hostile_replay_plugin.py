"""The pytest plugin against hostile input: environment variables a transcript was not
given, and server text in its failure reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_server import HostileServer, Peer

TOKEN = "glpat-deploy-token-0123456789"


async def _accept_all(peer: Peer) -> None:
    await peer.send(b"220 collector.test ESMTP\r\n")
    while (await peer.command()).upper() != "QUIT":
        await peer.send(b"250 ok\r\n")
    await peer.send(b"221 bye\r\n")


def _collect_one(pytester: pytest.Pytester, port: int, ini: str = "") -> Path:
    folder = pytester.mkdir("transcripts")
    (folder / "token.smtp").write_text(
        "220\n> EHLO ${CI_DEPLOY_TOKEN}\n250\n> QUIT\n221\n", encoding="utf-8"
    )
    pytester.makeini(
        f"[pytest]\nsmtp_transcripts = transcripts\nsmtp_connect = 127.0.0.1:{port}\n{ini}"
    )
    return folder


def test_plugin_reads_no_environment_variable_it_was_not_given(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CWE-526: a collected transcript names its own server, so an environment
    variable reaches it only when smtp_env or --smtp-env names it; otherwise the
    item fails with one line saying how to pass it, and nothing is sent."""
    monkeypatch.setenv("CI_DEPLOY_TOKEN", TOKEN)
    with HostileServer(_accept_all) as server:
        _collect_one(pytester, server.port)
        result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*token.smtp:2: no value for ${CI_DEPLOY_TOKEN} (line 2); pass --var*"
         "smtp_env*"]
    )  # fmt: skip
    assert server.peers == []
    assert TOKEN not in result.stdout.str()


@pytest.mark.parametrize(
    ("ini", "args"),
    [
        pytest.param("smtp_env = OTHER CI_DEPLOY_TOKEN\n", [], id="ini"),
        pytest.param("", ["--smtp-env", "CI_DEPLOY_TOKEN"], id="option"),
    ],
)
def test_plugin_uses_the_environment_variables_it_is_given(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ini: str, args: list[str]
) -> None:
    """The allow-list, in the ini file (names separated by white space) or as an option."""
    monkeypatch.setenv("CI_DEPLOY_TOKEN", TOKEN)
    monkeypatch.setenv("OTHER", "x")
    with HostileServer(_accept_all) as server:
        _collect_one(pytester, server.port, ini)
        result = pytester.runpytest("-p", "no:cacheprovider", *args)
        server.wait_finished()
    result.assert_outcomes(passed=1)
    assert server.clear == f"EHLO {TOKEN}\r\nQUIT\r\n".encode()
