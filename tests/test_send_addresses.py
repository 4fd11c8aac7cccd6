"""Addresses for `send`: the envelope names the domain the message is routed to."""

from __future__ import annotations

import importlib.util

import pytest

from smtpshell.errors import MessageRefused
from smtpshell.send.addresses import ascii_domain, parse_mailboxes, unique_recipients

HAVE_IDNA_2008 = importlib.util.find_spec("idna") is not None


@pytest.mark.skipif(not HAVE_IDNA_2008, reason="needs the idna package")
def test_a_deviation_character_keeps_its_idna_2008_meaning() -> None:
    # IDNA 2003 (the standard library) would send this to strasse.de, another domain.
    assert ascii_domain("straße.de", "--to") == "xn--strae-oqa.de"


@pytest.mark.skipif(HAVE_IDNA_2008, reason="the fallback when the idna package is missing")
def test_without_idna_2008_a_deviation_character_is_refused() -> None:
    with pytest.raises(MessageRefused, match="xn--"):
        ascii_domain("straße.de", "--to")


@pytest.mark.parametrize(
    ("domain", "expected"),
    [("bücher.de", "xn--bcher-kva.de"), ("例子.中国", "xn--fsqu00a.xn--fiqs8s")],
)
def test_unicode_domains_become_a_labels(domain: str, expected: str) -> None:
    assert ascii_domain(domain, "--to") == expected


def test_ascii_domains_and_local_parts_are_kept_as_given() -> None:
    (mailbox,) = parse_mailboxes('"John Doe" <"john doe"@Example.COM>', "--to")
    assert (mailbox.display_name, mailbox.local, mailbox.domain) == (
        "John Doe",
        "john doe",
        "Example.COM",
    )
    assert mailbox.addr_spec == '"john doe"@Example.COM'


def test_groups_and_lists_give_every_address() -> None:
    mailboxes = parse_mailboxes("team: a@x.example, b@y.example;, c@z.example", "the To header")
    assert unique_recipients(mailboxes) == ("a@x.example", "b@y.example", "c@z.example")


@pytest.mark.parametrize("text", ["a@b.example\tx@y", "<a@b.example", "a@", "@b.example"])
def test_what_does_not_parse_cleanly_is_refused(text: str) -> None:
    with pytest.raises(MessageRefused, match="--to"):
        parse_mailboxes(text, "--to")
