"""Transcripts as tests: replay against real servers, record then replay, reports."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from auth_text import b64
from cli_runner import run_cli
from pty_shell import ShellPty
from scripted_server import ScriptedServer, read_command
from server_fixtures import make_config, stored_messages

from smtpshell.server import BackgroundServer

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPTS = ROOT / "transcripts"
SEED_USER, SEED_PASSWORD = "yourname@163.com", "s3cret-パス"


# Plain values: the shipped transcripts base64-encode them (${b64:AUTH_USER}).
SEED_VARS = [f"--var=AUTH_USER={SEED_USER}", f"--var=AUTH_PASSWORD={SEED_PASSWORD}"]


@pytest.fixture
def seed_server(tmp_path: Path, cert_dir: Path) -> Iterator[BackgroundServer]:
    """The embedded server as the seed walkthroughs need it: AUTH even in plain text."""
    config = make_config(
        tmp_path, cert_dir=cert_dir, users={SEED_USER: SEED_PASSWORD}, auth_plaintext=True
    )
    with BackgroundServer(config) as running:
        yield running


def test_shipped_seed_transcripts_pass(seed_server: BackgroundServer) -> None:
    plain = f"127.0.0.1:{seed_server.port}"
    out, err, status = run_cli(
        "replay", str(TRANSCRIPTS / "seed-1-relay-auth-login.smtp"),
        str(TRANSCRIPTS / "seed-3.2-direct-delivery.smtp"), "--connect", plain, *SEED_VARS,
    )  # fmt: skip
    assert status == 0, out + err
    assert "replay: 2 passed, 0 failed" in out
    out, err, status = run_cli(
        "replay", str(TRANSCRIPTS / "seed-3.1-implicit-tls.smtp"),
        "--connect", f"127.0.0.1:{seed_server.tls_port}", "--cafile", str(seed_server.ca_file),
        *SEED_VARS,
    )  # fmt: skip
    assert status == 0, out + err
    assert len(stored_messages(seed_server)) == 3
    assert stored_messages(seed_server)[0] == (
        b"Subject: subject\r\nfrom:<yourname@163.com>\r\nto:<friend@example.com>\r\n\r\nbody\r\n"
    )


def test_shipped_transcripts_take_addresses_as_variables(seed_server: BackgroundServer) -> None:
    out, err, status = run_cli(
        "replay", "seed-1-relay-auth-login", "--connect", f"127.0.0.1:{seed_server.port}",
        *SEED_VARS, "--var=FROM=me@example.test", "--var=RCPT=you@example.test",
    )  # fmt: skip
    assert status == 0, out + err
    assert stored_messages(seed_server) == [
        b"Subject: subject\r\nfrom:<me@example.test>\r\nto:<you@example.test>\r\n\r\nbody\r\n"
    ]


def test_examples_are_listed_and_replayed_by_name(seed_server: BackgroundServer) -> None:
    out, err, status = run_cli("replay", "--examples")
    assert status == 0, err
    names = [line.split()[0] for line in out.splitlines()[:-1]]
    assert names == [path.stem for path in sorted(TRANSCRIPTS.glob("*.smtp"))]
    assert "seed-3.2-direct-delivery  Seed walkthrough, section 3.2: straight to" in out
    out, err, status = run_cli(
        "replay", "seed-3.2-direct-delivery.smtp", "--connect", f"127.0.0.1:{seed_server.port}"
    )
    assert status == 0, out + err
    assert "replay: 1 passed, 0 failed" in out


def test_examples_are_package_data_and_the_repository_folder_is_them() -> None:
    from smtpshell.replay.examples import examples

    shipped = examples()
    assert set(shipped) == {"seed-1-relay-auth-login", "seed-3.1-implicit-tls",
                            "seed-3.2-direct-delivery"}  # fmt: skip
    for name, path in shipped.items():
        assert (TRANSCRIPTS / f"{name}.smtp").read_bytes() == path.read_bytes()
    # Installed with the package: its package data takes every one of them.
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["smtpshell"]
    package = ROOT / "smtpshell"
    data = {path for pattern in patterns for path in package.glob(pattern)}
    assert set(shipped.values()) <= data


def test_replay_without_a_path_says_what_to_give() -> None:
    _out, err, status = run_cli("replay")
    assert status == 2
    assert "give transcript files or directories (--examples lists the shipped ones)" in err


def test_record_then_replay_round_trip_without_secrets(
    server: BackgroundServer, tmp_path: Path
) -> None:
    from conftest import PASSWORD, USER

    recording = tmp_path / "session.smtp"
    script = "\n".join(
        ["EHLO me", "STARTTLS", "EHLO me", "AUTH LOGIN", b64(USER), b64(PASSWORD),
         "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", "Subject: # hash",
         ".dot", "${NOT_A_VAR}", ".", "QUIT", ""]
    )  # fmt: skip
    ca = str(server.ca_file)
    out, err, status = run_cli(
        "--connect", f"127.0.0.1:{server.port}", "--cafile", ca, "--record", str(recording),
        "--no-history", stdin=script,
    )  # fmt: skip
    assert status == 0, err
    text = recording.read_text(encoding="utf-8")
    for secret in (PASSWORD, b64(PASSWORD), b64(USER)):
        assert secret not in text
    # The plain values are asked for: the transcript base64-encodes them itself.
    assert "> ${b64:AUTH_USER}" in text and "> ${b64:AUTH_PASSWORD}" in text
    assert "replay needs: --var AUTH_USER=... --var AUTH_PASSWORD=..." in text
    # Replayed unchanged against the same server: queue ids and dates differ, it passes.
    out, err, status = run_cli(
        "replay", str(recording), "--cafile", ca,
        f"--var=AUTH_USER={USER}", "--env=AUTH_PASSWORD",
        environ={"NO_COLOR": "1", "AUTH_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert status == 0, out + err
    first, second = stored_messages(server)
    assert first == second == b"Subject: # hash\r\n.dot\r\n${NOT_A_VAR}\r\n"


async def _rejecting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 strict.test ESMTP\r\n")
    while True:
        command = (await read_command(reader)).upper()
        if command.startswith("RCPT"):
            writer.write(b"550 5.1.1 <nobody@example.test>: Recipient address rejected\r\n")
        elif command == "QUIT":
            writer.write(b"221 2.0.0 Bye\r\n")
        else:
            writer.write(b"250 2.0.0 Ok\r\n")
        await writer.drain()


def test_mismatch_names_the_line_expected_and_got(tmp_path: Path) -> None:
    transcript = tmp_path / "strict.smtp"
    transcript.write_text(
        "> telnet strict.test 25\n220\n> EHLO me\n250\n> MAIL FROM:<a@example.test>\n250\n"
        "> RCPT TO:<nobody@example.test> # line 7\n250 Ok\n> QUIT\n221\n",
        encoding="utf-8",
    )
    junit = tmp_path / "report.xml"
    with ScriptedServer(_rejecting) as scripted:
        out, _err, status = run_cli(
            "replay", str(transcript), "--connect", f"127.0.0.1:{scripted.port}",
            "--junit", str(junit),
        )  # fmt: skip
    assert status == 1
    assert f"FAIL {transcript}:8" in out
    assert "sent      > RCPT TO:<nobody@example.test>" in out
    assert "expected  250 Ok" in out
    assert "got       550 5.1.1 <nobody@example.test>: Recipient address rejected" in out
    assert "replay: 0 passed, 1 failed" in out
    assert 'failures="1"' in junit.read_text(encoding="utf-8")


def test_missing_variable_exits_2_before_connecting(tmp_path: Path) -> None:
    connections: list[int] = []

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)

    transcript = tmp_path / "auth.smtp"
    transcript.write_text("> AUTH PLAIN ${AUTH_PLAIN}\n235\n", encoding="utf-8")
    with ScriptedServer(count) as scripted:
        _out, err, status = run_cli(
            "replay", str(transcript), "--connect", f"127.0.0.1:{scripted.port}"
        )
    assert status == 2
    assert f"{transcript}:1: no value for ${{AUTH_PLAIN}} (line 1)" in err
    assert connections == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "no/such/file.smtp"], "no/such/file.smtp: no such file or directory"),
        (["replay", "--jobs", "0", "x"], "--jobs wants a number from 1 to 64"),
        (["replay", "--var", "=x", "x"], "--var wants NAME=VALUE"),
    ],
)
def test_replay_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("> NOOP\n250\n", encoding="utf-8")
    _, err, status = run_cli(*[str(tmp_path / a) if a == "x" else a for a in args])
    assert status == 2
    assert message in err


def test_transcript_without_directive_needs_connect(tmp_path: Path) -> None:
    (tmp_path / "bare.smtp").write_text("> NOOP\n250\n", encoding="utf-8")
    _, err, status = run_cli("replay", str(tmp_path))
    assert status == 2
    assert "no connect directive in the transcript; pass --connect" in err


def test_replay_over_starttls_and_implicit_tls_with_jobs(
    server: BackgroundServer, tmp_path: Path
) -> None:
    from conftest import PASSWORD, USER

    from smtpshell.protocol.auth import plain_response

    body = (
        "220\n> EHLO me\n250 ~ AUTH*PLAIN\n> AUTH PLAIN ${AUTH_PLAIN}\n235\n"
        "> MAIL FROM:<a@example.test>\n250\n> RCPT TO:<b@example.test>\n250\n> DATA\n354\n"
        "> Subject: tls\n>\n> \\.\n> .\n250 /^OK: stored as \\S+$/\n> QUIT\n221\n"
    )
    for index in range(4):
        (tmp_path / f"starttls-{index}.smtp").write_text(
            f"> smtpshell --connect 127.0.0.1:{server.port} --starttls\n" + body, encoding="utf-8"
        )
    (tmp_path / "implicit.smtp").write_text(
        f"> openssl s_client -crlf -connect 127.0.0.1:{server.tls_port}\n" + body,
        encoding="utf-8",
    )
    out, err, status = run_cli(
        "replay", str(tmp_path), "--cafile", str(server.ca_file), "--jobs", "3", "-v",
        "--env", "AUTH_PLAIN",
        environ={"NO_COLOR": "1", "AUTH_PLAIN": plain_response(USER, PASSWORD)},
    )  # fmt: skip
    assert status == 0, out + err
    assert "replay: 5 passed, 0 failed" in out
    assert "> AUTH PLAIN ********" in out  # -v shows the conversation, redacted
    assert plain_response(USER, PASSWORD) not in out
    assert stored_messages(server) == [b"Subject: tls\r\n\r\n.\r\n"] * 5


def test_pytest_plugin_collects_transcripts(
    pytester: pytest.Pytester, seed_server: BackgroundServer
) -> None:
    folder = pytester.mkdir("transcripts")
    for name in ("seed-1-relay-auth-login.smtp", "seed-3.2-direct-delivery.smtp"):
        (folder / name).write_text((TRANSCRIPTS / name).read_text(encoding="utf-8"))
    (folder / "wrong.smtp").write_text("> HELO me\n550\n", encoding="utf-8")
    pytester.makeini(
        f"""
        [pytest]
        smtp_transcripts = transcripts
        smtp_connect = 127.0.0.1:{seed_server.port}
        smtp_vars =
            AUTH_USER={SEED_USER}
            AUTH_PASSWORD={SEED_PASSWORD}
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*wrong.smtp:2: expected 550, got 250*"])


