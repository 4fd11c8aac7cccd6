"""What to connect to and how: the one options type behind every way of connecting.

The command line (``--connect HOST[:PORT] --tls ...``), the shell's ``connect``,
``replay`` (whose options override a transcript's connect directive) and the pytest
plugin all build a :class:`ConnectOptions` and hand it to ``Session.open``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smtpshell.core.defaults import DEFAULT_HELO, DEFAULT_TIMEOUT
from smtpshell.errors import UsageError
from smtpshell.protocol.endpoint import Endpoint, TlsMode, parse_endpoint

if TYPE_CHECKING:
    from smtpshell.core.tls import TlsSettings

__all__ = ["DEFAULT_HELO", "DEFAULT_TIMEOUT", "ConnectOptions"]


@dataclass(frozen=True)
class ConnectOptions:
    """Where and how to connect. ``host``, ``port`` and ``mode`` are None when not
    given, so that :meth:`over` can tell a choice from a default."""

    host: str | None = None
    port: int | None = None
    mode: TlsMode | None = None
    cafile: Path | None = None
    insecure: bool = False
    helo: str = DEFAULT_HELO
    timeout: float = DEFAULT_TIMEOUT
    # A domain whose mail exchangers to try, in place of host (``connect --mx``).
    mx: str | None = None

    @classmethod
    def parse(cls, address: str | None, **options: object) -> ConnectOptions:
        """Options from ``HOST[:PORT]`` (None: no address) and keyword fields."""
        built = cls(**options)  # type: ignore[arg-type]
        if address is None:
            return built
        # The port stays None when not written, so a default follows the mode.
        endpoint = parse_endpoint(address, 0)
        return dataclasses.replace(built, host=endpoint.host, port=endpoint.port or None)

    def over(self, base: ConnectOptions) -> ConnectOptions:
        """These options where given, ``base`` for the rest of host, port and mode.

        ``replay --connect H --tls`` over a transcript's ``telnet host 25``: the
        command line wins field by field. TLS verification, EHLO name and time-out
        are always this object's.
        """
        return dataclasses.replace(
            self,
            host=self.host if self.host is not None else base.host,
            port=self.port if self.port is not None else base.port,
            mode=self.mode if self.mode is not None else base.mode,
        )

    @property
    def tls_mode(self) -> TlsMode:
        return self.mode or TlsMode.PLAIN

    @property
    def endpoint(self) -> Endpoint:
        """Host and port; the port defaults to the mode's (25, or 465 for implicit TLS)."""
        if self.host is None:
            raise UsageError("no host to connect to: give HOST[:PORT]")
        return Endpoint(self.host, self.port or self.tls_mode.default_port)

    @property
    def tls(self) -> TlsSettings:
        # core.tls brings ssl: the command line reads options for --help too.
        from smtpshell.core.tls import TlsSettings

        return TlsSettings(self.cafile, self.insecure)
