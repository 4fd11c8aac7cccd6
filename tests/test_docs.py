"""The README stays true: every option and every local command is documented."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from smtpshell.cli.main import build_parser
from smtpshell.core.arguments import ArgumentParser
from smtpshell.protocol.commands import SMTP_VERBS
from smtpshell.send.outcome import SendStatus
from smtpshell.server import command as serve_command
from smtpshell.shell.commands import build_registry
from smtpshell.shell.registry import LocalCommand

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _long_options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]


def _serve_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="smtpshell serve")
    serve_command.configure_parser(parser)
    return parser


@pytest.mark.parametrize("option", _long_options(build_parser()))
def test_every_option_is_in_readme_and_has_help(option: str) -> None:
    assert f"`{option}" in README or f"[{option}" in README, option
    action = next(a for a in build_parser()._actions if option in a.option_strings)
    assert action.help


@pytest.mark.parametrize("option", _long_options(_serve_parser()))
def test_every_serve_option_is_in_readme(option: str) -> None:
    assert option in README


@pytest.mark.parametrize("command", list(build_registry()), ids=lambda c: c.name)
def test_every_local_command_is_documented_and_not_an_smtp_verb(command: LocalCommand) -> None:
    assert command.summary, f"{command.name} has no docstring"
    for name in command.names:
        assert name.upper() not in SMTP_VERBS, f"local command {name!r} is an SMTP verb"
    assert f"`{command.name}" in README, f"{command.name} is missing from the README"


def _replay_parser() -> ArgumentParser:
    from smtpshell.replay import command as replay_command

    parser = ArgumentParser(prog="smtpshell replay")
    replay_command.configure_parser(parser)
    return parser


@pytest.mark.parametrize("option", _long_options(_replay_parser()))
def test_every_replay_option_is_in_readme(option: str) -> None:
    assert option in README


def _send_parser() -> ArgumentParser:
    from smtpshell.send import command as send_command

    parser = ArgumentParser(prog="smtpshell send")
    send_command.configure_parser(parser)
    return parser


@pytest.mark.parametrize("option", _long_options(_send_parser()))
def test_every_send_option_is_in_readme(option: str) -> None:
    assert f"`{option}" in README, option


@pytest.mark.parametrize("status", list(SendStatus), ids=lambda s: s.name)
def test_every_send_exit_status_is_in_readme(status: SendStatus) -> None:
    section = README.split("## Sending from the command line", 1)[1].split("\n## ", 1)[0]
    assert f" {int(status)} " in section.replace("\n", " "), status


@pytest.mark.parametrize("action", ["init", "path", "show", "import-ssmtp"])
def test_every_config_action_is_in_readme(action: str) -> None:
    assert f"`smtpshell config {action}" in README


def _check_parser() -> ArgumentParser:
    from smtpshell.check import command as check_command

    parser = ArgumentParser(prog="smtpshell check")
    check_command.configure_parser(parser)
    return parser


@pytest.mark.parametrize("option", _long_options(_check_parser()))
def test_every_check_option_is_in_readme_and_has_help(option: str) -> None:
    section = README.split("## Checking a domain", 1)[1].split("\n## ", 1)[0]
    assert f"`{option}" in section, option
    action = next(a for a in _check_parser()._actions if option in a.option_strings)
    assert action.help


def test_every_check_json_key_is_in_readme() -> None:
    from smtpshell.check.model import Report
    from smtpshell.check.report_json import report_document

    section = README.split("## Checking a domain", 1)[1].split("\n## ", 1)[0]
    for key in report_document(Report("example.test")):
        assert f'"{key}"' in section, key


def test_every_check_name_is_in_readme() -> None:
    import re

    package = Path(__file__).resolve().parent.parent / "smtpshell" / "check"
    section = README.split("## Checking a domain", 1)[1].split("\n## ", 1)[0]
    names = set()
    for path in package.glob("*.py"):
        # The policy checks document their own; the model only names examples.
        if not path.name.startswith("policy") and path.name != "model.py":
            text = path.read_text(encoding="utf-8")
            names |= set(re.findall(r'"((?:mx|smtp|tls|dane)\.[a-z_]+|ptr|relay)"', text))
    assert {"mx.records", "tls.verify", "dane.match", "relay"} <= names
    for name in sorted(names):
        assert f"`{name}`" in section, name
