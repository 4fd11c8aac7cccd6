"""Mail exchanger lookup: the `mx` command and the candidate list for direct delivery.

What a user used to do with mxtoolbox before opening a telnet session, done
through a resolver the user can choose (`--nameserver`, `SMTPSHELL_NAMESERVER`):

- MX records sorted by preference, each host with its A and AAAA addresses;
- no MX: the domain's own A/AAAA records act as an implicit MX (RFC 5321 5.1);
- a single `0 .` record: the domain accepts no mail (null MX, RFC 7505);
- NXDOMAIN, no data, server failures and time-outs become one-line `DnsError`s.

dnspython is imported inside the functions that use it, so that importing this
module (and starting the shell) stays cheap.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import itertools
import os
import random
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smtpshell.errors import SmtpShellError, UsageError
from smtpshell.protocol.endpoint import (
    EndpointError,
    find_control,
    format_host,
    parse_port,
    split_host_port,
)

if TYPE_CHECKING:
    import dns._asyncbackend
    import dns.asyncresolver
    import dns.name
    import dns.resolver

NAMESERVER_ENV = "SMTPSHELL_NAMESERVER"
DNS_PORT = 53
DEFAULT_TIMEOUT = 5.0

# RFC 952/1123 host names; the last label may not be all digits (RFC 3696 2),
# which keeps "1.2.3" from being taken for a host name.
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*"
    r"(?![0-9]+$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MxHost:
    """One mail exchanger: an MX record and the addresses of its target."""

    preference: int
    name: str  # without trailing dot; IDNs in their ASCII (A-label) form
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]
    ttl: int  # TTL of the MX record (of the A/AAAA records for an implicit MX)


@dataclass(frozen=True)
class MxResult:
    """The mail exchangers of a domain, as the `mx` command shows them."""

    domain: str
    hosts: tuple[MxHost, ...]  # sorted by preference, then name
    implicit: bool = False  # no MX: the domain's own A/AAAA used (RFC 5321 5.1)
    null_mx: bool = False  # "0 ." alone: the domain accepts no mail (RFC 7505)
    nameserver: str | None = None  # the resolver that answered, for display


class DnsError(SmtpShellError):
    """A lookup failed; `str(error)` (and `.message`) is a one-line explanation."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidDomainError(DnsError, ValueError):
    """The text given is not a domain name (empty, empty label, too long...)."""


class NoSuchDomainError(DnsError):
    """NXDOMAIN: the name does not exist; a permanent failure for delivery."""


class DnsTimeoutError(DnsError, TimeoutError):
    """No answer within the configured time; a transient failure for delivery."""


class ResolverConfigError(UsageError, ValueError):
    """A nameserver or time-out that cannot be used (``--nameserver``, the environment)."""


@dataclass(frozen=True)
class ResolverConfig:
    """Which resolver to ask and how long a whole lookup may take."""

    nameserver: str | None = None  # "HOST[:PORT]" or "[v6]:PORT"; None: system resolver
    timeout: float = DEFAULT_TIMEOUT  # seconds, bounds a whole lookup

    def __post_init__(self) -> None:
        if self.nameserver is not None:
            parse_nameserver(self.nameserver)
        if not 0 < self.timeout < float("inf"):
            raise ResolverConfigError(
                f"DNS timeout must be a positive number of seconds: {self.timeout}"
            )

    @classmethod
    def from_env(
        cls,
        nameserver: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
    ) -> ResolverConfig:
        """Build a config; an explicit `nameserver` wins over `SMTPSHELL_NAMESERVER`."""
        if nameserver is not None:
            return cls(nameserver, timeout)
        env = os.environ if environ is None else environ
        from_env = env.get(NAMESERVER_ENV, "").strip() or None
        if from_env is not None:
            try:
                parse_nameserver(from_env)
            except ResolverConfigError as exc:
                raise ResolverConfigError(f"{NAMESERVER_ENV}: {exc}") from exc
        return cls(from_env, timeout)


def parse_nameserver(text: str) -> tuple[str, int]:
    """Split "HOST[:PORT]", "[IPv6]:PORT" or a bare IPv6 address into (host, port).

    A bare IPv6 address cannot carry a port ("::1:53" is itself an address), so
    a port needs brackets, as in URLs (RFC 3986 3.2.2). The port defaults to 53.
    Unlike a mail server's address, the host must be an IP address or a valid
    host name: it is resolved before any query, by the system, as `dig @host` does.
    """
    spec = text.strip()
    if not spec:
        raise ResolverConfigError("empty nameserver: expected HOST[:PORT] or [IPv6]:PORT")
    try:
        host, port_text = split_host_port(spec)
    except EndpointError as exc:
        raise ResolverConfigError(str(exc)) from None
    try:
        port = DNS_PORT if port_text is None else parse_port(port_text)
    except EndpointError as exc:
        raise ResolverConfigError(f"{spec!r}: {exc}") from None
    address = _ip_address(host)
    if spec.startswith("[") and (address is None or ":" not in address):
        raise ResolverConfigError(f"{spec!r}: {host!r} inside brackets is not an IPv6 address")
    if address is not None:
        return address, port
    if ":" in host:
        raise ResolverConfigError(f"{spec!r}: not an IPv6 address (write [IPv6]:PORT for a port)")
    if not _HOSTNAME.fullmatch(host):
        raise ResolverConfigError(f"{spec!r}: not an IP address or host name")
    return host.lower(), port


