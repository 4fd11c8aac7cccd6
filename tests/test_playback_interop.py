"""Served transcripts and a real Postfix: one transcript tests both sides.

The README's transcript replays against Postfix as it is served to the README's
client; and a session recorded against Postfix, served back, is followed by the
same client, over implicit TLS with AUTH, its credentials checked.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from cli_runner import run_cli
from interop_env import InteropEnv
from interop_fixtures import alice_login_session, marker

from smtpshell.playback import ScriptServer

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parent.parent


def _readme_block(name: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return next(
        block
        for block in re.findall(r"```(?:python|text)\n(.*?)```", readme, re.S)
        if block.startswith(f"# {name}\n")
    )


def test_the_readme_transcript_serves_its_client_and_replays_against_postfix(
    env: InteropEnv, tmp_path: Path
) -> None:
    (tmp_path / "welcome.smtp").write_text(_readme_block("welcome.smtp"), encoding="utf-8")
    (tmp_path / "mail.py").write_text(_readme_block("mail.py"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("readme_mail", tmp_path / "mail.py")
    assert spec is not None and spec.loader is not None
    mail = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mail)
    send_welcome = mail.send_welcome

    address = env.alice.address
    with ScriptServer(tmp_path / "welcome.smtp", {"CUSTOMER": address}) as server:
        send_welcome(address, server.host, server.port)
    assert server.failures == []
    out, err, status = run_cli(
        "replay", str(tmp_path / "welcome.smtp"), "--connect", f"{env.host}:{env.smtp_port}",
        "--var", f"CUSTOMER={address}",
    )  # fmt: skip
    assert status == 0, out + err


def test_a_session_recorded_against_postfix_served_back_to_the_same_client(
    env: InteropEnv, tmp_path: Path
) -> None:
    recording = tmp_path / "session.smtp"
    script = "\n".join(
        alice_login_session(env, [f"Subject: {marker('playback')}", "", ".leading dot"])
    )
    out, err, status = run_cli(
        "--connect", f"{env.host}:{env.smtps_port}", "--tls", "--cafile", str(env.ca_file),
        "--record", str(recording), "--no-history", stdin=script + "\n",
    )  # fmt: skip
    assert status == 0, out + err
    # Recordings write ${b64:AUTH_USER}: the values are plain.
    values = {"AUTH_USER": env.alice.address, "AUTH_PASSWORD": env.alice.password}
    with ScriptServer(recording, values, cert_dir=tmp_path / "tls") as server:
        assert server.cafile is not None
        out, err, status = run_cli(
            "--connect", f"127.0.0.1:{server.port}", "--tls", "--cafile", str(server.cafile),
            "--no-history", stdin=script + "\n",
        )  # fmt: skip
    assert status == 0, out + err
    assert server.failures == []
    assert server.notes == []
    with ScriptServer(recording, values, cert_dir=tmp_path / "tls") as server:
        run_cli(
            "--connect", f"127.0.0.1:{server.port}", "--tls", "--cafile", str(server.cafile),
            "--no-history", stdin=script.replace(".leading dot", ".another dot") + "\n",
        )  # fmt: skip
    assert len(server.failures) == 1
    assert "client sent .another dot, transcript expected .leading dot" in server.failures[0]
