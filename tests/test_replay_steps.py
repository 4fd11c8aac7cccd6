"""What a replay reports: empty transcripts, the failing step's number, Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from cli_runner import run_cli
from scripted_server import ScriptedServer, read_command

ROOT = Path(__file__).resolve().parent.parent


async def _hangs_on_wait(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers 250 to everything but ``NOOP wait``, which it never answers."""
    writer.write(b"220 mx.test ESMTP\r\n")
    await writer.drain()
    while True:
        command = await read_command(reader)
        if command == "NOOP wait":
            await reader.read()  # until the client hangs up
            return
        writer.write(b"221 bye\r\n" if command == "QUIT" else b"250 ok\r\n")
        await writer.drain()


def test_an_empty_transcript_is_an_error_not_a_pass(tmp_path: Path) -> None:
    empty = tmp_path / "empty.smtp"
    empty.write_text("# nothing recorded yet\n\n", encoding="utf-8")
    out, err, status = run_cli("replay", str(empty), "--connect", "127.0.0.1:9")
    assert status == 2
    assert f"{empty}: no steps: a transcript needs a client line" in err
    assert "PASS" not in out


def test_a_failure_names_its_step_number_and_line_once(tmp_path: Path) -> None:
    transcript = tmp_path / "second.smtp"
    transcript.write_text("> NOOP\n250\n> RSET\n550\n> QUIT\n221\n", encoding="utf-8")
    with ScriptedServer(_hangs_on_wait) as scripted:
        out, _err, status = run_cli(
            "replay", str(transcript), "--connect", f"127.0.0.1:{scripted.port}"
        )
    assert status == 1
    first = out.splitlines()[0]
    assert first.startswith(f"FAIL {transcript}:4 (step 2 of 3, ")
    assert out.count(":4") == 1


def test_a_pipelined_failure_is_the_command_whose_reply_failed(tmp_path: Path) -> None:
    transcript = tmp_path / "pipelined.smtp"
    # MAIL, RCPT and RCPT go out together; the second RCPT's reply is the wrong one.
    transcript.write_text(
        "> EHLO me\n250\n> MAIL FROM:<a@x.test>\n> RCPT TO:<b@x.test>\n> RCPT TO:<c@x.test>\n"
        "250\n250\n550\n> QUIT\n221\n",
        encoding="utf-8",
    )
    with ScriptedServer(_hangs_on_wait) as scripted:
        out, _err, status = run_cli(
            "replay", str(transcript), "--connect", f"127.0.0.1:{scripted.port}"
        )
    assert status == 1
    assert out.startswith(f"FAIL {transcript}:8 (step 4 of 5, ")
    assert "sent      > RCPT TO:<c@x.test>" in out


def test_ctrl_c_prints_what_ran_and_exits_130(tmp_path: Path) -> None:
    (tmp_path / "a-passes.smtp").write_text("> NOOP\n250\n> QUIT\n221\n", encoding="utf-8")
    (tmp_path / "b-waits.smtp").write_text("> NOOP wait\n250\n", encoding="utf-8")
    with ScriptedServer(_hangs_on_wait) as scripted:
        process = subprocess.Popen(
            [sys.executable, "-m", "smtpshell", "replay", str(tmp_path),
             "--connect", f"127.0.0.1:{scripted.port}", "--timeout", "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        try:
            assert process.stdout is not None
            # The first result is printed when it finishes; the second then waits.
            assert process.stdout.readline().startswith("PASS ")
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 130, err
    assert out == "replay: 1 passed, 0 failed, 1 not finished (interrupted)\n", (out, err)
    assert "Traceback" not in err


def test_a_pattern_that_fails_is_reported_at_its_own_line_once(tmp_path: Path) -> None:
    transcript = tmp_path / "pattern.smtp"
    transcript.write_text(
        "> NOOP\n250\n> EHLO me # two patterns\n250-~ mx.test\n250 ~ CHUNKING\n> QUIT\n221\n",
        encoding="utf-8",
    )
    junit = tmp_path / "report.xml"
    with ScriptedServer(_hangs_on_wait) as scripted:
        out, _err, status = run_cli(
            "replay", str(transcript), "--connect", f"127.0.0.1:{scripted.port}",
            "--junit", str(junit),
        )  # fmt: skip
    assert status == 1
    assert out.startswith(f"FAIL {transcript}:4 (step 2 of 3, ")
    assert "  no line of the reply matches '~ mx.test'\n" in out
    assert "line 4" not in out
    report = junit.read_text(encoding="utf-8")
    assert "line 4 (step 2 of 3): no line of the reply matches '~ mx.test'\"" in report
