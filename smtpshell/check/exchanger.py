"""One exchanger address, probed as a sending server would meet it; no mail is sent.

Connect, read the greeting, EHLO, STARTTLS with the certificate verified against
the MX host name (RFC 7817 3, RFC 6125 6), EHLO again inside TLS, an optional
relay test, QUIT. Then two short handshakes of its own (handshake.py): one that
reads the certificate whatever its state (expiry, key, DANE), one that offers
only TLS 1.0 and 1.1.
"""

from __future__ import annotations

import contextlib
import datetime
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

from smtpshell.check.handshake import (
    Handshake,
    HandshakeCut,
    legacy_context,
    starttls_handshake,
    unverified_context,
)
from smtpshell.check.model import Finding, Section, Status
from smtpshell.core.events import Connected, Event, Origin
from smtpshell.core.session import Session
from smtpshell.core.tls import TlsSettings
from smtpshell.errors import ProtocolError, SmtpShellError, TlsError
from smtpshell.protocol.endpoint import Endpoint, TlsMode, format_host

# Extensions a sending server cares about, and what each is for.
EXTENSIONS = ("STARTTLS", "SIZE", "PIPELINING", "8BITMIME", "SMTPUTF8", "CHUNKING", "DSN",
              "REQUIRETLS")  # fmt: skip
EXPIRY_WARNING_DAYS = 14
_WEAK_RSA_BITS = 2048


@dataclass(frozen=True)
class ProbeSettings:
    port: int = 25
    helo: str = "localhost"
    timeout: float = 10.0  # each step: connecting, each reply, each handshake
    cafile: Path | None = None
    relay_test: bool = False


@dataclass
class ProbeResult:
    section: Section
    starttls: bool = False
    leaf: bytes | None = None  # the certificate presented, DER, for DANE
    chain: tuple[bytes, ...] | None = None
    timings: dict[str, float] = field(default_factory=dict)


def section_key(name: str, address: str) -> str:
    return f"mx:{name}:{address}"


async def probe(name: str, address: str, settings: ProbeSettings) -> ProbeResult:
    """Every finding about one address of the exchanger ``name``."""
    title = f"{name} [{address}]:{settings.port}"
    result = ProbeResult(Section(section_key(name, address), title))
    session = Session(timeout=settings.timeout)
    try:
        await _conversation(session, name, address, settings, result)
    finally:
        await session.close()
    if result.starttls:
        await _certificate(name, address, settings, result)
        await _legacy_versions(name, address, settings, result)
    return result


async def _conversation(
    session: Session, name: str, address: str, settings: ProbeSettings, result: ProbeResult
) -> None:
    section = result.section
    started = time.monotonic()
    connected: list[float] = []

    def note(event: Event) -> None:
        if isinstance(event, Connected):
            connected.append(time.monotonic() - started)

    session.subscribe(note)
    endpoint = Endpoint(address, settings.port)
    tls = TlsSettings(cafile=settings.cafile)
    try:
        greeting = await session.connect(endpoint, TlsMode.PLAIN, tls, settings.helo, name)
    except SmtpShellError as exc:
        # Connected but never greeted is a greeting failure; else no connection at all.
        check = "smtp.greeting" if connected else "smtp.connect"
        section.add(Finding(check, Status.FAIL, str(exc), "RFC 5321 3.1"))
        return
    greeted = time.monotonic() - started
    result.timings = {"connect": connected[0] if connected else greeted, "greeting": greeted}
    section.add(_greeting_finding(greeting.code, greeting.lines, result.timings))
    if greeting.code != 220:
        return
    if not await _ehlo(session, settings, section, "smtp.ehlo"):
        return
    caps = session.capabilities
    if caps is None or not caps.has("STARTTLS"):
        summary = "no STARTTLS offered: mail to this exchanger travels in clear text"
        section.add(Finding("tls.starttls", Status.FAIL, summary, "RFC 3207"))
    elif await _starttls(session, name, section):
        result.starttls = True
        await _ehlo(session, settings, section, "smtp.ehlo_tls")
    else:
        result.starttls = True  # offered, but refused or unverified: still look at it
        if settings.relay_test:
            section.add(await _relay_in_clear(name, address, settings))
        return
    if settings.relay_test:
        from smtpshell.check.relay import relay_finding

        section.add(await relay_finding(session))
    if session.connected:
        # The checks are done; a server that hangs up early loses nothing.
        with contextlib.suppress(SmtpShellError):
            await session.send("QUIT", Origin.AUTO)


