"""The shell's guided AUTH (login) against the real Postfix + Dovecot.

Hand-typed AUTH, mx and connect --mx against the real servers are in the other
test_interop_* modules; these pin `login` to a real SASL implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import history_text
from interop_env import InteropUser, require_interop
from pty_shell import ShellPty

from smtpshell.protocol.auth import b64encode_text, plain_response

pytestmark = pytest.mark.interop


def _login(sh: ShellPty, user: InteropUser, mechanism: str, password: str) -> None:
    sh.type(f"login {user.address} --mech {mechanism}")
    sh.expect(r"Password:")
    sh.type(password)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_guided_login_against_postfix(
    start_shell: Callable[..., ShellPty], data_home: Path, mechanism: str, who: str
) -> None:
    env = require_interop()
    user = env.alice if who == "alice" else env.bob  # bob's password is not ASCII
    sh = start_shell("--connect", f"127.0.0.1:{env.smtps_port}", "--tls",
                     "--cafile", str(env.ca_file))  # fmt: skip
    sh.expect("tls>")
    sh.type("EHLO me")
    sh.expect(r"250 ")
    _login(sh, user, mechanism, user.password)
    sh.expect(rf"> AUTH {mechanism}")
    sh.expect(r"235 2\.7\.0 Authentication successful")
    sh.expect(rf"authenticated as {user.address} with {mechanism}")
    assert sh.close() == 0
    secrets = [user.password, b64encode_text(user.password),
               plain_response(user.address, user.password)]  # fmt: skip
    for secret in secrets:
        assert secret not in sh.raw
        assert secret not in history_text(data_home)


def test_guided_login_wrong_password_shows_535(
    start_shell: Callable[..., ShellPty], data_home: Path
) -> None:
    env = require_interop()
    sh = start_shell("--connect", f"127.0.0.1:{env.smtps_port}", "--tls",
                     "--cafile", str(env.ca_file))  # fmt: skip
    sh.expect("tls>")
    sh.type("EHLO me")
    sh.expect(r"250 ")
    _login(sh, env.alice, "PLAIN", "not-the-password")
    sh.expect(r"535 5\.7\.8 Error: authentication failed")
    sh.expect(r"error: authentication failed \(535\)")
    assert sh.close() == 0
    assert "not-the-password" not in sh.raw + history_text(data_home)
