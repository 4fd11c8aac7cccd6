"""The benchmark runs and prints its table; its delivery check refuses a wrong answer.

Timings are not asserted (they are benchmarks, not tests): only that the table is
there, and that a message which arrived corrupted, or not at all, is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def test_quick_start_up_prints_a_markdown_table() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--runs", "1", "--only", "start-up"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "cores" in lines[0] and "Python" in lines[0] and "server:" in lines[0]
    assert "| what | smtpshell | yardsticks | ratio | target | met? |" in lines
    rows = [line for line in lines if line.startswith("| start-up: `smtpshell --version`")]
    assert len(rows) == 1
    assert "FAILED" not in rows[0]
    assert "python -c pass" in rows[0]


@pytest.fixture
def delivery(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.syspath_prepend(str(BENCH))
    import delivery as module

    return module


def _deliver(maildir: Path, name: str, data: bytes) -> None:
    (maildir / "new").mkdir(parents=True, exist_ok=True)
    (maildir / "new" / name).write_bytes(data)


SENT = b"X-Bench-Token: abc123\r\nSubject: bench abc123\r\n\r\n..dot line\r\nbody\r\n"
TRACE = b"Return-Path: <alice@interop.test>\nReceived: from bench\n\tby mail; today\n"


def test_a_message_that_arrived_intact_passes_and_is_removed(
    delivery: object, tmp_path: Path
) -> None:
    mailbox = delivery.Mailbox(tmp_path, stores_lf=True)  # type: ignore[attr-defined]
    _deliver(tmp_path, "1.bench", TRACE + SENT.replace(b"\r\n", b"\n"))
    mailbox.expect({"abc123": SENT}, timeout=5)
    assert list((tmp_path / "new").iterdir()) == []


def test_a_corrupted_message_is_a_failure(delivery: object, tmp_path: Path) -> None:
    from measure import BenchFailure

    mailbox = delivery.Mailbox(tmp_path, stores_lf=False)  # type: ignore[attr-defined]
    _deliver(tmp_path, "1.bench", SENT.replace(b"..dot", b".dot"))
    with pytest.raises(BenchFailure, match="corrupted"):
        mailbox.expect({"abc123": SENT}, timeout=5)


def test_a_message_that_never_arrived_is_a_failure(delivery: object, tmp_path: Path) -> None:
    from measure import BenchFailure

    _deliver(tmp_path, "old.bench", SENT)  # there before: never counted
    mailbox = delivery.Mailbox(tmp_path, stores_lf=False)  # type: ignore[attr-defined]
    with pytest.raises(BenchFailure, match="never arrived"):
        mailbox.expect({"abc123": SENT}, timeout=0.2)
