"""One HTTPS GET, for the MTA-STS policy (RFC 8461 3.3), on asyncio streams.

Why not ``http.client`` (in a thread) or an HTTP library: the connection must go
to an address that *our* resolver found while SNI and certificate verification
use the host name (``http.client`` resolves with the system), the whole exchange
must fit one deadline and be cancellable (a thread is not), and what is needed is
small: one GET, no redirects, no keep-alive, no compression, a size cap. So this is
a minimal HTTP/1.1 client (RFC 9112) that is strict about framing and bounded
everywhere: line length, header count, body size (Content-Length, chunked, or up to
the close), and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from smtpshell.errors import SmtpShellError

MAX_BODY = 64 * 1024  # an MTA-STS policy is a few lines; RFC 8461 3.3 suggests a cap
MAX_LINE = 8 * 1024  # one status or header line
MAX_HEADERS = 100
MAX_INTERIM = 5  # 1xx responses (103 Early Hints...) skipped before the real one

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9][0-9]{2})(?: ([^\r\n]*))?\r?\n")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?\r?\n")


class FetchError(SmtpShellError):
    """The policy could not be fetched; the text is one line, fit for a finding."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]  # names in lower case, values as sent
    body: bytes  # read only for a 200; empty otherwise

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


async def https_get(
    host: str,
    path: str,
    *,
    addresses: Sequence[str],
    port: int,
    context: ssl.SSLContext,
    timeout: float,
    max_body: int = MAX_BODY,
) -> HttpResponse:
    """GET ``https://host:port/path`` from the first of ``addresses`` that accepts.

    ``host`` is the name sent in SNI and checked against the certificate (by
    ``context``); redirects are returned as they are, never followed. ``timeout``
    bounds everything from the first connection attempt to the last byte. Raises
    `FetchError` with a one-line reason.
    """
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await _connect(host, addresses, port, context)
            try:
                return await _exchange(reader, writer, host, path, port, max_body)
            finally:
                writer.close()
                # A peer that never answers our close_notify must not keep us.
                with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                    async with asyncio.timeout(1):
                        await writer.wait_closed()
    except TimeoutError:
        raise FetchError(f"no complete answer from {host} within {timeout:g} s") from None


async def _connect(
    host: str, addresses: Sequence[str], port: int, context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    failures: list[str] = []
    for address in addresses:
        try:
            return await asyncio.open_connection(
                address, port, ssl=context, server_hostname=host, limit=MAX_LINE
            )
        except ssl.SSLCertVerificationError as exc:
            # The certificate is the finding: another address would not excuse it.
            reason = exc.verify_message or exc.reason or "verification failed"
            raise FetchError(f"certificate of {host} not valid: {reason}") from exc
        except ssl.SSLError as exc:
            raise FetchError(f"TLS handshake with {host} failed: {exc.reason or exc}") from exc
        except OSError as exc:
            failures.append(f"{_where(address, port)}: {exc.strerror or exc}")
    shown = "; ".join(failures) or "no address"
    raise FetchError(f"cannot connect to {host} ({shown})")


def _where(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    path: str,
    port: int,
    max_body: int,
) -> HttpResponse:
    authority = host if port == 443 else f"{host}:{port}"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: smtpshell\r\n"
        "Accept: text/plain\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )
    try:
        writer.write(request.encode("ascii"))
        await writer.drain()
        for _ in range(MAX_INTERIM + 1):
            status, reason = await _status_line(reader)
            headers = await _headers(reader)
            if status >= 200:
                body = await _body(reader, headers, max_body) if status == 200 else b""
                return HttpResponse(status, reason, headers, body)
        raise FetchError(f"more than {MAX_INTERIM} interim (1xx) responses")
    except asyncio.IncompleteReadError:
        raise FetchError("the connection closed before the response ended") from None
    except (asyncio.LimitOverrunError, ValueError):
        # StreamReader.readuntil raises ValueError once the limit is overrun.
        raise FetchError(f"a response line longer than {MAX_LINE} bytes") from None
    except ssl.SSLError as exc:
        raise FetchError(f"TLS error: {exc.reason or exc}") from exc
    except OSError as exc:
        raise FetchError(f"connection error: {exc.strerror or exc}") from exc


async def _status_line(reader: asyncio.StreamReader) -> tuple[int, str]:
    line = await reader.readuntil(b"\n")
    match = _STATUS_LINE.fullmatch(line)
    if match is None:
        raise FetchError("not an HTTP/1.x response (bad status line)")
    reason = (match.group(2) or b"").decode("latin-1")
    return int(match.group(1)), reason


async def _headers(reader: asyncio.StreamReader) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    while True:
        line = await reader.readuntil(b"\n")
        if line in (b"\r\n", b"\n"):
            return tuple(headers)
        if len(headers) >= MAX_HEADERS:
            raise FetchError(f"more than {MAX_HEADERS} header fields")
        if line[:1] in (b" ", b"\t"):
            raise FetchError("obsolete line folding in a header (RFC 9112 5.2)")
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise FetchError("a malformed header line")
        text = value.strip(b" \t\r\n").decode("latin-1")
        headers.append((name.decode("ascii").lower(), text))


async def _body(
    reader: asyncio.StreamReader, headers: tuple[tuple[str, str], ...], max_body: int
) -> bytes:
    encodings = [value for name, value in headers if name == "transfer-encoding"]
    lengths = [value for name, value in headers if name == "content-length"]
    if encodings:
        if lengths:
            # RFC 9112 6.2: never both; an ambiguous frame is how requests are smuggled.
            raise FetchError("both Transfer-Encoding and Content-Length (RFC 9112 6.2)")
        codings = [c.strip().lower() for value in encodings for c in value.split(",")]
        if codings != ["chunked"]:
            raise FetchError(f"unsupported Transfer-Encoding {', '.join(codings)!r}")
        return await _chunked(reader, max_body)
    if lengths:
        return await _sized(reader, lengths, max_body)
    # No framing: the body runs to the close (RFC 9112 6.3, point 8).
    body = await reader.read(max_body + 1)
    while body and len(body) <= max_body:
        more = await reader.read(max_body + 1 - len(body))
        if not more:
            break
        body += more
    if len(body) > max_body:
        raise FetchError(f"body larger than {max_body // 1024} KiB")
    return body


async def _sized(reader: asyncio.StreamReader, lengths: list[str], max_body: int) -> bytes:
    values = {v.strip() for value in lengths for v in value.split(",")}
    if len(values) != 1 or not (text := values.pop()).isascii() or not text.isdigit():
        raise FetchError("invalid Content-Length (RFC 9112 6.3)")
    length = int(text)
    if length > max_body:
        raise FetchError(f"body of {length} bytes, over the {max_body // 1024} KiB cap")
    return await reader.readexactly(length)


async def _chunked(reader: asyncio.StreamReader, max_body: int) -> bytes:
    body = bytearray()
    while True:
        match = _CHUNK_SIZE.fullmatch(await reader.readuntil(b"\n"))
        if match is None:
            raise FetchError("a malformed chunk size line (RFC 9112 7.1)")
        size = int(match.group(1), 16)
        if size == 0:
            break
        if len(body) + size > max_body:
            raise FetchError(f"body larger than {max_body // 1024} KiB")
        body += await reader.readexactly(size)
        if await reader.readuntil(b"\n") not in (b"\r\n", b"\n"):
            raise FetchError("a chunk not followed by CRLF (RFC 9112 7.1)")
    await _headers(reader)  # trailer fields, bounded like headers, then ignored
    return bytes(body)
