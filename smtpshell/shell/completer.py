"""Completion: a pure ``suggest`` and a thin prompt_toolkit Completer around it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from smtpshell.protocol.ehlo import Capabilities

if TYPE_CHECKING:
    from smtpshell.shell.registry import Registry

BASE_VERBS = ("EHLO", "HELO", "MAIL FROM:<", "RCPT TO:<", "DATA", "RSET", "NOOP", "QUIT", "HELP",
              "VRFY", "EXPN")  # fmt: skip
_EXTENSION_VERBS = {"STARTTLS": "STARTTLS", "AUTH": "AUTH ", "CHUNKING": "BDAT ", "ETRN": "ETRN "}
_MAIL_PARAMS = {"SIZE": "SIZE=", "8BITMIME": "BODY=8BITMIME", "SMTPUTF8": "SMTPUTF8",
                "DSN": "RET=HDRS", "REQUIRETLS": "REQUIRETLS"}  # fmt: skip


_SASL_NAME = re.compile(r"[A-Z0-9_-]{1,20}")


def suggest(text: str, caps: Capabilities | None, local_names: Iterable[str]) -> list[str]:
    """Whole-line candidates for what is typed so far (case of the typed prefix kept)."""
    words = text.split(" ")
    if len(words) == 1:
        verbs = list(BASE_VERBS)
        if caps is not None:
            verbs += [verb for ext, verb in _EXTENSION_VERBS.items() if caps.has(ext)]
        else:
            verbs += ["STARTTLS", "AUTH "]
        prefix = text.upper()
        found = [_same_case(verb, text) for verb in verbs if verb.startswith(prefix)]
        found += [name for name in local_names if name.startswith(text.lower())]
        return sorted(set(found), key=found.index)
    verb = words[0].upper()
    if verb == "AUTH" and len(words) == 2 and caps is not None:
        return [
            f"{words[0]} {mech}"
            for mech in caps.auth_mechanisms
            # Server text: only a real SASL mechanism name (RFC 4422 3.1) is offered
            # for insertion, never bidi controls or escapes a server chose.
            if _SASL_NAME.fullmatch(mech) and mech.startswith(words[1].upper())
        ]
    if verb == "MAIL" and caps is not None and text.rstrip().endswith(">") and text.endswith(" "):
        return [text + param for ext, param in _MAIL_PARAMS.items() if caps.has(ext)]
    return []


def _same_case(candidate: str, typed: str) -> str:
    return candidate.lower() if typed and typed.islower() else candidate


class SmtpCompleter(Completer):
    """SMTP verbs the server offers, their parameters, and the registry's local commands."""

    def __init__(
        self,
        registry: Registry,
        capabilities: Callable[[], Capabilities | None],
        active: Callable[[], bool],
    ) -> None:
        self._local_names = registry.names()
        self._capabilities = capabilities
        self._active = active

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        if not self._active():
            return
        text = document.text_before_cursor
        for candidate in suggest(text, self._capabilities(), self._local_names):
            yield Completion(candidate, start_position=-len(text))
