"""A strict parser for one SPF record (RFC 7208 4.5, 5, 6, 7.1).

It checks the syntax only and never touches the network: which names the record
would send a receiver to look up, and how many, is for `smtpshell.check.spf`.
Bad input is listed in ``problems`` (each one a permerror for a receiver),
never raised.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

# RFC 7208 5.6 counts these mechanisms and the redirect modifier against the
# limit of 10 DNS-querying terms (4.6.4).
LOOKUP_TERMS = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})
QUALIFIERS = "+-~?"

_VERSION = re.compile(r"v=spf1(?: |$)", re.IGNORECASE)
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)", re.DOTALL)
_MECHANISM = re.compile(r"([A-Za-z0-9_.-]+)(.*)", re.DOTALL)
# RFC 7208 7.1: macro-expand, macro-literal.
_MACRO = r"%\{[slodiphcrtvSLODIPHCRTV][0-9]*[rR]?[.\-+,/_=]*\}|%%|%_|%-"
_MACRO_STRING = re.compile(rf"(?:{_MACRO}|[\x21-\x24\x26-\x7e])*")
_TOPLEVEL = r"(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN_END = re.compile(rf"(?:\.{_TOPLEVEL}\.?|{_MACRO})$")
_CIDR = re.compile(r"0|[1-9][0-9]{0,2}")
_DUAL_CIDR = re.compile(r"(.*?)(?:/([0-9]+))?(?://([0-9]+))?", re.DOTALL)


@dataclass(frozen=True)
class Term:
    name: str  # lower case: "include", "ip4", "redirect", or an unknown modifier's name
    value: str | None  # the domain-spec or network; None when the term has none
    qualifier: str = "+"  # mechanisms only; "+" is the default (RFC 7208 4.6.2)
    modifier: bool = False


@dataclass
class SpfRecord:
    text: str
    terms: list[Term] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # each makes the record a permerror
    notes: list[str] = field(default_factory=list)  # valid, but discouraged

    @property
    def mechanisms(self) -> list[Term]:
        return [term for term in self.terms if not term.modifier]

    def modifier(self, name: str) -> str | None:
        return next((t.value for t in self.terms if t.modifier and t.name == name), None)

    @property
    def all_qualifier(self) -> str | None:
        return next((t.qualifier for t in self.mechanisms if t.name == "all"), None)


def is_spf_record(text: str) -> bool:
    """RFC 7208 4.5: "v=spf1" exactly, then a space or the end of the record."""
    return _VERSION.match(text) is not None


def has_macro(domain_spec: str) -> bool:
    return "%" in domain_spec


def parse_spf(text: str) -> SpfRecord:
    record = SpfRecord(text)
    if not is_spf_record(text):
        record.problems.append("does not start with v=spf1")
        return record
    if not text.isascii():
        record.problems.append("non-ASCII characters in the record")
    # RFC 7208 4.6.1: terms are separated by one or more spaces (not tabs).
    for word in text[len("v=spf1") :].split(" "):
        if word:
            _term(record, word)
    _check_modifiers(record)
    _notes(record)
    return record


def _term(record: SpfRecord, word: str) -> None:
    modifier = _MODIFIER.fullmatch(word)
    if modifier is not None:
        name, value = modifier.group(1).lower(), modifier.group(2)
        problem = _domain_spec_problem(value) if name in ("redirect", "exp") else None
        if problem is None and not _MACRO_STRING.fullmatch(value):
            problem = "not a valid macro-string"
        if problem is not None:
            record.problems.append(f"{word!r}: {problem}")
        record.terms.append(Term(name, value, modifier=True))
        return
    qualifier = word[0] if word[0] in QUALIFIERS else "+"
    body = word[1:] if word[0] in QUALIFIERS else word
    match = _MECHANISM.fullmatch(body)
    name = match.group(1).lower() if match else ""
    rest = match.group(2) if match else body
    problem, value = _mechanism(name, rest)
    if problem is not None:
        record.problems.append(f"{word!r}: {problem}")
    record.terms.append(Term(name or body, value, qualifier))


def _mechanism(name: str, rest: str) -> tuple[str | None, str | None]:
    """(problem or None, value) for the text after a mechanism's name."""
    if name == "all":
        return (None if not rest else "all takes no argument"), None
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            return f"{name} needs :domain", None
        return _domain_spec_problem(rest[1:]), rest[1:]
    if name == "ptr":
        if not rest:
            return None, None
        if not rest.startswith(":"):
            return "ptr takes :domain", None
        return _domain_spec_problem(rest[1:]), rest[1:]
    if name in ("a", "mx"):
        return _a_or_mx(rest)
    if name in ("ip4", "ip6"):
        return _network(name, rest)
    return "unknown mechanism (RFC 7208 5)", None


def _a_or_mx(rest: str) -> tuple[str | None, str | None]:
    match = _DUAL_CIDR.fullmatch(rest)
    assert match is not None  # the pattern matches any text
    spec, cidr4, cidr6 = match.groups()
    for cidr, top in ((cidr4, 32), (cidr6, 128)):
        if cidr is not None and not (_CIDR.fullmatch(cidr) and int(cidr) <= top):
            return f"/{cidr}: a prefix length 0 to {top} expected", None
    if not spec:
        return None, None
    if not spec.startswith(":"):
        return "expected :domain or /prefix", None
    return _domain_spec_problem(spec[1:]), spec[1:]


def _network(name: str, rest: str) -> tuple[str | None, str | None]:
    if not rest.startswith(":"):
        return f"{name} needs :address", None
    address, slash, cidr = rest[1:].partition("/")
    top = 32 if name == "ip4" else 128
    if slash and not (_CIDR.fullmatch(cidr) and int(cidr) <= top):
        return f"/{cidr}: a prefix length 0 to {top} expected", None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"{address!r} is not an IP address", None
    if parsed.version != (4 if name == "ip4" else 6):
        return f"{address} is not an IPv{name[-1]} address", None
    return None, rest[1:]


def _domain_spec_problem(spec: str) -> str | None:
    """RFC 7208 7.1: macro-string domain-end."""
    if not spec:
        return "empty domain"
    if not _MACRO_STRING.fullmatch(spec):
        return "not a valid domain or macro-string"
    if not _DOMAIN_END.search(spec):
        return "does not end in a top-level domain or a macro"
    if not has_macro(spec) and any(len(label) > 63 for label in spec.split(".")):
        return "a label longer than 63 characters"
    return None


def _check_modifiers(record: SpfRecord) -> None:
    for name in ("redirect", "exp"):
        count = sum(1 for t in record.terms if t.modifier and t.name == name)
        if count > 1:
            # RFC 7208 6: each may appear at most once.
            record.problems.append(f"{name}= appears {count} times (at most once)")


def _notes(record: SpfRecord) -> None:
    names = [t.name for t in record.mechanisms]
    if "ptr" in names:
        record.notes.append("ptr is slow and unreliable: it should not be used (RFC 7208 5.5)")
    if "all" in names and names.index("all") < len(names) - 1:
        record.notes.append("mechanisms after all are never evaluated (RFC 7208 5.1)")
    if "all" in names and record.modifier("redirect") is not None:
        record.notes.append("redirect= is ignored when all is present (RFC 7208 6.1)")
