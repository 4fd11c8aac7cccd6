"""A local command's arguments are split as a POSIX shell would split them."""

from __future__ import annotations

import pytest

from smtpshell.core.arguments import split_arguments
from smtpshell.errors import UsageError


@pytest.mark.parametrize(
    ("rest", "words"),
    [
        ("", []),
        ("  a   b  ", ["a", "b"]),
        ('"two words" single', ["two words", "single"]),
        ("'it''s' x", ["its", "x"]),
        ('--helo "mail host"', ["--helo", "mail host"]),
        ('"a\\"b"', ['a"b']),
    ],
)
def test_split_arguments(rest: str, words: list[str]) -> None:
    assert split_arguments(rest) == words


@pytest.mark.parametrize("rest", ['"unclosed', "it's", 'a "b'])
def test_an_unclosed_quote_is_a_usage_error(rest: str) -> None:
    with pytest.raises(UsageError, match="cannot parse the arguments: no closing quotation"):
        split_arguments(rest)
