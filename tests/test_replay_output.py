"""Replay results written as plain text say exactly what rich prints without colour."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.render.theme import make_console
from smtpshell.replay.report import print_result, write_result
from smtpshell.replay.runner import Mismatch, ReplayResult

ROOT = Path(__file__).resolve().parent.parent

# Tabs, wide and combining characters, controls, bidi marks, trailing spaces.
_TEXT = st.text(
    alphabet=st.sampled_from(list("ab .:/\t \u00e9\u65e5\u0301\u202e\x1b\x00\u2028\ufeff#>")),
    max_size=30,
)
_LINES = st.lists(_TEXT, max_size=3).map(tuple)
_MISMATCHES = st.none() | st.builds(
    Mismatch,
    line=st.integers(0, 10_000),
    reason=_TEXT | _TEXT.map(lambda text: "expected " + text),
    sent=_TEXT,
    expected=_LINES,
    actual=_LINES,
)
_RESULTS = st.builds(
    ReplayResult,
    path=_TEXT,
    mismatch=_MISMATCHES,
    steps=st.integers(0, 1000),
    seconds=st.floats(0, 1e4, allow_nan=False),
)


def _rich_text(result: ReplayResult) -> str:
    out = io.StringIO()
    print_result(make_console(out, colour=False), result)
    return out.getvalue()


def _plain_text(result: ReplayResult) -> str:
    out = io.StringIO()
    write_result(out, result)
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(_RESULTS)
def test_plain_results_read_as_rich_prints_them(result: ReplayResult) -> None:
    assert _plain_text(result) == _rich_text(result)


def test_plain_results_do_not_wrap_at_a_narrow_terminal_width(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # COLUMNS gives rich a width; a result line still stays one line.
    monkeypatch.setenv("COLUMNS", "20")
    result = ReplayResult(
        "a/long/path/to/a/transcript.smtp", Mismatch(3, "expected 250"), 2, 0.5, 4
    )
    assert _plain_text(result) == _rich_text(result)
    assert _plain_text(result).startswith("FAIL a/long/path/to/a/transcript.smtp:3 (step 2 of 4")


def test_a_tab_is_expanded_to_rich_tab_stops_counting_wide_characters() -> None:
    # "PASS " and a wide character take 7 cells: the first tab is one space.
    result = ReplayResult("\u65e5\t|\t|", None, 1, 0.0)
    assert _plain_text(result) == "PASS \u65e5 |       | (1 steps, 0.00 s)\n"
    assert _plain_text(result) == _rich_text(result)


def test_a_plain_replay_of_code_only_transcripts_loads_neither_rich_nor_re2(
    tmp_path: Path,
) -> None:
    """Structural: rich is loaded only where it adds something (colour, -v), RE2 with
    the first reply pattern; a replay of many short transcripts pays for neither."""
    transcript = tmp_path / "missing-server.smtp"
    transcript.write_text("> telnet 127.0.0.1 9\n220\n> QUIT\n221\n", encoding="utf-8")
    probe = (
        "import sys\n"
        "from smtpshell.cli.main import main\n"
        "status = main(['replay', sys.argv[1], '--timeout', '5'])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'rich', 're2'})\n"
        "print('loaded:', *loaded, 'status:', status)\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-c", probe, str(transcript)],
        capture_output=True, text=True, env=environment, timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout.splitlines()[-1] == "loaded: status: 1", done.stdout + done.stderr
    assert "FAIL " in done.stdout
