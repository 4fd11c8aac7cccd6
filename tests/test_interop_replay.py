"""Transcripts against a real Postfix: record, replay unchanged, patterns on its text.

A recording made against Postfix must replay against Postfix although queue ids
differ between runs; the shipped seed walkthroughs replay once their addresses are
ones this Postfix delivers; and a pattern that matches the embedded server's text
(``stored as``) must fail on Postfix's (``queued as``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from auth_text import b64
from cli_runner import run_cli
from interop_env import InteropEnv, expected_delivery, find_delivered
from interop_fixtures import alice_login_session, marker, prompt
from pty_shell import ShellPty, converse

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPTS = ROOT / "transcripts"
QUEUED = re.compile(r"250 2\.0\.0 Ok: queued as ([0-9A-F]+)")


def login_vars(env: InteropEnv) -> list[str]:
    """Plain values: recordings and the shipped transcripts base64-encode them."""
    return [f"--var=AUTH_USER={env.alice.address}", f"--var=AUTH_PASSWORD={env.alice.password}"]


def test_batch_recording_replays_unchanged(env: InteropEnv, tmp_path: Path) -> None:
    tag = marker("interop-record")
    recording = tmp_path / "session.smtp"
    script = alice_login_session(
        env, [f"Subject: {tag} # not a comment", "", ".leading dot", "${NOT_A_VAR}"]
    )
    out, err, status = run_cli(
        "--connect", f"{env.host}:{env.smtps_port}", "--tls", "--cafile", str(env.ca_file),
        "--record", str(recording), "--no-history", stdin="\n".join(script) + "\n",
    )  # fmt: skip
    assert status == 0, out + err
    recorded_id = QUEUED.search(out)
    assert recorded_id, out
    text = recording.read_text(encoding="utf-8")
    assert f"> smtpshell --connect {env.host}:{env.smtps_port} --tls" in text
    for secret in (b64(env.alice.address), b64(env.alice.password), env.alice.password):
        assert secret not in text
    assert "> ${b64:AUTH_USER}" in text and "> ${b64:AUTH_PASSWORD}" in text

    out, err, status = run_cli(
        "replay", str(recording), "--cafile", str(env.ca_file), "-v", *login_vars(env)
    )
    assert status == 0, out + err
    assert "replay: 1 passed, 0 failed" in out
    replayed_id = QUEUED.search(out)
    assert replayed_id, out
    assert replayed_id.group(1) != recorded_id.group(1)  # and yet it passed
    assert b64(env.alice.password) not in out and env.alice.password not in out

    # Both messages arrived, identical.
    original = f"Subject: {tag} # not a comment\r\n\r\n.leading dot\r\n${{NOT_A_VAR}}\r\n"
    assert find_delivered(env, tag, mailbox="alice") == expected_delivery(original.encode())


def test_cancelled_auth_is_recorded_as_typed(env: InteropEnv, tmp_path: Path) -> None:
    recording = tmp_path / "cancel.smtp"
    script = [
        "EHLO client.test",
        "AUTH LOGIN",
        "*",  # not a secret: the cancel, answered 501
        "AUTH LOGIN",
        b64(env.alice.address),
        b64(env.alice.password),
        "QUIT",
    ]
    out, err, status = run_cli(
        "--connect", f"{env.host}:{env.smtps_port}", "--tls", "--cafile", str(env.ca_file),
        "--record", str(recording), "--no-history", stdin="\n".join(script) + "\n",
    )  # fmt: skip
    assert status == 28, out + err  # the AUTH stage's status: the cancel got 501
    assert "501 5.7.0 Authentication aborted" in out
    text = recording.read_text(encoding="utf-8")
    assert "> *\n501" in text, text
    out, err, status = run_cli(
        "replay", str(recording), "--cafile", str(env.ca_file), *login_vars(env)
    )
    assert status == 0, out + err


def test_recording_in_the_shell_with_starttls_replays(
    start_shell: Callable[..., ShellPty], env: InteropEnv, tmp_path: Path
) -> None:
    recording = tmp_path / "shell.smtp"
    port = env.smtp_port
    sh = start_shell("--connect", f"{env.host}:{port}", "--cafile", str(env.ca_file))
    sh.expect(prompt(env, port, "plain"))
    converse(
        sh,
        [
            (f"record {recording}", "recording to"),
            ("EHLO client.test", "250 CHUNKING"),
            ("STARTTLS", "certificate verified"),
            ("EHLO client.test", "250 CHUNKING"),
            ("MAIL FROM:<someone@example.org>", r"250 2\.1\.0"),
            (f"RCPT TO:<{env.alice.address}>", r"250 2\.1\.5"),
            ("RCPT TO:<nobody@interop.test>", r"550 5\.1\.1"),
            ("RSET", r"250 2\.0\.0"),
            ("record stop", "recording saved to"),
            ("QUIT", "221"),
        ],
    )
    assert sh.close() == 0
    text = recording.read_text(encoding="utf-8")
    assert "> STARTTLS\n220" in text
    out, err, status = run_cli("replay", str(recording), "--cafile", str(env.ca_file))
    assert status == 0, out + err
    assert "replay: 1 passed, 0 failed" in out


def test_shipped_direct_delivery_transcript_is_refused_as_relaying(env: InteropEnv) -> None:
    # Its recipient is destname@163.com: this Postfix is no MX for 163.com.
    seed = TRANSCRIPTS / "seed-3.2-direct-delivery.smtp"
    out, _err, status = run_cli("replay", str(seed), "--connect", f"{env.host}:{env.smtp_port}")
    assert status == 1
    assert "got       554 5.7.1 <destname@163.com>: Relay access denied" in out


def local_seed(name: str, tag: str, tmp_path: Path) -> Path:
    """The shipped transcript with a unique Subject (addresses come from --var RCPT)."""
    text = (TRANSCRIPTS / name).read_text(encoding="utf-8")
    text = text.replace("> Subject: ", f"> Subject: {tag} ", 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_direct_delivery_seed_with_local_recipient(env: InteropEnv, tmp_path: Path) -> None:
    tag = marker("interop-seed-3.2")
    transcript = local_seed("seed-3.2-direct-delivery.smtp", tag, tmp_path)
    out, err, status = run_cli(
        "replay", str(transcript), "--connect", f"{env.host}:{env.smtp_port}",
        f"--var=RCPT={env.alice.address}",
    )  # fmt: skip
    assert status == 0, out + err
    original = (
        f"Subject: {tag} direct delivery\r\nfrom:<yourname@qq.com>\r\n"
        f"to:<{env.alice.address}>\r\n\r\nsent straight to the MX, as in section 3.2\r\n"
    )
    assert find_delivered(env, tag, mailbox="alice") == expected_delivery(original.encode())


def test_implicit_tls_seed_with_login(env: InteropEnv, tmp_path: Path) -> None:
    tag = marker("interop-seed-3.1")
    transcript = local_seed("seed-3.1-implicit-tls.smtp", tag, tmp_path)
    out, err, status = run_cli(
        "replay", str(transcript), "--connect", f"{env.host}:{env.smtps_port}",
        "--cafile", str(env.ca_file), *login_vars(env), f"--var=RCPT={env.bob.address}",
    )  # fmt: skip
    assert status == 0, out + err
    find_delivered(env, tag, mailbox="bob")


def pattern_transcript(env: InteropEnv, after_data: str) -> str:
    return (
        f"> openssl s_client -starttls smtp -connect {env.host}:{env.smtp_port}\n"
        "220 ~ ESMTP Postfix\n"
        "> EHLO client.test\n"
        "250-= mail.interop.test\n"
        "250-~ PIPELINING\n"
        "250-/^SIZE \\d+$/\n"
        "250 = CHUNKING\n"
        "> MAIL FROM:<someone@example.org>\n"
        "250 = 2.1.0 Ok\n"
        f"> RCPT TO:<{env.alice.address}>\n"
        "250 /^2\\.1\\.5 Ok$/\n"
        "> RCPT TO:<victim@example.com>\n"
        "554 ~ *Relay access denied\n"
        "> DATA\n"
        "354 = End data with <CR><LF>.<CR><LF>\n"
        f"> Subject: {marker('interop-pattern')}\n"
        ">\n"
        "> checked by patterns\n"
        "> .\n"
        f"{after_data}\n"
        "> QUIT\n"
        "221 = 2.0.0 Bye\n"
    )


def test_patterns_check_postfix_text(env: InteropEnv, tmp_path: Path) -> None:
    good = tmp_path / "postfix-text.smtp"
    good.write_text(pattern_transcript(env, "250 ~ *queued as*"), encoding="utf-8")
    regex = tmp_path / "postfix-regex.smtp"
    regex.write_text(
        pattern_transcript(env, "250 /^2\\.0\\.0 Ok: queued as [0-9A-F]+$/"), encoding="utf-8"
    )
    # The embedded server's wording does not match Postfix's.
    embedded = tmp_path / "embedded-text.smtp"
    embedded.write_text(pattern_transcript(env, "250 ~ *stored as*"), encoding="utf-8")
    out, err, status = run_cli(
        "replay", str(good), str(regex), str(embedded), "--cafile", str(env.ca_file)
    )
    assert status == 1, out + err
    assert "replay: 2 passed, 1 failed" in out
    line = embedded.read_text(encoding="utf-8").splitlines().index("250 ~ *stored as*") + 1
    assert f"FAIL {embedded}:{line}" in out
    assert re.search(r"got       250 2\.0\.0 Ok: queued as [0-9A-F]+", out)
