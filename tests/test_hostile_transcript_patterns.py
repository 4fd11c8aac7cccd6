"""Reply patterns written by someone else: matching ends in time linear in the reply,
and a pattern that cannot be matched that way is a transcript error (exit 2).

The replays that could spin run in a child process with a deadline: a backtracking
match holds the interpreter inside C code, where no time-out reaches it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import run_cli
from hostile_server import HostileServer, Peer, Script

from smtpshell.transcript import PatternError
from smtpshell.transcript.patterns import parse_reply_text

ROOT = Path(__file__).resolve().parent.parent
# A linear-time match of these replies takes milliseconds; a backtracking one, hours.
DEADLINE_SECONDS = 30.0


def _replying_to_noop(line: bytes) -> Script:
    async def script(peer: Peer) -> None:
        await peer.send(b"220 hostile.test ESMTP\r\n")
        while True:
            await peer.command()
            await peer.send(line + b"\r\n")

    return script


def _replay_in_child(transcript: Path) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "smtpshell", "replay", str(transcript), "--timeout", "5"],
        capture_output=True, text=True, timeout=DEADLINE_SECONDS, env=environ, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "reply"),
    [
        pytest.param("/^(a+)+$/", b"250 " + b"a" * 4000 + b"!", id="nested-quantifier"),
        pytest.param("~ " + "*a" * 12 + "*b", b"250 " + b"a" * 4000, id="glob-12-stars"),
        pytest.param("= " + "*a" * 12 + "*b", b"250 " + b"a" * 4000, id="exact-glob-12-stars"),
    ],
)
def test_hostile_patterns_are_matched_in_linear_time(
    pattern: str, reply: bytes, tmp_path: Path
) -> None:
    """ReDoS (CWE-1333): with a backtracking engine, ``/^(a+)+$/`` against a long run
    of ``a`` and a glob of a dozen stars against a 4,000-character line spin at 100%
    CPU for hours, and ``--timeout`` (which bounds waiting for replies) cannot stop
    them. Matched in linear time, the replay fails at once (exit 1)."""
    transcript = tmp_path / "redos.smtp"
    with HostileServer(_replying_to_noop(reply)) as server:
        transcript.write_text(f"> telnet 127.0.0.1 {server.port}\n220\n> NOOP\n250 {pattern}\n")
        started = time.monotonic()
        done = _replay_in_child(transcript)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAIL {transcript}:4" in done.stdout
    assert "no line of the reply matches" in done.stdout
    assert time.monotonic() - started < DEADLINE_SECONDS


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        pytest.param("/" + "(" * 2000 + "a" + ")" * 2000 + "/", "nested", id="nested-2000"),
        pytest.param("/(a)\\1/", "no backreferences or lookaround", id="backreference"),
        pytest.param("/(?=a)a/", "no backreferences or lookaround", id="lookahead"),
        pytest.param("/(?<!x)a/", "no backreferences or lookaround", id="lookbehind"),
        pytest.param("/a{1001}/", "bad regular expression", id="repeat-too-large"),
        pytest.param("/" + "a" * 1_000_000 + "/", "bad regular expression", id="too-large"),
    ],
)
def test_unusable_patterns_are_transcript_errors(
    pattern: str, fragment: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A pattern nested 2,000 deep used to raise RecursionError (a traceback);
    backreferences and lookaround cannot be matched in linear time. Each is one
    ``FILE:LINE:`` error, exit 2, before anything is sent, and the regular
    expression library writes nothing of its own to the terminal."""
    transcript = tmp_path / "bad.smtp"
    transcript.write_text(f"> telnet 127.0.0.1 9\n220\n> NOOP\n250 {pattern}\n")
    out, err, status = run_cli("replay", str(transcript))
    assert status == 2, out + err
    assert err.startswith(f"smtpshell replay: {transcript}:4: ")
    assert fragment in err and err.count("\n") == 1
    assert len(err) < 400
    assert capfd.readouterr().err == ""


def test_regular_expressions_keep_their_meaning() -> None:
    """What transcripts already use still works: classes, anchors, (?i), alternation,
    non-greedy and named groups, escaped '#'."""
    cases = [
        ("/^SIZE \\d+$/", "SIZE 10240", "SIZE x"),
        ("/(?i)queued as [A-F0-9]+/", "Ok: QUEUED AS 4F2A", "queued"),
        ("/^2\\.0\\.0 (Ok|Accepted)/", "2.0.0 Accepted", "2.0.0 Refused"),
        ("/(?P<id>\\w+?)@/", "abc@x", "abc"),
        ("/ \\#\\d+$/", "queued as #12", "queued as 12"),
    ]
    for written, good, bad in cases:
        _, pattern = parse_reply_text(written, 1)
        assert pattern.matches(good), written
        assert not pattern.matches(bad), written


def test_pattern_errors_say_which_line() -> None:
    with pytest.raises(PatternError) as info:
        parse_reply_text("/(?=x)/", 7)
    assert info.value.line == 7
