"""TLS for the client: verified contexts, readable failures, certificate details."""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from smtpshell.errors import TlsError
from smtpshell.protocol.endpoint import TlsMode

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
    if cafile is not None and not cafile.is_file():
        raise TlsError(f"CA file not found: {cafile}")
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


def explain_tls_failure(exc: BaseException, host: str, mode: TlsMode) -> str:
    """One line naming what went wrong and the way out."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = _VERIFY_REASONS.get(exc.verify_code, exc.verify_message or str(exc))
        return (
            f"TLS certificate verification failed for {host}: {reason}"
            " (trust its CA with --cafile PEM, or skip verification with --insecure)"
        )
    text = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
    if "WRONG_VERSION_NUMBER" in text.upper().replace(" ", "_"):
        hint = (
            "; the server does not speak TLS on this port: try --starttls or no TLS option"
            if mode is TlsMode.IMPLICIT
            else ""
        )
        return f"TLS handshake with {host} failed: wrong version number{hint}"
    return f"TLS handshake with {host} failed: {text}"


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    alt_names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    sha256: str  # colon-separated upper-case hex, as openssl prints it


@dataclass(frozen=True)
class TlsInfo:
    version: str
    cipher: str
    bits: int
    verified: bool
    certificate: CertificateInfo | None


def tls_info(ssl_object: ssl.SSLObject | ssl.SSLSocket, verified: bool) -> TlsInfo:
    cipher = ssl_object.cipher() or ("?", "?", 0)
    der = ssl_object.getpeercert(binary_form=True)
    return TlsInfo(
        version=ssl_object.version() or "?",
        cipher=cipher[0],
        bits=cipher[2] or 0,
        verified=verified,
        certificate=describe_certificate(der) if der else None,
    )


def describe_certificate(der: bytes) -> CertificateInfo:
    # cryptography is heavy to import; only needed once a handshake has happened.
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