def format_nameserver(host: str, port: int = DNS_PORT) -> str:
    """The inverse of `parse_nameserver`: "[::1]:5353", "127.0.0.1" (port 53 left out)."""
    shown = format_host(host)
    return shown if port == DNS_PORT else f"{shown}:{port}"


def _ip_address(text: str) -> str | None:
    """The normalised form of an IP address literal, or None."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _seconds(value: float) -> str:
    return f"{value:.1f}" if round(value, 1) == value else f"{value:g}"


def _domain_name(domain: str) -> tuple[dns.name.Name, str]:
    """Parse user input into an absolute DNS name and the form shown in messages."""
    import dns.exception
    import dns.name

    text = domain.strip()
    # "example.com." is the same domain written fully qualified.
    text = text[:-1] if text.endswith(".") else text
    if not text:
        raise InvalidDomainError("empty domain name")
    if find_control(text) is not None or any(ch.isspace() for ch in text):
        raise InvalidDomainError(f"{text!r}: a domain name has no spaces or control characters")
    try:
        # Absolute (origin is the root), so the resolver never appends search
        # domains; Unicode labels go through IDNA (RFC 5891) here.
        name = dns.name.from_text(text)
    except dns.exception.DNSException as exc:
        raise InvalidDomainError(f"{text}: invalid domain name ({_reason(exc)})") from exc
    return name, text.lower()


def checked_domain(domain: str) -> str:
    """``domain`` as shown in messages, lower case; `InvalidDomainError` when it is
    not a domain name (checked before any lookup, as a usage error)."""
    return _domain_name(domain)[1]


def _reason(exc: BaseException) -> str:
    """An exception's text fit for the middle of a sentence."""
    text = (str(exc) or type(exc).__name__).strip().rstrip(".")
    return text[:1].lower() + text[1:]


def _host_text(name: dns.name.Name) -> str:
    # Lower case: servers echo the question's case into compressed names
    # ("mx1.MX.TEST" for a query about "MX.TEST"), and DNS ignores case anyway.
    return name.to_text(omit_final_dot=True).lower()


