"""The pytest plugin under pytest-xdist: transcripts spread across worker processes."""

from __future__ import annotations

import pytest
from server_fixtures import stored_messages

from smtpshell.server import BackgroundServer

pytest.importorskip("xdist")  # a dev dependency: pip install -e .[dev]

COUNT = 12


def test_pytest_n_2_runs_every_transcript_once(
    pytester: pytest.Pytester, server: BackgroundServer
) -> None:
    folder = pytester.mkdir("transcripts")
    nested = folder / "nested"
    nested.mkdir()
    for index in range(COUNT):
        where = nested if index % 2 else folder
        (where / f"t{index:02d}.smtp").write_text(
            f"> telnet 127.0.0.1 {server.port}\n220\n> EHLO me\n250\n"
            "> MAIL FROM:<a@example.test>\n250\n> RCPT TO:<b@example.test>\n250\n"
            f"> DATA\n354\n> Subject: {index:02d}\n> .\n250\n> QUIT\n221\n",
            encoding="utf-8",
        )
    pytester.makeini("[pytest]\nsmtp_transcripts = transcripts\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-v")
    result.assert_outcomes(passed=COUNT)
    # Both workers took transcripts, and each transcript ran exactly once.
    assert any("[gw0]" in line and "PASSED" in line for line in result.outlines)
    assert any("[gw1]" in line and "PASSED" in line for line in result.outlines)
    subjects = sorted(message.split(b"\r\n", 1)[0] for message in stored_messages(server))
    assert subjects == [f"Subject: {index:02d}".encode() for index in range(COUNT)]
