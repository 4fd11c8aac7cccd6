"""The prompt says where you are: host, plain or TLS, in DATA, typing a secret."""

from __future__ import annotations

from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.styles import Style

from smtpshell.core.session import Session

PROMPT_STYLE = Style.from_dict(
    {
        "prompt.host": "bold",
        "prompt.plain": "ansiyellow",
        "prompt.tls": "ansigreen",
        "prompt.mode": "ansicyan",
        "prompt.idle": "",
    }
)


def prompt_fragments(session: Session) -> FormattedText:
    if not session.connected or session.endpoint is None:
        return FormattedText([("class:prompt.idle", "smtpshell> ")])
    parts = [("class:prompt.host", str(session.endpoint)), ("", " ")]
    if session.tls is not None:
        parts.append(("class:prompt.tls", "tls"))
    else:
        parts.append(("class:prompt.plain", "plain"))
    if session.in_data:
        parts.append(("class:prompt.mode", " data"))
    elif session.auth_pending:
        parts.append(("class:prompt.mode", " auth"))
    parts.append(("", "> "))
    return FormattedText(parts)
