"""The MTA-STS TXT record and policy file (RFC 8461 3.1, 3.2) and MX matching (4.1).

Pure functions over text that came from the network: they never raise on bad
input, they list what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from smtpshell.check.policy_tags import EXTENSION_NAME, EXTENSION_VALUE, duplicates, split_tags

STS_VERSION = "v=STSv1"
MAX_AGE_LIMIT = 31_557_600  # RFC 8461 3.2: about one year
MODES = ("enforce", "testing", "none")

_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_MAX_AGE = re.compile(r"[0-9]{1,10}")
_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_MX_PATTERN = re.compile(rf"(\*\.)?({_LABEL}\.)+{_LABEL}\.?")
_POLICY_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


@dataclass
class StsRecord:
    id: str | None = None
    problems: list[str] = field(default_factory=list)


def is_sts_record(text: str) -> bool:
    """RFC 8461 3.1: records not beginning with "v=STSv1;" are discarded."""
    rest = text[len(STS_VERSION) :]
    return text.startswith(STS_VERSION) and (not rest or rest.lstrip(" \t")[:1] == ";")


def parse_sts_record(text: str) -> StsRecord:
    tags = split_tags(text)
    record = StsRecord(problems=list(tags.problems))
    if tags.fields[:1] != [("v", "STSv1")]:
        record.problems.append("the record must start with v=STSv1")
    for name in duplicates(tags):
        record.problems.append(f"{name}= given more than once")
    for name, value in tags.fields[1:]:
        if name == "id":
            if _ID.fullmatch(value) is None:
                record.problems.append(f"id={value!r}: 1 to 32 letters and digits expected")
        elif name == "v":
            record.problems.append("v= appears again after the start")
        elif not EXTENSION_NAME.fullmatch(name) or not EXTENSION_VALUE.fullmatch(value):
            record.problems.append(f"{name}={value!r}: not a valid extension field")
    record.id = tags.first("id")
    if record.id is None:
        record.problems.append("no id= field")
    return record


@dataclass
class StsPolicy:
    version: str | None = None
    mode: str | None = None
    max_age: int | None = None
    mx: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the policy is invalid
    notes: list[str] = field(default_factory=list)  # valid, but worth a warning


def parse_sts_policy(text: str) -> StsPolicy:
    """Parse a policy file: ``key: value`` lines, separated by LF or CRLF."""
    policy = StsPolicy()
    seen: set[str] = set()
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip(" \t"):
            continue
        key, colon, value = line.partition(":")
        value = value.strip(" \t")
        if not colon or not _POLICY_KEY.fullmatch(key):
            policy.problems.append(f"line {number}: {line[:60]!r} is not key: value")
            continue
        if key != "mx" and key in seen:
            policy.notes.append(f"{key} given more than once; the first counts")
            continue
        seen.add(key)
        _policy_field(policy, key, value)
    _required_fields(policy)
    return policy


def _policy_field(policy: StsPolicy, key: str, value: str) -> None:
    if key == "version":
        policy.version = value
        if value != "STSv1":
            policy.problems.append(f"version {value!r}: STSv1 expected")
    elif key == "mode":
        policy.mode = value
        if value not in MODES:
            policy.problems.append(f"mode {value!r}: enforce, testing or none expected")
    elif key == "max_age":
        if _MAX_AGE.fullmatch(value) and int(value) <= MAX_AGE_LIMIT:
            policy.max_age = int(value)
        else:
            policy.problems.append(f"max_age {value!r}: 0 to {MAX_AGE_LIMIT} seconds expected")
    elif key == "mx":
        if _MX_PATTERN.fullmatch(value):
            policy.mx.append(value.lower().rstrip("."))
        else:
            policy.problems.append(f"mx {value!r}: a host name or *.domain expected")
    # RFC 8461 3.2: other keys are extensions, ignored by senders.


def _required_fields(policy: StsPolicy) -> None:
    if policy.version is None:
        policy.problems.append("no version field")
    if policy.mode is None:
        policy.problems.append("no mode field")
    if policy.max_age is None and not any(p.startswith("max_age") for p in policy.problems):
        policy.problems.append("no max_age field")
    if not policy.mx and policy.mode in ("enforce", "testing"):
        policy.problems.append(f"no mx field: mode {policy.mode} needs at least one")


def mx_matches(host: str, pattern: str) -> bool:
    """RFC 8461 4.1: an exact name, or "*." matching exactly one leftmost label."""
    host = host.lower().rstrip(".")
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:]
    return host == pattern


def covered(mx_names: list[str], patterns: list[str]) -> tuple[list[str], list[str]]:
    """(MX hosts some pattern matches, MX hosts none matches), in the given order."""
    matched = [h for h in mx_names if any(mx_matches(h, p) for p in patterns)]
    missed = [h for h in mx_names if h not in matched]
    return matched, missed
