"""TLS for the client: verified contexts, readable failures, certificate details."""

from __future__ import annotations

import functools
import hashlib
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from smtpshell.errors import TlsError
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.protocol.inert import inert

if TYPE_CHECKING:
    from datetime import datetime

# OpenSSL X509_V_ERR_* codes worth explaining (x509_vfy.h).
_VERIFY_REASONS = {
    2: "the issuer certificate could not be found",
    9: "the certificate is not yet valid",
    10: "the certificate has expired",
    18: "the certificate is self-signed",
    19: "a self-signed certificate is in the chain",
    20: "the certificate's issuer is unknown (not in the trust store)",
    21: "the certificate chain is incomplete",
    62: "the certificate does not match the host name",
    64: "the certificate does not match the IP address",
}
# The chain ends at a CA this machine does not trust: trusting that CA is the way
# out. An expired certificate or a wrong name is the server's to fix, or the
# user's (another name); no CA file can help with those.
_UNTRUSTED_ISSUER = frozenset({2, 18, 19, 20, 21})
_NAME_MISMATCH = frozenset({62, 64})
_TIME_INVALID = frozenset({9, 10})
# Failures whose explanation needs the certificate itself (its dates or its names).
NEEDS_CERTIFICATE = _NAME_MISMATCH | _TIME_INVALID


def check_ca_file(path: Path) -> None:
    """Raise :class:`TlsError` (``PATH: what is wrong``) unless ``path`` is a readable
    file holding at least one certificate: checked before connecting, so a typo
    costs one line instead of a connection and a handshake."""
    if path.is_dir():
        raise TlsError(f"{path}: is a directory, not a file")
    if not path.exists():
        raise TlsError(f"{path}: no such file")
    if not path.is_file():
        raise TlsError(f"{path}: not a regular file")  # a FIFO or a device never ends
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(path))
    except ssl.SSLError as exc:  # before OSError, which it is too
        raise TlsError(f"{path}: holds no certificate ({exc.reason or exc}); {_PEM_HINT}") from None
    except OSError as exc:
        raise TlsError(f"{path}: {(exc.strerror or str(exc)).lower()}") from None
    if not context.cert_store_stats()["x509"]:
        raise TlsError(f"{path}: holds no certificate; {_PEM_HINT}")


_PEM_HINT = "give the CA certificates in PEM (-----BEGIN CERTIFICATE-----)"


@dataclass(frozen=True)
class TlsSettings:
    """How to verify the server: the CA file to trust, or (asked for) not at all."""

    cafile: Path | None = None
    insecure: bool = False

    def context(self) -> ssl.SSLContext:
        return client_context(self.cafile, self.insecure)