class _Lookup:
    """A resolver plus the deadline shared by every query of one lookup.

    `subject` is the name the user asked about, as shown: every error message
    starts with it.
    """

    def __init__(
        self,
        resolver: dns.asyncresolver.Resolver,
        subject: tuple[dns.name.Name, str],
        deadline: float,
        timeout: float,
    ) -> None:
        self.resolver = resolver
        self.subject_name, self.subject = subject
        self.deadline = deadline
        self.timeout = timeout
        self.answered_by: str | None = None  # the server of the latest answer

    @classmethod
    async def open(cls, config: ResolverConfig, subject: tuple[dns.name.Name, str]) -> _Lookup:
        import dns.asyncresolver
        import dns.nameserver
        import dns.resolver

        deadline = time.monotonic() + config.timeout
        if config.nameserver is None:
            try:
                resolver = dns.asyncresolver.Resolver()  # system configuration
            except dns.resolver.NoResolverConfiguration as exc:
                raise DnsError(
                    f"{subject[1]}: no system resolver configured; "
                    f"use --nameserver or {NAMESERVER_ENV}"
                ) from exc
        else:
            host, port = parse_nameserver(config.nameserver)
            address = _ip_address(host) or await _nameserver_address(host, port, config.timeout)
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port)]
        resolver.cache = None  # every `mx` shows what the servers say now
        return cls(resolver, subject, deadline, config.timeout)

    def servers(self) -> str:
        import dns.nameserver

        shown = [
            format_nameserver(ns.address, ns.port)
            for ns in self.resolver.nameservers
            if isinstance(ns, dns.nameserver.Do53Nameserver)
        ]
        return ", ".join(shown) or "the system resolver"

    def failures(self, exc: Exception) -> str:
        """One line out of dnspython's NoNameservers error list."""
        import dns.nameserver

        # dnspython names servers as str(Nameserver), e.g. "Do53:127.0.0.1@5353".
        shown = {
            str(ns): format_nameserver(ns.address, ns.port)
            for ns in self.resolver.nameservers
            if isinstance(ns, dns.nameserver.Do53Nameserver)
        }
        texts: list[str] = []
        for server, _tcp, _port, error, _response in getattr(exc, "kwargs", {}).get("errors", []):
            where = shown.get(str(server), str(server))
            if error == "SERVFAIL":
                texts.append(f"server failure (SERVFAIL) from {where}")
            elif error == "REFUSED":
                texts.append(f"query refused (REFUSED) by {where}")
            elif isinstance(error, str):
                texts.append(f"error {error} from {where}")
            elif isinstance(error, ConnectionRefusedError):
                # An ICMP "port unreachable" on our connected socket (_connected_udp):
                # waiting longer would not change it.
                texts.append(f"connection refused by {where}: no DNS server listens there")
            elif isinstance(error, OSError) and error.errno is not None:
                texts.append(f"{where}: {os.strerror(error.errno).lower()}")
            else:
                texts.append(f"no usable answer from {where} ({_reason(error)})")
        return "; ".join(dict.fromkeys(texts)) or "no nameserver could answer"

    def timed_out(self) -> DnsTimeoutError:
        after = _seconds(self.timeout)
        return DnsTimeoutError(
            f"{self.subject}: DNS timed out after {after} s asking {self.servers()}"
        )

    async def query(self, name: dns.name.Name, rdtype: str) -> dns.resolver.Answer | None:
        """Ask for one record type; None when the name exists without it (NODATA)."""
        import dns.exception
        import dns.resolver

        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self.timed_out()
        try:
            # The remaining time as dnspython's lifetime, so that the MX query
            # and the address queries after it share one budget.
            answer = await self.resolver.resolve(
                name, rdtype, lifetime=remaining, search=False, backend=_connected_udp()
            )
        except dns.resolver.NoAnswer:
            return None
        except dns.resolver.NXDOMAIN as exc:
            who = self.subject if name == self.subject_name else _host_text(name)
            raise NoSuchDomainError(f"{who}: no such domain (NXDOMAIN)") from exc
        except dns.exception.Timeout as exc:
            raise self.timed_out() from exc
        except dns.resolver.NoNameservers as exc:
            raise DnsError(f"{self.subject}: {self.failures(exc)}") from exc
        except dns.resolver.YXDOMAIN as exc:
            raise DnsError(f"{self.subject}: name too long after DNAME (YXDOMAIN)") from exc
        except dns.exception.DNSException as exc:
            raise DnsError(f"{self.subject}: DNS error: {_reason(exc)}") from exc
        if answer.nameserver is not None:
            self.answered_by = format_nameserver(answer.nameserver, answer.port or DNS_PORT)
        return answer

    async def addresses(self, name: dns.name.Name) -> tuple[tuple[str, ...], tuple[str, ...], int]:
        """A and AAAA of a name, asked concurrently, and the smaller of their TTLs."""
        v4, v6 = await asyncio.gather(
            self.query(name, "A"), self.query(name, "AAAA"), return_exceptions=True
        )
        # Both queries run to their end (each bounded by the deadline), then
        # the first failure, if any, is the one reported.
        a, aaaa = _unwrap(v4), _unwrap(v6)
        ttls = [answer.rrset.ttl for answer in (a, aaaa) if answer and answer.rrset]
        return _rdata_texts(a), _rdata_texts(aaaa), min(ttls, default=0)


@functools.cache
def _connected_udp() -> dns._asyncbackend.Backend:
    """dnspython's asyncio backend, with UDP sockets connected to the server.

    Only a connected UDP socket hears the ICMP "port unreachable" of a server
    where nothing listens (Linux reports it as ECONNREFUSED on the next read): the
    lookup then fails at once, saying so, instead of waiting for its time-out.
    """
    import dns.asyncbackend

    class ConnectedUdp(type(dns.asyncbackend.get_backend("asyncio"))):  # type: ignore[misc]
        def datagram_connection_required(self) -> bool:
            return True

    return ConnectedUdp()


def _unwrap(
    outcome: dns.resolver.Answer | BaseException | None,
) -> dns.resolver.Answer | None:
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _rdata_texts(answer: dns.resolver.Answer | None) -> tuple[str, ...]:
    if answer is None or answer.rrset is None:
        return ()
    # dict.fromkeys: drop duplicates, keep the server's order.
    return tuple(dict.fromkeys(rdata.to_text() for rdata in answer.rrset))


