"""Writing profiles as TOML text: the standard library reads TOML but writes none.

Only what a profile holds is written (strings, booleans, numbers, lists of
strings), and every result is read back with ``tomllib`` before it is used, so a
mistake here is an error, never a broken file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from smtpshell.core.profiles import PROFILE_NAME
from smtpshell.errors import ConfigError

# TOML 1.0 basic strings: these need an escape; other control characters use \uXXXX.
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                  "\f": "\\f", "\r": "\\r"}  # fmt: skip
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f\x7f]')

TomlValue = str | bool | int | float | Path | Sequence[str]


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string, quotes included."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        return _SHORT_ESCAPES.get(char, f"\\u{ord(char):04X}")

    return '"' + _NEEDS_ESCAPE.sub(escape, text) + '"'


def toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):  # before int, which bool is
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return toml_string(str(value))
    return "[" + ", ".join(toml_string(item) for item in value) + "]"


def profile_table(name: str, values: Mapping[str, TomlValue], comments: Iterable[str] = ()) -> str:
    """``[profiles.NAME]`` with ``values`` in order, ``comments`` above it as ``#`` lines."""
    if not PROFILE_NAME.match(name):
        raise ConfigError(f"bad profile name {name!r}: letters, digits, - and _ only")
    lines = [f"# {line}".rstrip() for comment in comments for line in comment.splitlines()]
    lines.append(f"[profiles.{name}]")
    lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
    return "\n".join(lines) + "\n"


def add_profile(
    text: str, name: str, table: str, *, replace: bool = False, make_default: bool = False
) -> str:
    """``text`` (a profiles file, maybe empty) with ``table`` added.

    With ``replace``, a profile of that name is taken out first; the other profiles
    must read back unchanged, or the file is left for a person to edit. With
    ``make_default``, ``default = "NAME"`` goes at the top (valid only when the file
    has no default yet: TOML allows a key once).
    """
    before = tomllib.loads(text)
    others = dict(before.get("profiles", {}))
    if name in others:
        if not replace:
            raise ConfigError(f"a profile {name} exists already: add --force to replace it")
        text = _without_table(text, name)
        others.pop(name)
    if make_default:
        text = f"default = {toml_string(name)}\n" + text
    if text and not text.endswith("\n"):
        text += "\n"
    result = text + ("\n" if text.strip() else "") + table
    after = tomllib.loads(result)
    kept = {key: value for key, value in after.get("profiles", {}).items() if key != name}
    if kept != others or name not in after.get("profiles", {}):
        raise ConfigError(
            f"cannot replace profile {name} without disturbing the others: edit the file by hand"
        )
    return result


def _without_table(text: str, name: str) -> str:
    """``text`` without the lines of ``[profiles.NAME]`` (up to the next table)."""
    header = re.compile(rf"\s*\[\s*profiles\s*\.\s*\"?{re.escape(name)}\"?\s*\]\s*(#.*)?$")
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("["):
            skipping = bool(header.match(line))
            if skipping:
                _drop_comment_above(kept)
        if not skipping:
            kept.append(line)
    return "".join(kept)


def _drop_comment_above(kept: list[str]) -> None:
    """Take away the comment written right above a removed table (it described
    that table), and the blank line that set it apart."""
    while kept and kept[-1].lstrip().startswith("#"):
        kept.pop()
    if kept and not kept[-1].strip():
        kept.pop()
