"""A private CA and a server certificate for the embedded server, made once and kept.

The CA is what users pass to ``--cafile``, so it must outlive the server certificate:
its key is kept too, and an expiring server certificate is reissued under the same CA.
``cryptography`` is imported inside the functions because the command line's start-up
time matters and most runs never touch TLS material.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smtpshell.server.network import ServerError

if TYPE_CHECKING:
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

CA_LIFETIME = datetime.timedelta(days=3650)
# 825 days: the longest server certificate lifetime Apple's TLS stack accepts.
SERVER_LIFETIME = datetime.timedelta(days=825)
# Renew a little before the end rather than fail a session that starts just before it.
RENEW_BEFORE = datetime.timedelta(days=1)
# Tolerate a client clock slightly behind ours.
BACKDATE = datetime.timedelta(hours=1)

SERVER_DNS_NAMES = ("localhost",)
SERVER_IP_ADDRESSES = ("127.0.0.1", "::1")


class CertificateError(ServerError):
    """The CA in the directory exists but cannot be used; it is never silently replaced."""


@dataclass(frozen=True)
class CertificatePaths:
    ca_file: Path
    cert_file: Path
    key_file: Path


def _paths(directory: Path) -> tuple[CertificatePaths, Path]:
    paths = CertificatePaths(
        ca_file=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server-key.pem",
    )
    return paths, directory / "ca-key.pem"


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """Keep two servers starting at once from writing mismatched halves of a pair."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the race is only a nuisance there.
        yield
        return
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with open(fd, "wb") as file:
        file.write(data)
    os.chmod(temporary, mode)  # the umask may have narrowed or an old file kept its mode
    os.replace(temporary, path)


def _valid_until(certificate: x509.Certificate) -> datetime.datetime:
    aware: datetime.datetime | None = getattr(certificate, "not_valid_after_utc", None)
    if aware is not None:
        return aware
    # cryptography < 42 only has the naive attribute, which is in UTC.
    naive: datetime.datetime = getattr(certificate, "not_valid_after")  # noqa: B009
    return naive.replace(tzinfo=datetime.UTC)


def _load_certificate(path: Path) -> x509.Certificate | None:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _unusable_ca(path: Path, problem: str) -> CertificateError:
    directory = path.parent
    return CertificateError(
        f"cannot use the existing CA: {path}: {problem}; restore it, or delete "
        f"{directory} to make a new one (clients must then trust its new ca.pem)"
    )


def _read_ca_file(path: Path) -> bytes | None:
    """The file's bytes, or None if it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unusable_ca(path, exc.strerror or str(exc)) from exc


def _existing_ca(
    ca_file: Path, key_file: Path
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The CA kept in the directory, or None when there is none yet.

    Users trust this CA (``--cafile``): replacing it would break every client set up
    with it, so once its certificate exists, anything wrong is an error to report.
    A key without a certificate is no CA yet: nobody can have trusted it.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    certificate_pem = _read_ca_file(ca_file)
    if certificate_pem is None:
        return None
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError:
        raise _unusable_ca(ca_file, "not a PEM certificate") from None
    key_pem = _read_ca_file(key_file)
    if key_pem is None:
        raise _unusable_ca(key_file, f"missing, and {ca_file.name} needs it")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):  # TypeError: the key is encrypted
        raise _unusable_ca(key_file, "not an unencrypted PEM private key") from None
    if (
        not isinstance(key, ec.EllipticCurvePrivateKey)
        or key.public_key() != certificate.public_key()
    ):
        raise _unusable_ca(key_file, f"not the key of {ca_file}")
    return certificate, key


def _fresh(certificate: x509.Certificate | None, now: datetime.datetime) -> bool:
    return certificate is not None and _valid_until(certificate) - RENEW_BEFORE > now


def _new_key() -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    # P-256: quick to generate, and every TLS 1.2+ client speaks ECDSA.
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certificate_pem(certificate: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return certificate.public_bytes(serialization.Encoding.PEM)


def _issue_ca(key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    # The machine name tells apart the CAs of several machines in a user's files.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smtpshell"),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"smtpshell local CA on {socket.gethostname()}"[:64]
            ),
        ]
    )
    # Name constraints (RFC 5280 4.2.1.10, which says they MUST be critical): even if
    # someone added this CA to a system trust store and its key leaked, it could only
    # vouch for loopback names, never for a real mail server.
    constraints = x509.NameConstraints(
        permitted_subtrees=[
            *(x509.DNSName(dns) for dns in SERVER_DNS_NAMES),
            x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
            x509.IPAddress(ipaddress.ip_network("::1/128")),
        ],
        excluded_subtrees=None,
    )
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(constraints, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )


def _issue_server(
    key: ec.EllipticCurvePrivateKey,
    ca_certificate: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names: list[x509.GeneralName] = [x509.DNSName(dns) for dns in SERVER_DNS_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IP_ADDRESSES]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + SERVER_LIFETIME, _valid_until(ca_certificate)))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # Clients match the host against the SANs only (RFC 6125 6.4.4), never the CN.
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def ensure_certificates(
    directory: Path, *, now: datetime.datetime | None = None
) -> CertificatePaths:
    """Return the CA and server certificate in ``directory``, creating them if needed.

    Everything is made on first use; afterwards the files are reused, so a CA a user
    already passes to ``--cafile`` keeps working. An expiring CA is replaced, but one
    that cannot be read, parsed or matched with its key raises ``CertificateError``
    rather than be replaced behind the user's back. A missing, unreadable or expiring
    server certificate is reissued under the existing CA. Keys are written with mode
    0600. ``now`` is for tests.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths, ca_key_file = _paths(directory)
    with _directory_lock(directory):
        existing = _existing_ca(paths.ca_file, ca_key_file)
        if existing is not None and _fresh(existing[0], now):
            ca_certificate, ca_key = existing
        else:
            ca_key = _new_key()
            ca_certificate = _issue_ca(ca_key, now)
            _write_atomically(ca_key_file, _key_pem(ca_key), 0o600)
            _write_atomically(paths.ca_file, _certificate_pem(ca_certificate), 0o644)

        server_certificate = _load_certificate(paths.cert_file)
        server_key = _load_key(paths.key_file)
        if (
            server_certificate is None
            or server_key is None
            or not _fresh(server_certificate, now)
            or server_certificate.public_key() != server_key.public_key()
            or not _issued_by(server_certificate, ca_certificate)
        ):
            server_key = _new_key()
            server_certificate = _issue_server(server_key, ca_certificate, ca_key, now)
            _write_atomically(paths.key_file, _key_pem(server_key), 0o600)
            _write_atomically(paths.cert_file, _certificate_pem(server_certificate), 0o644)
    return paths


def server_tls_context(paths: CertificatePaths) -> ssl.SSLContext:
    """A server-side context: no client certificates, TLS 1.2 or later."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(paths.cert_file, paths.key_file)
    return context