async def _relay_in_clear(name: str, address: str, settings: ProbeSettings) -> Finding:
    """The relay test on a connection of its own, in clear text: the first ended when
    TLS failed, and an open relay needs no certificate to be one."""
    from smtpshell.check.relay import relay_finding

    session = Session(timeout=settings.timeout)
    try:
        endpoint = Endpoint(address, settings.port)
        greeting = await session.connect(
            endpoint, TlsMode.PLAIN, TlsSettings(), settings.helo, name
        )
        hello = await session.send(f"EHLO {settings.helo}", Origin.AUTO)
        if greeting.code != 220 or hello.code != 250:
            why = f"the server answered {greeting.code if greeting.code != 220 else hello.code}"
            return Finding("relay", Status.INFO, f"relay test not run: {why}", "RFC 5321 3.6.2")
        finding = await relay_finding(session)
        with contextlib.suppress(SmtpShellError):
            await session.send("QUIT", Origin.AUTO)
        return finding
    except SmtpShellError as exc:
        return Finding("relay", Status.INFO, f"relay test not run: {exc}", "RFC 5321 3.6.2")
    finally:
        await session.close()


def _greeting_finding(code: int, lines: tuple[str, ...], timings: dict[str, float]) -> Finding:
    text = lines[0] if lines else ""
    server = text.split(" ", 1)[0]
    details = {
        "code": code,
        "text": text,
        "name": server,
        "connect_ms": round(timings["connect"] * 1000, 1),
        "greeting_ms": round(timings["greeting"] * 1000, 1),
    }
    took = f"connected in {details['connect_ms']:g} ms, greeted after {details['greeting_ms']:g} ms"
    if code != 220:
        summary = f"greeting {code} {text}: the server turns senders away ({took})"
        return Finding("smtp.greeting", Status.FAIL, summary, "RFC 5321 3.1", details)
    return Finding("smtp.greeting", Status.PASS, f"220 {text} ({took})", "RFC 5321 3.1", details)


async def _ehlo(session: Session, settings: ProbeSettings, section: Section, check: str) -> bool:
    try:
        reply = await session.send(f"EHLO {settings.helo}", Origin.AUTO)
    except SmtpShellError as exc:
        section.add(Finding(check, Status.FAIL, f"EHLO: {exc}", "RFC 5321 4.1.1.1"))
        return False
    caps = session.capabilities
    if reply.code != 250 or caps is None:
        summary = f"EHLO refused: {reply.code} {reply.lines[0] if reply.lines else ''}"
        section.add(Finding(check, Status.FAIL, summary, "RFC 5321 4.1.1.1"))
        return False
    # Inside TLS, STARTTLS is rightly gone (RFC 3207 4.2): not worth a mention.
    wanted = EXTENSIONS if check == "smtp.ehlo" else EXTENSIONS[1:]
    offered = {ext: caps.has(ext) for ext in wanted}
    size = caps.size_limit
    shown = [
        ext if ext != "SIZE" or size is None else f"SIZE {size}"
        for ext, on in offered.items()
        if on
    ]
    missing = [ext for ext, on in offered.items() if not on]
    where = "inside TLS" if check == "smtp.ehlo_tls" else "in clear text"
    summary = f"EHLO {where}: {' '.join(shown) or 'no extensions'}"
    if missing:
        summary += f" (not offered: {' '.join(missing)})"
    details = {"extensions": offered, "size": size, "keywords": sorted(caps.extensions)}
    section.add(Finding(check, Status.INFO, summary, "RFC 5321 4.1.1.1", details))
    return True


async def _starttls(session: Session, name: str, section: Section) -> bool:
    try:
        reply = await session.send("STARTTLS", Origin.AUTO)
    except TlsError as exc:
        section.add(Finding("tls.verify", Status.FAIL, str(exc), "RFC 7817 3", {"host": name}))
        return False
    except SmtpShellError as exc:
        section.add(Finding("tls.starttls", Status.FAIL, f"STARTTLS: {exc}", "RFC 3207 4"))
        return False
    info = session.tls
    if reply.code != 220 or info is None:
        summary = f"STARTTLS refused: {reply.code} {reply.lines[0] if reply.lines else ''}"
        section.add(Finding("tls.starttls", Status.FAIL, summary, "RFC 3207 4"))
        return False
    details = {"version": info.version, "cipher": info.cipher, "bits": info.bits}
    summary = f"STARTTLS: {info.version}, {info.cipher}"
    if info.version in ("TLSv1", "TLSv1.1", "SSLv3"):
        section.add(
            Finding(
                "tls.starttls", Status.WARN, summary + ": an outdated version", "RFC 8996", details
            )
        )
    else:
        section.add(Finding("tls.starttls", Status.PASS, summary, "RFC 3207", details))
    summary = f"certificate chain verified, and valid for {name}"
    section.add(Finding("tls.verify", Status.PASS, summary, "RFC 7817 3", {"host": name}))
    return True