async def _nameserver_address(host: str, port: int, timeout: float) -> str:
    """Resolve a nameserver given by name, with the system resolver (as `dig @host` does)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (OSError, TimeoutError) as exc:
        reason = exc.strerror or "timed out"  # a bare TimeoutError has no text
        raise DnsError(f"nameserver {host}: cannot resolve its address ({reason})") from exc
    return str(infos[0][4][0])


async def lookup_mx(domain: str, config: ResolverConfig) -> MxResult:
    """The mail exchangers of `domain` with their addresses, as in RFC 5321 5.1.

    MX hosts whose addresses do not resolve (NXDOMAIN, no data, server failure)
    are still listed, with empty address tuples; a time-out fails the whole
    lookup, which `config.timeout` bounds from start to end.
    """
    name, shown = _domain_name(domain)
    lookup = await _Lookup.open(config, (name, shown))
    answer = await lookup.query(name, "MX")
    if answer is None or answer.rrset is None:
        return await _implicit_mx(lookup, name, shown)
    server = lookup.answered_by
    records = [(int(r.preference), r.exchange) for r in answer.rrset]
    if _is_null_mx(records):
        return MxResult(shown, (), null_mx=True, nameserver=server)
    hosts = await _mx_hosts(lookup, records, answer.rrset.ttl)
    return MxResult(shown, hosts, nameserver=server)


def _is_null_mx(records: list[tuple[int, dns.name.Name]]) -> bool:
    import dns.name

    # RFC 7505 3: exactly one MX record whose exchange is the root. We do not
    # insist on preference 0: a root target can never be delivered to anyway.
    return len(records) == 1 and records[0][1] == dns.name.root


async def _mx_hosts(
    lookup: _Lookup, records: list[tuple[int, dns.name.Name]], ttl: int
) -> tuple[MxHost, ...]:
    import dns.name

    # A "." among real MX records violates RFC 7505 3; it names no host, skip it.
    records = [(pref, exchange) for pref, exchange in records if exchange != dns.name.root]
    targets = list(dict.fromkeys(exchange for _, exchange in records))
    found = await asyncio.gather(*(_host_addresses(lookup, t) for t in targets))
    addresses = dict(zip(targets, found, strict=True))
    hosts = (
        MxHost(pref, _host_text(exchange), *addresses[exchange], ttl=ttl)
        for pref, exchange in records
    )
    return tuple(sorted(hosts, key=lambda host: (host.preference, host.name)))


async def _host_addresses(
    lookup: _Lookup, name: dns.name.Name
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        ipv4, ipv6, _ttl = await lookup.addresses(name)
    except DnsTimeoutError:
        raise
    except DnsError:
        # The MX record is still worth showing: a dangling or broken target is
        # exactly what someone debugging mail delivery needs to see.
        return (), ()
    return ipv4, ipv6


async def _implicit_mx(lookup: _Lookup, name: dns.name.Name, shown: str) -> MxResult:
    # RFC 5321 5.1: no MX records means the domain itself is the mail exchanger,
    # an implicit MX with preference 0. The MX query said the name exists.
    ipv4, ipv6, ttl = await lookup.addresses(name)
    if not ipv4 and not ipv6:
        raise DnsError(f"{shown}: no MX and no A/AAAA records")
    host = MxHost(0, _host_text(name), ipv4, ipv6, ttl)
    return MxResult(shown, (host,), implicit=True, nameserver=lookup.answered_by)


async def resolve_addresses(
    host: str, config: ResolverConfig
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (IPv4, IPv6) addresses of a host name, through the configured resolver.

    An IP address literal comes back as is. Raises `NoSuchDomainError` for
    NXDOMAIN and `DnsError` when the name has neither A nor AAAA records.
    """
    literal = _ip_address(host.strip().strip("[]"))
    if literal is not None:
        return ((literal,), ()) if ":" not in literal else ((), (literal,))
    name, shown = _domain_name(host)
    lookup = await _Lookup.open(config, (name, shown))
    ipv4, ipv6, _ttl = await lookup.addresses(name)
    if not ipv4 and not ipv6:
        raise DnsError(f"{shown}: no A/AAAA records")
    return ipv4, ipv6


def delivery_order(result: MxResult, rng: random.Random | None = None) -> list[MxHost]:
    """The order in which to try the mail exchangers of `result`.

    Lowest preference first; hosts of equal preference in random order, to
    spread the load (RFC 5321 5.1). Empty for a null MX (RFC 7505): no host
    accepts mail for the domain. Hosts without addresses are kept: the caller
    reports them when it skips them.
    """
    if result.null_mx:
        return []
    chooser = rng if rng is not None else random.Random()
    ordered: list[MxHost] = []

    def preference(host: MxHost) -> int:
        return host.preference

    for _, group in itertools.groupby(sorted(result.hosts, key=preference), key=preference):
        tied = list(group)
        chooser.shuffle(tied)
        ordered.extend(tied)
    return ordered
