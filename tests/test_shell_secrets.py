"""The shell's secret rule: what is masked while typed and what the history keeps."""

from __future__ import annotations

import pytest
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.layout.controls import BufferControl
from prompt_toolkit.layout.processors import TransformationInput

from smtpshell.shell.commands import build_registry
from smtpshell.shell.history import keep_in_history
from smtpshell.shell.masking import MaskSecrets

LOCAL = build_registry()


@pytest.mark.parametrize(
    ("line", "start"),
    [
        ("AUTH PLAIN dGVzdA==", 11),  # the initial response (RFC 4954 4)
        ("auth plain dGVzdA==", 11),
        ("  AUTH\tXOAUTH2 dG9rZW4=", 15),
        ("\\AUTH PLAIN dGVzdA==", 12),  # sent as typed, and as secret
        ("b64 hunter2", 4),
        ("B64 hunter2", 4),
        ("  b64 hunter2", 6),
        ("b64 -d aGk=", 4),
        ("unb64 aGk=", 6),
        ("AUTH PLAIN", None),  # the response comes after a 334
        ("AUTH LOGIN ", None),
        ("b64", None),  # asked with echo off instead
        ("b64 ", None),
        ("\\b64 hunter2", None),  # not the local command: sent to the server as typed
        ("MAIL FROM:<a@example.test>", None),
        ("mx example.test", None),
    ],
)
def test_secret_start_of_a_command_line(line: str, start: int | None) -> None:
    assert LOCAL.secret_start(line) == start


@pytest.mark.parametrize("line", ["dGVzdA==", "b64 x", "AUTH PLAIN x", "", " hunter2 "])
def test_while_auth_is_pending_the_whole_line_is_secret(line: str) -> None:
    assert LOCAL.secret_start(line, auth_pending=True) == 0


def test_a_star_while_auth_is_pending_cancels_and_is_no_secret() -> None:
    assert LOCAL.secret_start("*", auth_pending=True) is None


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("EHLO me", True),
        ("mx example.test", True),
        ("AUTH PLAIN", True),
        ("b64", True),
        ("AUTH PLAIN dGVzdA==", False),
        ("\\AUTH PLAIN dGVzdA==", False),
        ("b64 hunter2", False),
        ("UNB64 aGk=", False),
        ("NOOP\nNOOP", False),  # a paste
    ],
)
def test_history_keeps_commands_and_drops_secrets(line: str, kept: bool) -> None:
    assert keep_in_history(line, LOCAL, in_data=False, auth_pending=False) is kept


@pytest.mark.parametrize("line", ["EHLO me", "*", "dGVzdA=="])
def test_history_drops_auth_responses_and_message_text(line: str) -> None:
    assert not keep_in_history(line, LOCAL, in_data=False, auth_pending=True)
    assert not keep_in_history(line, LOCAL, in_data=True, auth_pending=False)


def masked(text: str, auth_pending: bool = False, lineno: int = 0) -> str:
    """How line ``lineno`` of the typed (or pasted) ``text`` is drawn."""
    processor = MaskSecrets(LOCAL, lambda: auth_pending)
    line = text.split("\n")[lineno]
    fragments: StyleAndTextTuples = [("class:typed", line)]
    shown = processor.apply_transformation(
        TransformationInput(
            BufferControl(Buffer()), Document(text), lineno, lambda i: i, fragments, 80, 1
        )
    )
    return "".join(fragment[1] for fragment in shown.fragments)


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("AUTH PLAIN dGVzdA==", "AUTH PLAIN ********"),
        ("\\AUTH PLAIN dGVzdA==", "\\AUTH PLAIN ********"),
        ("B64 pass", "B64 ****"),
        ("EHLO me", "EHLO me"),
    ],
)
def test_masking_shows_stars_for_the_secret_part(typed: str, shown: str) -> None:
    assert masked(typed) == shown


def test_masking_while_auth_is_pending() -> None:
    assert masked("dGVzdA==", auth_pending=True) == "********"
    assert masked("*", auth_pending=True) == "*"


def test_masking_applies_to_every_line_of_a_paste() -> None:
    assert masked("NOOP\nAUTH PLAIN dGVzdA==", lineno=1) == "AUTH PLAIN ********"
    assert masked("AUTH LOGIN\nYWxpY2U=", lineno=1) == "********"
    assert masked("AUTH LOGIN\nYWxpY2U=", lineno=0) == "AUTH LOGIN"


def test_a_pasted_auth_block_is_masked_line_by_line() -> None:
    """RFC 4954 4: the lines after `AUTH LOGIN` answer its challenges; pasted in
    one block they are on screen before any 334 arrives, and must be masked."""
    registry = build_registry()
    lines = ["AUTH LOGIN", "YWxpY2U=", "d29uZGVybGFuZA==", "MAIL FROM:<a@example.test>", "x"]
    assert registry.secret_starts(lines) == [None, 0, 0, None, None]
    assert registry.secret_starts(["AUTH LOGIN", "*", "NOOP"]) == [None, None, None]
    assert registry.secret_starts(["dXNlcg==", "QUIT"], auth_pending=True) == [0, None]
    assert registry.secret_starts(["\\AUTH PLAIN", "c2VjcmV0"]) == [None, 0]
