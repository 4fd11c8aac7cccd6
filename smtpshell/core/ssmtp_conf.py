"""An ssmtp.conf read as a profile: ``smtpshell config import-ssmtp``.

ssmtp reads ``Key=Value`` lines, keys case-insensitive, ``#`` comments, and takes
``YES`` (any case) for true and anything else for false. Keys it does not know it
ignores; a near miss of a known one (the seed's ``rewriterDomain``) is read as
that key, with a note, since its author clearly meant it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from smtpshell.core.profile_writer import TomlValue
from smtpshell.protocol.inert import inert

DEFAULT_PATH = Path("/etc/ssmtp/ssmtp.conf")
KNOWN = {
    key.lower(): key
    for key in (
        "Root", "Mailhub", "RewriteDomain", "Hostname", "FromLineOverride", "UseTLS",
        "UseSTARTTLS", "TLSCert", "TLSKey", "TLS_CA_File", "TLS_CA_Dir", "AuthUser",
        "AuthPass", "AuthMethod", "Debug",
    )
}  # fmt: skip
_UNSUPPORTED = {
    "tlscert": "client certificates are not supported",
    "tlskey": "client certificates are not supported",
    "tls_ca_dir": "give one file of CA certificates as cafile instead",
    "debug": "smtpshell shows the whole exchange anyway",
}


@dataclass
class SsmtpImport:
    """What an ssmtp.conf becomes: profile keys in the file's words, the password
    apart (it is written only when asked), and notes for the user."""

    values: dict[str, TomlValue] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)


def read_ssmtp_conf(text: str) -> SsmtpImport:
    """The profile an ssmtp.conf describes (not yet validated: that is load's job)."""
    settings: dict[str, str] = {}
    imported = SsmtpImport()
    # Lines end at LF only, as ssmtp's fgets reads them: str.splitlines would also
    # end one at U+0085 or U+2028, cutting a password there and reading its rest as
    # a key (quoted in a note).
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(" \t\r")
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        key, value = key.strip(" \t"), value.strip(" \t")
        if not equals or not key:
            imported.notes.append(f"line {number} ignored: not Key=Value")
            continue
        known = _known_key(key, number, imported.notes)
        if known is not None:
            settings[known] = value
    _convert(settings, imported)
    return imported


def _known_key(key: str, number: int, notes: list[str]) -> str | None:
    lowered = key.lower()
    if lowered in KNOWN:
        return lowered
    close = difflib.get_close_matches(lowered, KNOWN, n=1, cutoff=0.85)
    if close:
        notes.append(
            f"line {number}: read {inert(key)} as {KNOWN[close[0]]} "
            "(ssmtp itself ignores the misspelt key)"
        )
        return close[0]
    notes.append(f"line {number}: unknown key {inert(key)} ignored")
    return None


def _yes(value: str) -> bool:
    return value.lower() == "yes"


def _convert(settings: dict[str, str], imported: SsmtpImport) -> None:
    values = imported.values
    if "mailhub" in settings:
        values["server"] = settings["mailhub"]
    else:
        imported.notes.append("no mailhub: server set to ssmtp's default, the host mailhub")
        values["server"] = "mailhub"
    if _yes(settings.get("usestarttls", "")):
        values["tls"] = "starttls"  # ssmtp's UseSTARTTLS=YES implies UseTLS
    elif _yes(settings.get("usetls", "")):
        values["tls"] = "implicit"
    else:
        values["tls"] = "none"
        imported.notes.append(
            'ssmtp.conf uses no TLS, so tls = "none": the password would cross the '
            'network in clear; prefer tls = "starttls" if the server offers it'
        )
    user = settings.get("authuser")
    if user:
        values["user"] = user
    if "authpass" in settings:
        imported.password = settings["authpass"]
    sender = _sender(settings, imported.notes)
    if sender:
        values["sender"] = sender
    if settings.get("rewritedomain"):
        values["rewrite_domain"] = settings["rewritedomain"]
    hostname = settings.get("hostname")
    if hostname and "@" in hostname:
        imported.notes.append(
            f"hostname={inert(hostname)} is an address, not a host name: helo left at its default"
        )
    elif hostname:
        values["helo"] = hostname
    # ssmtp's default is NO: the From header is rewritten unless this says YES.
    values["keep_from_header"] = _yes(settings.get("fromlineoverride", ""))
    if settings.get("authmethod"):
        if settings["authmethod"].lower() == "cram-md5":
            values["auth_mechanism"] = "CRAM-MD5"
        else:
            imported.notes.append(
                f"AuthMethod={inert(settings['authmethod'])} ignored: "
                "the best mechanism the server offers is chosen"
            )
    if settings.get("tls_ca_file"):
        values["cafile"] = settings["tls_ca_file"]
    for key, why in _UNSUPPORTED.items():
        if key in settings:
            imported.notes.append(f"{KNOWN[key]} ignored: {why}")


def _sender(settings: dict[str, str], notes: list[str]) -> str | None:
    """AuthUser when it is an address (submission servers such as qq.com accept no
    other sender), else root=, which ssmtp uses for mail to system users but which
    guides commonly set to the sending address."""
    user, root = settings.get("authuser", ""), settings.get("root", "")
    if "@" in user:
        return user
    if "@" in root:
        notes.append(f"sender taken from root={inert(root)}")
        return root
    return None
