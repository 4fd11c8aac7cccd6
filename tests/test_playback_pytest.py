"""The ``smtp_script_server`` fixture, run by pytest as a user's suite runs it, and the
README's example for developers, exactly as written there."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PLUGIN = "smtpshell.playback.pytest_fixture"

pytest_plugins = ["pytester"]


def _plugin_options() -> list[str]:
    """``-p`` for the fixture's plugin, unless the installed entry point loads it already."""
    loaded = any(
        entry.value == PLUGIN for entry in importlib.metadata.entry_points(group="pytest11")
    )
    return ["-p", "no:cacheprovider"] + ([] if loaded else ["-p", PLUGIN])


def _readme_files() -> dict[str, str]:
    """The README's code blocks that start with a ``# NAME`` comment line, by NAME."""
    files = {}
    for block in re.findall(r"```(?:python|text)\n(.*?)```", README, re.S):
        first = block.split("\n", 1)[0]
        if re.fullmatch(r"# [\w.]+\.(py|smtp)", first):
            files[first[2:]] = block
    return files


def test_the_plugin_is_registered_beside_the_replay_plugin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    plugins = project["project"]["entry-points"]["pytest11"]
    assert plugins["smtpshell-playback"] == PLUGIN
    assert plugins["smtpshell"] == "smtpshell.replay.pytest_plugin"


def test_the_readme_example_passes_as_written(pytester: pytest.Pytester) -> None:
    files = _readme_files()
    assert sorted(files) == ["mail.py", "test_mail.py", "welcome.smtp"]
    for name, text in files.items():
        pytester.path.joinpath(name).write_text(text, encoding="utf-8")
    result = pytester.runpytest_subprocess(*_plugin_options())
    result.assert_outcomes(passed=1)


def test_a_deviation_fails_the_test_with_the_line(pytester: pytest.Pytester) -> None:
    files = _readme_files()
    files["mail.py"] = files["mail.py"].replace('"Welcome"', '"Welcome!"')
    for name, text in files.items():
        pytester.path.joinpath(name).write_text(text, encoding="utf-8")
    result = pytester.runpytest_subprocess(*_plugin_options())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the SMTP client did not follow the transcript:*",
            "*welcome.smtp:14: client sent Subject: Welcome!, transcript expected Subject: Welcome",
        ]
    )


def test_a_client_that_stops_early_or_never_comes_fails(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("t.smtp").write_text(
        "220 hi\n> EHLO me\n250 ok\n> QUIT\n221 bye\n", encoding="utf-8"
    )
    pytester.makepyfile(
        """
        import smtplib

        def test_stops(smtp_script_server):
            server = smtp_script_server("t.smtp")
            client = smtplib.SMTP(server.host, server.port)
            client.ehlo("me")
            client.close()

        def test_never_connects(smtp_script_server):
            smtp_script_server("t.smtp")

        def test_missing_transcript(smtp_script_server):
            smtp_script_server("nowhere.smtp")
        """
    )
    result = pytester.runpytest_subprocess(*_plugin_options())
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "*t.smtp:4: client closed the connection; transcript expected QUIT",
            "*t.smtp: the client made no connection; the transcript was to be served 1 time(s)",
            "*nowhere.smtp: no such file",
        ]
    )


def test_a_client_error_shows_the_transcript_report(pytester: pytest.Pytester) -> None:
    # smtplib raises on the 554: the test fails with that, and the report says why.
    pytester.path.joinpath("t.smtp").write_text(
        "220 hi\n> EHLO me\n250 ok\n> MAIL FROM:<a@example.test>\n250 ok\n", encoding="utf-8"
    )
    pytester.makepyfile(
        """
        import smtplib

        def test_sender(smtp_script_server):
            server = smtp_script_server("t.smtp")
            with smtplib.SMTP(server.host, server.port) as client:
                client.ehlo("me")
                code, _ = client.mail("b@example.test")
                assert code == 250
        """
    )
    result = pytester.runpytest_subprocess(*_plugin_options())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the SMTP client did not follow the transcript:",
            "*t.smtp:4: client sent mail FROM:<b@example.test>, transcript expected*",
            "(then the test failed: AssertionError: assert 554 == 250)",
        ]
    )
