"""The prompt says where you are: host, plain or TLS, in DATA, typing a secret."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from prompt_toolkit import PromptSession
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import History, InMemoryHistory
from prompt_toolkit.output import create_output
from prompt_toolkit.styles import Style

from smtpshell.shell.completer import SmtpCompleter
from smtpshell.shell.history import FilteredFileHistory, keep_in_history
from smtpshell.shell.masking import MaskSecrets
from smtpshell.shell.paste import PastedLines, paste_bindings

if TYPE_CHECKING:
    from smtpshell.core.session import Session
    from smtpshell.core.tls import TlsInfo
    from smtpshell.protocol.endpoint import Endpoint
    from smtpshell.shell.registry import Registry

PROMPT_STYLE = Style.from_dict(
    {
        "prompt.host": "bold",
        "prompt.plain": "ansiyellow",
        "prompt.tls": "ansigreen",
        "prompt.mode": "ansicyan",
        "prompt.idle": "",
    }
)


class PromptState(Protocol):
    """What the prompt shows of a session."""

    @property
    def connected(self) -> bool: ...
    @property
    def endpoint(self) -> Endpoint | None: ...
    @property
    def tls(self) -> TlsInfo | None: ...
    @property
    def in_data(self) -> bool: ...
    @property
    def auth_pending(self) -> bool: ...


def prompt_fragments(session: PromptState) -> FormattedText:
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


@contextmanager
def above_prompt(prompt: PromptSession[str]) -> Iterator[None]:
    """Print above a prompt that waits for keys: it is erased first and drawn again
    below what was printed. Printed straight after it, a line would continue the
    prompt's own line."""
    app = prompt.app
    if not app.is_running or app.is_done:
        yield
        return
    app.renderer.erase()
    try:
        yield
    finally:
        app.invalidate()


def build_prompt(
    session: Session,
    registry: Registry,
    history_file: Path | None,
    typing_secret: Callable[[], bool],
    pasted: PastedLines,
    on_accept: Callable[[str], None] | None = None,
) -> PromptSession[str]:
    """The prompt of the shell: completion, masking and a history without secrets.

    ``typing_secret`` says whether the line being typed answers an AUTH challenge:
    true from the moment the prompt appeared with a 334 pending, even if the server
    gives up (421) before Enter. A paste leaves in ``pasted`` what follows its first
    line. ``on_accept`` is called with each line accepted (Enter or a paste) before
    the prompt is left.
    """

    def keep(line: str) -> bool:
        if pasted.accepting:
            return False  # pastes stay out of the history, as they always did
        return keep_in_history(
            line, registry, in_data=session.in_data, auth_pending=typing_secret()
        )

    history: History = (
        FilteredFileHistory(history_file, keep) if history_file else InMemoryHistory()
    )
    completer = SmtpCompleter(
        registry,
        lambda: session.capabilities,
        lambda: not (session.in_data or typing_secret()),
    )
    prompt: PromptSession[str] = PromptSession(
        # When stdout is a pipe (`smtpshell ... | tee log`) the prompt, and the
        # questions asked on it, are drawn on the terminal through stderr.
        output=create_output(always_prefer_tty=True),
        history=history,
        completer=completer,
        complete_while_typing=False,
        style=PROMPT_STYLE,
        input_processors=[MaskSecrets(registry, typing_secret, lambda: session.in_data)],
        # While an AUTH 334 is pending, what is typed is a credential.
        is_password=Condition(typing_secret),
        enable_history_search=False,
        key_bindings=paste_bindings(pasted, registry, typing_secret, lambda: session.in_data),
    )
    if on_accept is not None:
        _call_on_accept(prompt, on_accept)
    return prompt


def _call_on_accept(prompt: PromptSession[str], on_accept: Callable[[str], None]) -> None:
    """Call ``on_accept`` from the buffer's accept handler: leaving the prompt
    (drawing the accepted line, putting the terminal modes back) takes milliseconds
    that a command need not wait for. The history is appended after the handler."""
    buffer = prompt.default_buffer
    leave = buffer.accept_handler

    def accept(accepted: Buffer) -> bool:
        on_accept(accepted.text)
        return leave(accepted) if leave is not None else False

    buffer.accept_handler = accept


def show_as_typed(prompt: PromptSession[str], fragments: FormattedText, line: str) -> None:
    """A line after the prompt it would have been typed at (``fragments``)."""
    from prompt_toolkit import print_formatted_text

    shown = FormattedText([*fragments, ("", line)])
    print_formatted_text(shown, style=PROMPT_STYLE, output=prompt.app.output)
