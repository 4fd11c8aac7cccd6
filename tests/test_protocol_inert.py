"""The one sanitiser for text that came from the network (terminal, log, XML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hostile_strings import HOSTILE, leaked
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.protocol.inert import inert, is_inert


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_strings_come_out_inert_and_visible(text: str) -> None:
    shown = inert(f"250 ok {text} end")
    assert not leaked(shown)
    assert is_inert(shown)
    assert "\\x" in shown or "\\u" in shown  # the reader sees something was there


def test_plain_text_and_unicode_letters_are_unchanged() -> None:
    text = "250 2.0.0 Ok: queued as 4Xyz\tpässwörd 日本 😀"
    assert inert(text) == text


def test_escapes_name_the_character() -> None:
    assert inert("\x1b[2J") == "\\x1b[2J"
    assert inert("\u202e") == "\\u202e"
    assert inert("a\r\nb") == "a\\x0d\\x0ab"


_ANY_CODE_POINT = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=_ANY_CODE_POINT))
def test_any_text_becomes_well_formed_xml_and_inert(text: str) -> None:
    """XML 1.0 2.2 allows only TAB, LF, CR and >= U+0020 minus surrogates and
    U+FFFE/U+FFFF: a JUnit report holding server text must stay well-formed."""
    shown = inert(text)
    assert is_inert(shown)
    element = ET.Element("failure", message=shown)
    element.text = shown
    parsed = ET.fromstring(ET.tostring(element, encoding="unicode"))
    assert parsed.text == (shown or None)
    assert parsed.get("message") == shown
