"""The physical limit: the pre-encoded conversation written to a socket.

HEAD holds EHLO, MAIL, RCPT and DATA (pipelined: written at once); BODY the
dot-stuffed text and its final dot, sent with sendfile. Replies are read only where
the protocol requires it: the greeting, up to the 354, the 250 for the message, the 221.
"""

import socket
import sys

host, port, head, body = sys.argv[1:]


def expect(sock: socket.socket, codes: list[bytes]) -> None:
    """Read replies until each of ``codes`` has ended (a line 'NNN ')."""
    buffer = b""
    for code in codes:
        while True:
            end = buffer.find(b"\r\n")
            if end < 0:
                chunk = sock.recv(65536)
                if not chunk:
                    sys.exit(f"connection closed waiting for {code!r}")
                buffer += chunk
                continue
            line, buffer = buffer[:end], buffer[end + 2 :]
            if line[3:4] == b" ":
                if line[:3] != code:
                    sys.exit(f"expected {code!r}, got {line!r}")
                break


with socket.create_connection((host, int(port))) as sock:
    expect(sock, [b"220"])
    with open(head, "rb") as file:
        sock.sendall(file.read())
    expect(sock, [b"250", b"250", b"250", b"354"])
    with open(body, "rb") as file:
        sock.sendfile(file)
    sock.sendall(b"QUIT\r\n")
    expect(sock, [b"250", b"221"])
