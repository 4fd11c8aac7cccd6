"""Variables without hand-made base64: transforms, defaults, and asking for secrets."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_runner import run_cli
from conftest import PASSWORD, USER
from pty_shell import ShellPty
from server_fixtures import stored_messages

from smtpshell.server import BackgroundServer
from smtpshell.transcript import TranscriptError, parse_transcript, substitute
from smtpshell.transcript.model import VariableError, template_parts


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _sent(text: str, values: dict[str, str]) -> list[str]:
    return [step.text for step in substitute(parse_transcript(text), values).steps]


def test_b64_and_plain_transforms_encode_plain_values() -> None:
    text = (
        "> AUTH PLAIN ${plain:U:P}\n235\n> AUTH PLAIN ${plain:Z:U:P}\n235\n"
        "> AUTH LOGIN\n334 VXNlcm5hbWU6\n> ${b64:U}\n334 UGFzc3dvcmQ6\n> ${b64:P}\n235\n"
    )
    values = {"U": "ünïcode@example.test", "P": "p:a ss", "Z": "admin"}
    assert _sent(text, values) == [
        "AUTH PLAIN " + _b64("\0ünïcode@example.test\0p:a ss"),
        "AUTH PLAIN " + _b64("admin\0ünïcode@example.test\0p:a ss"),
        "AUTH LOGIN",
        _b64("ünïcode@example.test"),
        _b64("p:a ss"),
    ]


def test_a_line_break_in_a_transformed_value_is_encoded_not_sent() -> None:
    # base64 cannot carry a line break onto the wire; a plain ${NAME} is refused.
    assert _sent("> AUTH LOGIN\n334\n> ${b64:U}\n235\n", {"U": "a\r\nRSET"})[1] == _b64("a\r\nRSET")
    with pytest.raises(TranscriptError, match="line break"):
        _sent("> ${U}\n250\n", {"U": "a\r\nRSET"})


def test_defaults_apply_only_when_no_value_is_given() -> None:
    text = "> RCPT TO:<${RCPT:-friend@example.com}>\n250\n"
    transcript = parse_transcript(text)
    assert transcript.optional == {"RCPT"}
    assert _sent(text, {}) == ["RCPT TO:<friend@example.com>"]
    assert _sent(text, {"RCPT": "bob@example.test"}) == ["RCPT TO:<bob@example.test>"]
    # Used once with a default and once without: the name is required.
    both = parse_transcript(text + "> VRFY ${RCPT}\n250\n")
    assert both.optional == frozenset()


def test_secret_variables_are_those_of_auth_payloads() -> None:
    transcript = parse_transcript(
        "> EHLO ${HELO:-me}\n250\n> AUTH PLAIN ${plain:U:P}\n235\n> MAIL FROM:<${FROM}>\n250\n"
    )
    assert transcript.variables == {"HELO", "U", "P", "FROM"}
    assert transcript.secrets == {"U", "P"}


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("${b64:}", "write ${b64:NAME}"),
        ("${b64:A:B}", "write ${b64:NAME}"),
        ("${plain:A}", "write ${plain:USER:PASS} or ${plain:AUTHZID:USER:PASS}"),
        ("${plain:A:B:C:D}", "write ${plain:USER:PASS}"),
        ("${rot13:A}", "'rot13' is not a transform (b64, plain)"),
        ("${A B}", "write ${NAME}"),
        ("${A", "a ${ without its }"),
    ],
)
def test_malformed_references_say_how_to_write_them(reference: str, message: str) -> None:
    with pytest.raises(VariableError) as caught:
        template_parts(reference)
    assert message in str(caught.value)


def test_a_literal_dollar_brace_is_still_written_escaped() -> None:
    assert _sent("> \\${b64:U}\n250\n", {}) == ["${b64:U}"]


def test_replay_with_plain_credentials_against_the_embedded_server(
    server: BackgroundServer, tmp_path: Path
) -> None:
    transcript = tmp_path / "plain.smtp"
    transcript.write_text(
        f"> smtpshell --connect 127.0.0.1:{server.port} --starttls\n220\n> EHLO me\n250\n"
        "> AUTH PLAIN ${plain:AUTH_USER:AUTH_PASSWORD}\n235\n> RSET\n250\n"
        "> AUTH LOGIN\n503\n> MAIL FROM:<${FROM:-a@example.test}>\n250\n"
        "> RCPT TO:<${RCPT:-b@example.test}>\n250\n> DATA\n354\n> hi\n> .\n250\n> QUIT\n221\n",
        encoding="utf-8",
    )
    out, err, status = run_cli(
        "replay", str(transcript), "--cafile", str(server.ca_file),
        f"--var=AUTH_USER={USER}", "--env=AUTH_PASSWORD", "--var=RCPT=c@example.test",
        environ={"NO_COLOR": "1", "AUTH_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert status == 0, out + err
    assert stored_messages(server) == [b"hi\r\n"]
    assert PASSWORD not in out + err


def test_a_missing_secret_is_asked_for_on_a_terminal_without_echo(
    start_shell: Callable[..., ShellPty], server: BackgroundServer, tmp_path: Path
) -> None:
    transcript = tmp_path / "ask.smtp"
    transcript.write_text(
        f"> smtpshell --connect 127.0.0.1:{server.port} --starttls\n220\n> EHLO me\n250\n"
        "> AUTH LOGIN\n334\n> ${b64:AUTH_USER}\n334\n> ${b64:AUTH_PASSWORD}\n235\n> QUIT\n221\n",
        encoding="utf-8",
    )
    sh = start_shell(
        "replay", str(transcript), "--cafile", str(server.ca_file), f"--var=AUTH_USER={USER}"
    )
    sh.expect(r"value for \$\{AUTH_PASSWORD\} \(not shown\): ")
    sh.type(PASSWORD)
    sh.expect("replay: 1 passed, 0 failed")
    assert sh.wait_exit() == 0
    assert PASSWORD not in sh.screen


def test_a_missing_non_secret_variable_is_not_asked_for(
    start_shell: Callable[..., ShellPty], tmp_path: Path
) -> None:
    transcript = tmp_path / "rcpt.smtp"
    transcript.write_text("> RCPT TO:<${RCPT}>\n250\n", encoding="utf-8")
    sh = start_shell("replay", str(transcript), "--connect", "127.0.0.1:9")
    sh.expect(r"no value for \$\{RCPT\} \(line 1\)")
    assert sh.wait_exit() == 2
    assert "value for" not in sh.screen.replace("no value for", "")
