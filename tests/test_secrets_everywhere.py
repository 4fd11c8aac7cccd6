"""After every way of authenticating in the shell, the password is nowhere: not on
the screen, not in the history file, not in a recorded transcript, not in the
server's log, in clear or in any base64 token (RFC 4954 4 sends credentials as
base64, which hides nothing)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PASSWORD, USER, history_text
from pty_shell import ShellPty, converse
from server_fixtures import make_config

from smtpshell.protocol.auth import b64encode_text, plain_response
from smtpshell.server import BackgroundServer

_TOKEN = re.compile(r"[A-Za-z0-9+/]{6,}={0,2}")


def secret_in(text: str) -> list[str]:
    """Where the password shows in ``text``: in clear, or inside a base64 token."""
    found = [f"clear at {text.index(PASSWORD)}"] if PASSWORD in text else []
    for token in _TOKEN.findall(text):
        for start in range(4):  # the token may not start on a base64 boundary
            chunk = token[start:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            try:
                decoded = base64.b64decode(chunk, validate=True)
            except (binascii.Error, ValueError):
                continue
            if PASSWORD.encode() in decoded:
                found.append(f"base64 {token}")
    return found


def _login_typed(sh: ShellPty) -> None:
    converse(sh, [("AUTH LOGIN", r"334 VXNlcm5hbWU6"), (b64encode_text(USER), r"334")])
    converse(sh, [(b64encode_text(PASSWORD), r"235")])


def _plain_initial(sh: ShellPty) -> None:
    converse(sh, [(f"AUTH PLAIN {plain_response(USER, PASSWORD)}", r"235")])


def _plain_backslash(sh: ShellPty) -> None:
    converse(sh, [(f"\\AUTH PLAIN {plain_response(USER, PASSWORD)}", r"235")])


def _guided(sh: ShellPty) -> None:
    converse(sh, [(f"login {USER} --mech LOGIN", r"Password:")])
    converse(sh, [(PASSWORD, r"authenticated as")])


def _pasted(sh: ShellPty) -> None:
    block = "\n".join(["AUTH LOGIN", b64encode_text(USER), b64encode_text(PASSWORD)])
    sh.keys(f"\x1b[200~{block}\x1b[201~\r")
    sh.expect(r"235")


def _interrupted(sh: ShellPty) -> None:
    converse(sh, [("AUTH LOGIN", r"334 VXNlcm5hbWU6"), (b64encode_text(USER), r"334")])
    sh.keys(b64encode_text(PASSWORD) + "\r")
    sh.keys("\x03")  # Ctrl-C while the 235 is on its way
    sh.expect(r"235|interrupted")


PATHS: dict[str, Callable[[ShellPty], None]] = {
    "typed AUTH LOGIN": _login_typed,
    "AUTH PLAIN with initial response": _plain_initial,
    "backslash": _plain_backslash,
    "guided login": _guided,
    "pasted block": _pasted,
    "interrupted": _interrupted,
}


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_no_secret_anywhere_after_auth(
    path: Callable[[ShellPty], None],
    start_shell: Callable[..., ShellPty],
    data_home: Path,
    tmp_path: Path,
    cert_dir: Path,
) -> None:
    log: list[str] = []
    config = make_config(tmp_path, cert_dir=cert_dir, users={USER: PASSWORD})
    transcript = tmp_path / "session.smtp"
    with BackgroundServer(config, log.append) as server:
        sh = start_shell(
            "--connect", f"127.0.0.1:{server.port}", "--starttls",
            "--cafile", str(server.ca_file), "--record", str(transcript),
        )  # fmt: skip
        sh.expect(r"tls>")
        converse(sh, [("EHLO me", r"250 HELP")])
        path(sh)
        converse(sh, [("NOOP", r"250")])
        sh.close()
    assert any("succeeded" in line for line in log), log  # it did log in
    places = {
        "screen": sh.raw,
        "history": history_text(data_home),
        "transcript": transcript.read_text(encoding="utf-8"),
        "server log": "\n".join(log),
    }
    leaks = {where: secret_in(text) for where, text in places.items() if secret_in(text)}
    assert not leaks, leaks
