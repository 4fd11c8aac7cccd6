"""Completion: what ``suggest`` offers for a line typed so far, and the Completer around it."""

from __future__ import annotations

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from smtpshell.protocol.ehlo import Capabilities, parse_ehlo
from smtpshell.protocol.reply import Reply
from smtpshell.shell.commands import build_registry
from smtpshell.shell.completer import SmtpCompleter, suggest

NAMES = build_registry().names()
CAPS = parse_ehlo(
    Reply(250, ("mx.test", "SIZE 1000", "AUTH PLAIN LOGIN CRAM-MD5", "8BITMIME", "CHUNKING"))
)
NO_EXTENSIONS = parse_ehlo(Reply(250, ("mx.test",)))


def test_verbs_keep_the_case_typed() -> None:
    assert suggest("RC", CAPS, NAMES) == ["RCPT TO:<"]
    assert suggest("rc", CAPS, NAMES) == ["rcpt to:<"]
    assert suggest("EH", CAPS, NAMES) == ["EHLO"]


def test_extension_verbs_follow_the_ehlo_reply() -> None:
    assert suggest("B", CAPS, NAMES) == ["BDAT ", "b64", "bye"]
    assert suggest("ST", CAPS, NAMES) == []  # STARTTLS not offered
    assert suggest("ST", NO_EXTENSIONS, NAMES) == []
    assert suggest("AU", NO_EXTENSIONS, NAMES) == []


def test_before_any_ehlo_starttls_and_auth_are_offered() -> None:
    assert suggest("STA", None, NAMES) == ["STARTTLS"]
    assert suggest("AU", None, NAMES) == ["AUTH "]


def test_local_commands_are_offered_in_lower_case() -> None:
    assert suggest("re", None, NAMES) == ["record"]
    assert suggest("R", None, NAMES) == ["RCPT TO:<", "RSET", "record"]
    assert suggest("?", None, NAMES) == ["?"]
    assert suggest("un", None, NAMES) == ["unb64"]


def test_auth_mechanisms_after_auth() -> None:
    assert suggest("AUTH ", CAPS, NAMES) == ["AUTH PLAIN", "AUTH LOGIN", "AUTH CRAM-MD5"]
    assert suggest("auth cr", CAPS, NAMES) == ["auth CRAM-MD5"]
    assert suggest("AUTH ", None, NAMES) == []


def test_mail_parameters_after_the_address() -> None:
    typed = "MAIL FROM:<a@b.test> "
    assert suggest(typed, CAPS, NAMES) == [typed + "SIZE=", typed + "BODY=8BITMIME"]
    assert suggest("MAIL FROM:<a@b.test>", CAPS, NAMES) == []
    assert suggest("RCPT TO:<a@b.test> ", CAPS, NAMES) == []


def completions(text: str, caps: Capabilities | None, active: bool = True) -> list[str]:
    completer = SmtpCompleter(build_registry(), lambda: caps, lambda: active)
    found = completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    return [completion.text for completion in found]


def test_the_completer_replaces_the_whole_line() -> None:
    completer = SmtpCompleter(build_registry(), lambda: CAPS, lambda: True)
    found = list(completer.get_completions(Document("auth p"), CompleteEvent()))
    assert [(c.text, c.start_position) for c in found] == [("auth PLAIN", -6)]


def test_the_completer_offers_local_commands_from_its_registry() -> None:
    assert completions("dis", None) == ["disconnect"]


def test_nothing_is_offered_in_data_or_while_auth_is_pending() -> None:
    assert completions("RC", CAPS, active=False) == []
