"""The embedded SMTP server: STARTTLS and implicit TLS, AUTH, and a maildir store.

Nothing here imports aiosmtpd or cryptography until a server starts or certificates
are made, so importing this package is cheap.
"""

from smtpshell.server.certs import CertificatePaths, ensure_certificates
from smtpshell.server.embedded import (
    BackgroundServer,
    EmbeddedServer,
    ServerConfig,
    ServerError,
    free_port,
)
from smtpshell.server.store import MaildirStore

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