def client_context(cafile: Path | None = None, insecure: bool = False) -> ssl.SSLContext:
    """A verifying context (chain and host name), unless the user asked otherwise.

    Never smtplib's default: its starttls()/SMTP_SSL without a context verify
    nothing (CPython issue 91826).
    """
    if cafile is not None:
        check_ca_file(cafile)
    try:
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except ssl.SSLError as exc:
        raise TlsError(f"cannot load CA file {cafile}: {exc.reason or exc}") from exc
    # RFC 6125 6.4.4: a certificate without a subjectAltName names no host. OpenSSL
    # falls back to the subject's CN unless told not to.
    context.hostname_checks_common_name = False
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def explain_tls_failure(
    exc: BaseException, host: str, mode: TlsMode, certificate: CertificateInfo | None = None
) -> str:
    """One line naming what went wrong and the way out that fits it.

    ``certificate`` is the one refused, when it could be read: it gives the date
    an expired certificate ran out and the names a mismatched one carries.
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = _verify_reason(exc, host, certificate)
        return f"TLS certificate verification failed for {host}: {reason}"
    text = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
    if "WRONG_VERSION_NUMBER" in text.upper().replace(" ", "_"):
        hint = (
            "; the server does not speak TLS on this port: try --starttls or no TLS option"
            if mode is TlsMode.IMPLICIT
            else ""
        )
        return f"TLS handshake with {host} failed: wrong version number{hint}"
    return f"TLS handshake with {host} failed: {text}"


def _verify_reason(
    exc: ssl.SSLCertVerificationError, host: str, certificate: CertificateInfo | None
) -> str:
    code = exc.verify_code
    reason = _VERIFY_REASONS.get(code, exc.verify_message or str(exc))
    if code in _UNTRUSTED_ISSUER:
        return f"{reason} (trust its CA with --cafile PEM, or skip verification with --insecure)"
    if code in _NAME_MISMATCH:
        return f"{reason} {host}{_names_hint(certificate)}"
    if code in _TIME_INVALID and certificate is not None:
        return _validity(code, certificate)
    return reason


def _names_hint(certificate: CertificateInfo | None) -> str:
    if certificate is None:
        return ": connect to the server by a name its certificate carries"
    if not certificate.alt_names:
        # RFC 6125 6.4.4: the subject's CN is not a host name to match.
        return f" (it names no host: no subjectAltName, subject {inert(certificate.subject)})"
    names = ", ".join(inert(name.partition(":")[2]) for name in certificate.alt_names)
    return f"; it is for {names}: connect to the server by one of those names"


def _validity(code: int, certificate: CertificateInfo) -> str:
    from datetime import UTC, datetime  # only to explain a refused certificate

    now = datetime.now(UTC)
    if code == 10:
        days = (now - certificate.not_after).days
        return (
            f"the certificate expired on {certificate.not_after:%Y-%m-%d %H:%M} UTC "
            f"({_days(days)} ago): the server must renew it"
        )
    days = (certificate.not_before - now).days
    return (
        f"the certificate is not valid until {certificate.not_before:%Y-%m-%d %H:%M} UTC "
        f"(in {_days(days)}): check this machine's clock, or wait"
    )


def _days(days: int) -> str:
    return "less than a day" if days < 1 else f"{days} day{'s' if days != 1 else ''}"


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    alt_names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    sha256: str  # colon-separated upper-case hex, as openssl prints it


@dataclass(frozen=True, init=False)
class TlsInfo:
    """What a handshake agreed on, and the server's certificate.

    The certificate is read from its DER bytes when first asked for (the ``tls``
    command, a refusal to explain, a recording's comment): the parser,
    cryptography, costs tens of milliseconds to import, and most sessions never
    look at it.
    """

    version: str
    cipher: str
    bits: int
    verified: bool
    _given: CertificateInfo | None
    _der: bytes | None = field(repr=False)

    def __init__(
        self,
        version: str,
        cipher: str,
        bits: int,
        verified: bool,
        certificate: CertificateInfo | None = None,
        *,
        der: bytes | None = None,
    ) -> None:
        # Frozen: set as dataclasses itself does.
        for name, value in (
            ("version", version),
            ("cipher", cipher),
            ("bits", bits),
            ("verified", verified),
            ("_given", certificate),
            ("_der", der if certificate is None else None),
        ):
            object.__setattr__(self, name, value)

    @functools.cached_property
    def certificate(self) -> CertificateInfo | None:
        if self._given is not None or self._der is None:
            return self._given
        return describe_certificate(self._der)


def tls_info(ssl_object: ssl.SSLObject | ssl.SSLSocket, verified: bool) -> TlsInfo:
    cipher = ssl_object.cipher() or ("?", "?", 0)
    return TlsInfo(
        version=ssl_object.version() or "?",
        cipher=cipher[0],
        bits=cipher[2] or 0,
        verified=verified,
        der=ssl_object.getpeercert(binary_form=True) or None,
    )


def describe_certificate(der: bytes) -> CertificateInfo:
    # cryptography is heavy to import: only when a certificate is looked at.
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [f"DNS:{n}" for n in san.get_values_for_type(x509.DNSName)]
        names += [f"IP:{ip}" for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    digest = hashlib.sha256(der).hexdigest().upper()
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        alt_names=tuple(names),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
    )
