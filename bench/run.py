"""Benchmarks: smtpshell against Python's smtplib and swaks, in one run, as ratios.

Not tests: they measure. Each case runs against the same embedded server, started
in its own process so client and server don't share an interpreter.

    python bench/run.py [--quick]

Cases
- start-up: `smtpshell --version` vs `swaks --version` vs `python -c "import smtplib"`.
- one transaction per process: a piped smtpshell session vs swaks vs a smtplib script.
- many messages on one connection (library level): Session vs smtplib.
- one large message streamed: Session.send_message vs smtplib.sendmail (time, peak memory).
- one large message through a pipe, one process each: `smtpshell --connect` reading the
  whole SMTP script on stdin vs `swaks --data -` vs a smtplib script reading stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from smtpshell.core.session import Session
from smtpshell.protocol.endpoint import Endpoint
from smtpshell.server import free_port

ROOT = Path(__file__).resolve().parent.parent


def timed(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` runs, in seconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(command: list[str], stdin: str | None = None) -> None:
    subprocess.run(command, input=stdin, text=True, check=True, capture_output=True)


class Server:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        tls_port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "smtpshell", "serve", "--port", str(self.port),
             "--tls-port", str(tls_port), "--store", str(directory / "maildir")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={"XDG_DATA_HOME": str(directory), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "listening" in line and str(self.port) in line:
                break
        # Keep reading its log: a full pipe would stall the server mid-benchmark.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def run_piped(command: list[str], stdin: bytes) -> None:
    """``command`` with ``stdin`` written to it through a pipe."""
    subprocess.run(command, input=stdin, check=True, capture_output=True)


def transaction_script(body: str) -> str:
    return f"EHLO bench\nMAIL FROM:<a@bench.test>\nRCPT TO:<b@bench.test>\nDATA\n{body}\n.\nQUIT\n"


def bench_startup(repeat: int) -> dict[str, float]:
    results = {
        "smtpshell": timed(lambda: run([sys.executable, "-m", "smtpshell", "--version"]), repeat),
        "python -c 'import smtplib'": timed(
            lambda: run([sys.executable, "-c", "import smtplib"]), repeat
        ),
    }
    if shutil.which("swaks"):
        results["swaks"] = timed(lambda: run(["swaks", "--version"]), repeat)
    return results


def bench_one_transaction(port: int, repeat: int) -> dict[str, float]:
    script = transaction_script("Subject: bench\n\nhello")
    smtplib_code = (
        f"import smtplib; s = smtplib.SMTP('127.0.0.1', {port}); "
        "s.sendmail('a@bench.test', ['b@bench.test'], 'Subject: bench\\r\\n\\r\\nhello'); "
        "s.quit()"
    )
    results = {
        "smtpshell": timed(
            lambda: run(
                [
                    sys.executable,
                    "-m",
                    "smtpshell",
                    "--connect",
                    f"127.0.0.1:{port}",
                    "--no-history",
                ],
                stdin=script,
            ),
            repeat,
        ),
        "smtplib script": timed(lambda: run([sys.executable, "-c", smtplib_code]), repeat),
    }
    swaks = ["swaks", "--server", f"127.0.0.1:{port}", "--from", "a@bench.test",
             "--to", "b@bench.test", "--body", "hello", "--silent"]  # fmt: skip
    if shutil.which("swaks"):
        results["swaks"] = timed(lambda: run(swaks), repeat)
    return results


async def _session_many(port: int, count: int, message: bytes) -> None:
    session = Session(timeout=30)
    await session.connect(Endpoint("127.0.0.1", port))
    await session.execute("EHLO bench")
    for _ in range(count):
        await session.execute("MAIL FROM:<a@bench.test>")
        await session.execute("RCPT TO:<b@bench.test>")
        await session.execute("DATA")
        await session.send_message([message])
    await session.send("QUIT")


def _smtplib_many(port: int, count: int, message: bytes) -> None:
    client = smtplib.SMTP("127.0.0.1", port)
    client.ehlo("bench")
    for _ in range(count):
        client.sendmail("a@bench.test", ["b@bench.test"], message)
    client.quit()


def bench_many(port: int, count: int, repeat: int) -> dict[str, float]:
    message = b"Subject: bench\r\n\r\n" + b"line of text\r\n" * 50
    return {
        "smtpshell Session": timed(
            lambda: asyncio.run(_session_many(port, count, message)), repeat
        ),
        "smtplib": timed(lambda: _smtplib_many(port, count, message), repeat),
    }


def bench_large(port: int, megabytes: int) -> dict[str, tuple[float, float]]:
    line = b"x" * 76 + b"\r\n"
    chunk = line * (65536 // len(line))
    chunks = megabytes * 1024 * 1024 // len(chunk)

    def stream() -> object:
        for _ in range(chunks):
            yield chunk

    def measure(action: Callable[[], object]) -> tuple[float, float]:
        tracemalloc.start()
        start = time.perf_counter()
        action()
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()
        return elapsed, peak

    async def session_send() -> None:
        session = Session(timeout=60)
        await session.connect(Endpoint("127.0.0.1", port))
        await session.execute("EHLO bench")
        await session.execute("MAIL FROM:<a@bench.test>")
        await session.execute("RCPT TO:<b@bench.test>")
        await session.execute("DATA")
        await session.send_message(stream())  # type: ignore[arg-type]
        await session.send("QUIT")

    def smtplib_send() -> None:
        client = smtplib.SMTP("127.0.0.1", port)
        # smtplib needs the whole message in memory.
        client.sendmail("a@bench.test", ["b@bench.test"], b"".join(stream()))  # type: ignore[arg-type]
        client.quit()

    return {
        "smtpshell Session (streamed)": measure(lambda: asyncio.run(session_send())),
        "smtplib (whole message)": measure(smtplib_send),
    }


def bench_piped_large(port: int, megabytes: int, repeat: int) -> dict[str, float]:
    """One process per run, the message written to its standard input through a pipe."""
    line = b"x" * 76 + b"\n"
    message = b"Subject: bench\n\n" + line * (megabytes * 1024 * 1024 // len(line))
    script = (
        b"EHLO bench\nMAIL FROM:<a@bench.test>\nRCPT TO:<b@bench.test>\nDATA\n"
        + message
        + b".\nQUIT\n"
    )
    smtplib_code = (
        f"import smtplib, sys; s = smtplib.SMTP('127.0.0.1', {port}); "
        "data = sys.stdin.buffer.read().replace(b'\\n', b'\\r\\n'); "
        "s.sendmail('a@bench.test', ['b@bench.test'], data); s.quit()"
    )
    shell = [sys.executable, "-m", "smtpshell", "--connect", f"127.0.0.1:{port}", "--no-history"]
    results = {
        "smtpshell (piped script)": timed(lambda: run_piped(shell, script), repeat),
        "smtplib script (stdin)": timed(
            lambda: run_piped([sys.executable, "-c", smtplib_code], message), repeat
        ),
    }
    swaks = ["swaks", "--server", f"127.0.0.1:{port}", "--from", "a@bench.test",
             "--to", "b@bench.test", "--data", "-", "--silent"]  # fmt: skip
    if shutil.which("swaks"):
        results["swaks --data -"] = timed(lambda: run_piped(swaks, message), repeat)
    return results


def report(title: str, results: dict[str, float], base: str) -> None:
    print(f"\n{title}")
    reference = results[base]
    for name, seconds in results.items():
        print(f"  {name:32} {seconds * 1000:9.1f} ms   x{seconds / reference:5.2f} vs {base}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    with tempfile.TemporaryDirectory() as directory:
        server = Server(Path(directory))
        try:
            report("start-up (median wall time)", bench_startup(repeat), "smtpshell")
            report(
                "one transaction per process",
                bench_one_transaction(server.port, repeat),
                "smtpshell",
            )
            count = 50 if args.quick else 200
            report(
                f"{count} messages on one connection", bench_many(server.port, count, 3), "smtplib"
            )
            size = 20 if args.quick else 50
            print(f"\none {size} MiB message")
            large = bench_large(server.port, size)
            base_time = large["smtplib (whole message)"][0]
            for name, (seconds, peak) in large.items():
                print(f"  {name:32} {seconds:7.2f} s  x{seconds / base_time:5.2f} vs smtplib"
                      f"   peak Python memory {peak:7.1f} MiB")  # fmt: skip
            piped = bench_piped_large(server.port, 20, 3)
            base = "swaks --data -" if "swaks --data -" in piped else "smtplib script (stdin)"
            report("one 20 MiB message through a pipe (median wall time)", piped, base)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
