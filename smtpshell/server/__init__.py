"""The embedded SMTP server: STARTTLS and implicit TLS, AUTH, and a maildir store.

Importing this package imports none of it: ``smtpshell serve --help`` reads the
options in ``server.command`` and stops there. The names below load on first use
(PEP 562), and aiosmtpd and cryptography only when a server starts or
certificates are made.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smtpshell.server.certs import CertificatePaths, ensure_certificates
    from smtpshell.server.embedded import (
        BackgroundServer,
        EmbeddedServer,
        ServerConfig,
        ServerError,
        free_port,
    )
    from smtpshell.server.store import MaildirStore

# Where each public name lives.
_HOMES = {
    "BackgroundServer": "embedded",
    "CertificatePaths": "certs",
    "EmbeddedServer": "embedded",
    "MaildirStore": "store",
    "ServerConfig": "embedded",
    "ServerError": "embedded",
    "ensure_certificates": "certs",
    "free_port": "embedded",
}

__all__ = [
    "BackgroundServer",
    "CertificatePaths",
    "EmbeddedServer",
    "MaildirStore",
    "ServerConfig",
    "ServerError",
    "ensure_certificates",
    "free_port",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
