"""The ``name=value; name=value`` lists of DNS policy records.

MTA-STS (RFC 8461 3.1), TLS-RPT (RFC 8460 3) and DMARC (RFC 7489 6.4) share
this shape: fields separated by ";" with optional spaces or tabs around it
(``*WSP ";" *WSP``), each field a name, "=", and a value. Each record type
checks its own names and values; this only splits, and says what it could not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_WSP = " \t"
# RFC 8461 3.1 / RFC 8460 3: extension names and values.
EXTENSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
EXTENSION_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")


@dataclass
class Tags:
    fields: list[tuple[str, str]] = field(default_factory=list)  # in record order
    problems: list[str] = field(default_factory=list)  # one line each, raw text quoted

    def first(self, name: str) -> str | None:
        return next((value for key, value in self.fields if key == name), None)

    def names(self) -> list[str]:
        return [key for key, _ in self.fields]


def split_tags(text: str) -> Tags:
    """Split a tag list; empty fields (``;;``, a trailing ``;``) are skipped."""
    tags = Tags()
    for part in text.split(";"):
        part = part.strip(_WSP)
        if not part:
            continue
        name, equals, value = part.partition("=")
        name, value = name.strip(_WSP), value.strip(_WSP)
        if not equals or not name:
            tags.problems.append(f"{part!r} is not name=value")
            continue
        tags.fields.append((name, value))
    return tags


def duplicates(tags: Tags) -> list[str]:
    """Names given more than once, in the order first seen."""
    seen: set[str] = set()
    repeated: dict[str, None] = {}
    for name in tags.names():
        if name in seen:
            repeated[name] = None
        seen.add(name)
    return list(repeated)