def test_record_in_the_shell_replay_then_break_it(
    start_shell: Callable[..., ShellPty], server: BackgroundServer, tmp_path: Path
) -> None:
    recording = tmp_path / "shell.smtp"
    sh = start_shell("--connect", f"127.0.0.1:{server.port}")
    sh.expect("plain>")
    for line, expected in [
        (f"record {recording}", "recording to"),
        ("EHLO localhost", "250 HELP"),
        ("MAIL FROM:<a@example.test>", "250"),
        ("RCPT TO:<b@example.test>", "250"),
        ("NOOP", "250"),
        ("record stop", "recording saved to"),
        ("QUIT", "221"),
    ]:
        sh.type(line)
        sh.expect(expected)
    assert sh.close() == 0
    text = recording.read_text(encoding="utf-8")
    assert f"recording started mid-session on 127.0.0.1:{server.port}" in text
    assert "QUIT" not in text
    out, err, status = run_cli("replay", str(recording))
    assert status == 0, out + err
    broken = recording.with_name("broken.smtp")
    lines = text.splitlines()
    index = lines.index("> RCPT TO:<b@example.test>") + 1
    lines[index] = "550 OK"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, err, status = run_cli("replay", str(broken))
    assert status == 1
    assert f"FAIL {broken}:{index + 1}" in out
    assert "expected  550 OK" in out and "got       250 OK" in out