async def _certificate(
    name: str, address: str, settings: ProbeSettings, result: ProbeResult
) -> None:
    section = result.section
    try:
        shake = await _handshake(name, address, settings, unverified_context())
    except (ssl.SSLError, OSError, TimeoutError, ProtocolError) as exc:
        summary = f"could not read the certificate: {_reason(exc)}"
        section.add(Finding("tls.certificate", Status.FAIL, summary, "RFC 3207"))
        return
    result.leaf, result.chain = shake.leaf, shake.chain
    if shake.leaf is None:
        section.add(
            Finding(
                "tls.certificate", Status.FAIL, "the server presented no certificate", "RFC 3207"
            )
        )
        return
    for finding in certificate_findings(shake.leaf):
        section.add(finding)


def certificate_findings(der: bytes, now: datetime.datetime | None = None) -> list[Finding]:
    """Expiry and key strength of a certificate (DER)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    cert = x509.load_der_x509_certificate(der)
    moment = now or datetime.datetime.now(datetime.UTC)
    not_after = cert.not_valid_after_utc
    days = (not_after - moment).days
    when = not_after.strftime("%Y-%m-%d")
    details: dict[str, object] = {"not_after": not_after.isoformat(), "days_left": days,
                                  "subject": cert.subject.rfc4514_string()}  # fmt: skip
    rfc = "RFC 5280 4.1.2.5"
    if not_after <= moment:
        expiry = Finding(
            "tls.expiry", Status.FAIL, f"the certificate expired on {when}", rfc, details
        )
    elif cert.not_valid_before_utc > moment:
        expiry = Finding(
            "tls.expiry", Status.FAIL, "the certificate is not valid yet", rfc, details
        )
    elif days < EXPIRY_WARNING_DAYS:
        expiry = Finding(
            "tls.expiry",
            Status.WARN,
            f"the certificate expires in {days} days ({when})",
            rfc,
            details,
        )
    else:
        expiry = Finding(
            "tls.expiry",
            Status.PASS,
            f"the certificate is valid for {days} more days ({when})",
            rfc,
            details,
        )
    key = cert.public_key()
    status = Status.PASS
    if isinstance(key, rsa.RSAPublicKey):
        kind, bits = "RSA", key.key_size
        status = Status.WARN if bits < _WEAK_RSA_BITS else Status.PASS
    elif isinstance(key, ec.EllipticCurvePublicKey):
        kind, bits = f"EC {key.curve.name}", key.key_size
    elif isinstance(key, ed25519.Ed25519PublicKey):
        kind, bits = "Ed25519", 256
    elif isinstance(key, ed448.Ed448PublicKey):
        kind, bits = "Ed448", 456
    else:
        kind, bits = type(key).__name__, 0
    summary = f"{kind} key, {bits} bits" + (": too weak" if status is Status.WARN else "")
    key_finding = Finding("tls.key", status, summary, "RFC 9325 4.5", {"type": kind, "bits": bits})
    return [expiry, key_finding]


async def _legacy_versions(
    name: str, address: str, settings: ProbeSettings, result: ProbeResult
) -> None:
    check, rfc = "tls.legacy", "RFC 8996"
    try:
        context = legacy_context()
    except (ssl.SSLError, ValueError) as exc:
        summary = (
            "could not test TLS 1.0/1.1: this machine's TLS library cannot offer them "
            f"({_reason(exc)})"
        )
        result.section.add(Finding(check, Status.INFO, summary, rfc, {"tested": False}))
        return
    try:
        shake = await _handshake(name, address, settings, context)
    except HandshakeCut:
        summary = "TLS 1.0 and 1.1 are refused (the server ended the handshake)"
        refused = {"tested": True, "accepted": False}
        result.section.add(Finding(check, Status.PASS, summary, rfc, refused))
        return
    except ssl.SSLError as exc:
        reason = (exc.reason or "").upper()
        if "NO_PROTOCOLS_AVAILABLE" in reason or "NO_CIPHERS" in reason:
            summary = "could not test TLS 1.0/1.1: this machine's TLS library refuses to offer them"
            result.section.add(Finding(check, Status.INFO, summary, rfc, {"tested": False}))
        else:
            summary = "TLS 1.0 and 1.1 are refused"
            result.section.add(
                Finding(check, Status.PASS, summary, rfc, {"tested": True, "accepted": False})
            )
        return
    except (OSError, TimeoutError, ProtocolError) as exc:
        summary = f"could not test TLS 1.0/1.1: {_reason(exc)}"
        result.section.add(Finding(check, Status.INFO, summary, rfc, {"tested": False}))
        return
    summary = f"{shake.version} is still accepted; both it and TLS 1.0 are deprecated"
    details: dict[str, object] = {"tested": True, "accepted": True, "version": shake.version}
    result.section.add(Finding(check, Status.WARN, summary, rfc, details))


async def _handshake(
    name: str, address: str, settings: ProbeSettings, context: ssl.SSLContext
) -> Handshake:
    return await starttls_handshake(
        address, settings.port, name, context, settings.helo, settings.timeout
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def describe_address(name: str, address: str, port: int) -> str:
    return f"{name} [{format_host(address)}]:{port}"
