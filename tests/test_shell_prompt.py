"""The prompt says where you are: idle, host and plain or TLS, in DATA, in AUTH."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from smtpshell.core.session import Session
from smtpshell.core.tls import TlsInfo
from smtpshell.protocol.endpoint import Endpoint
from smtpshell.shell.prompt import prompt_fragments

TLS = TlsInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, True, None)


@dataclass
class State:
    """What the prompt reads of a session, set by hand."""

    connected: bool = True
    endpoint: Endpoint | None = field(default_factory=lambda: Endpoint("127.0.0.1", 2525))
    tls: TlsInfo | None = None
    in_data: bool = False
    auth_pending: bool = False


def shown(state: State | Session) -> list[tuple[str, str]]:
    return [(style, text) for style, text, *_ in prompt_fragments(state)]


def test_a_new_session_is_idle() -> None:
    assert shown(Session()) == [("class:prompt.idle", "smtpshell> ")]


def test_closed_session_is_idle_even_with_an_endpoint() -> None:
    assert shown(State(connected=False)) == [("class:prompt.idle", "smtpshell> ")]


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (State(), "127.0.0.1:2525 plain> "),
        (State(tls=TLS), "127.0.0.1:2525 tls> "),
        (State(in_data=True), "127.0.0.1:2525 plain data> "),
        (State(tls=TLS, auth_pending=True), "127.0.0.1:2525 tls auth> "),
        (State(endpoint=Endpoint("::1", 25)), "[::1]:25 plain> "),
    ],
)
def test_connected_prompt_text(state: State, text: str) -> None:
    assert "".join(part for _, part in shown(state)) == text


def test_each_part_has_its_style() -> None:
    assert shown(State(tls=TLS, in_data=True)) == [
        ("class:prompt.host", "127.0.0.1:2525"),
        ("", " "),
        ("class:prompt.tls", "tls"),
        ("class:prompt.mode", " data"),
        ("", "> "),
    ]
    assert ("class:prompt.plain", "plain") in shown(State())
