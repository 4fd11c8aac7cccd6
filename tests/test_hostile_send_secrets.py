"""The password never shows in what `smtpshell send` prints or writes: not when the
server echoes it back in a refusal, not when it is not ASCII, not when the
password command fails or complains on its standard error."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cli_runner import run_cli
from hostile_server import HostileServer, Peer
from test_hostile_send import answer_rest, greet

from smtpshell.send.outcome import SendStatus

PASSWORD = "pässwörd-s3cret"
USER = "u"


def forms(password: str = PASSWORD) -> list[str]:
    """The password as typed, and as the base64 of the AUTH responses that carry it."""
    return [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{USER}\0{password}".encode()).decode(),
    ]


async def echoes_plain(peer: Peer) -> None:
    """Refuses AUTH PLAIN quoting the response, encoded and decoded."""
    await greet(peer, ["AUTH PLAIN"])
    response = (await peer.command()).split()[-1]
    decoded = base64.b64decode(response).replace(b"\0", b" ")
    await peer.send(b"535-5.7.8 bad: " + response.encode() + b"\r\n535 was " + decoded + b"\r\n")
    await answer_rest(peer)


async def echoes_login(peer: Peer) -> None:
    """Refuses AUTH LOGIN quoting the password response, encoded and decoded."""
    await greet(peer, ["AUTH LOGIN"])
    await peer.command()
    await peer.send(b"334 VXNlcm5hbWU6\r\n")
    await peer.command()
    await peer.send(b"334 UGFzc3dvcmQ6\r\n")
    response = (await peer.command()).encode()
    await peer.send(b"535 5.7.8 no " + response + b" = " + base64.b64decode(response) + b"\r\n")
    await answer_rest(peer)


@pytest.mark.parametrize("script", [echoes_plain, echoes_login])
@pytest.mark.parametrize("output", ["summary", "-v", "--json", "--record"])
def test_a_password_the_server_echoes_is_masked_everywhere(
    script: object, output: str, tmp_path: Path
) -> None:
    record = tmp_path / "session.txt"
    extra = {
        "summary": [],
        "-v": ["-v"],
        "--json": ["--json"],
        "--record": ["--record", str(record)],
    }
    with HostileServer(script) as server:  # type: ignore[arg-type]
        out, err, status = run_cli(
            "send", "--server", f"127.0.0.1:{server.port}", "--from", "a@example.com",
            "--to", "b@example.com", "--body", "hi", "--user", USER, *extra[output],
            environ={"NO_COLOR": "1", "SMTPSHELL_PASSWORD": PASSWORD},
        )  # fmt: skip
    assert status == SendStatus.AUTH, err
    sinks = [out, err]
    if output == "--json":
        # Decoded, so a password JSON wrote as \u00e4 escapes is found too.
        sinks.append(json.dumps(json.loads(out), ensure_ascii=False))
    if output == "--record":
        sinks.append(record.read_text(encoding="utf-8"))
    # Before: the summary, -v, --json and the transcript all quoted the server.
    for sink in sinks:
        for form in forms():
            assert form not in sink, (form, sink)
    assert "********" in "".join(sinks)


def test_a_failing_password_command_that_echoes_the_password_is_masked(tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "smtpshell").mkdir(parents=True)
    profiles = config / "smtpshell" / "profiles.toml"
    command = f"echo {PASSWORD}; echo could not unlock {PASSWORD} >&2; exit 3"
    profiles.write_text(
        f'[profiles.p]\nserver = "127.0.0.1:9"\nuser = "{USER}"\nsender = "a@example.com"\n'
        f"password_command = {json.dumps(command)}\n",
        encoding="utf-8",
    )
    profiles.chmod(0o600)
    environ = {"NO_COLOR": "1", "XDG_CONFIG_HOME": str(config)}
    for args in (
        ["send", "--profile", "p", "--to", "b@example.com", "--body", "hi", "-v"],
        ["config", "show", "p", "--check-password"],
    ):
        out, err, _ = run_cli(*args, environ=environ)
        # Before: "failed with exit status 3: could not unlock pässwörd-s3cret".
        assert "exit status 3" in out + err
        assert "could not unlock ********" in out + err
        assert PASSWORD not in out + err
