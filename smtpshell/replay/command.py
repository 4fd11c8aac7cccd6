"""``smtpshell replay PATH...``: transcripts as tests, with an exit status to match.

0 when every transcript passes, 1 when any fails, 2 for usage errors, unreadable
files and missing variables (found before anything is sent), 130 after Ctrl-C (with
the summary of the transcripts that finished).
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from smtpshell.core.arguments import add_connect_arguments, connect_options
from smtpshell.errors import UsageError
from smtpshell.protocol.inert import inert

if TYPE_CHECKING:
    from rich.console import Console

    from smtpshell.core.events import Listener
    from smtpshell.core.options import ConnectOptions
    from smtpshell.replay.junit import JunitReport
    from smtpshell.replay.runner import ReplayResult
    from smtpshell.transcript import Transcript

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="transcript files, directories searched for *.smtp, or the "
                        "names of shipped examples")  # fmt: skip
    parser.add_argument("--examples", action="store_true",
                        help="list the example transcripts shipped with smtpshell")  # fmt: skip
    parser.add_argument("--connect", metavar="HOST[:PORT]",
                        help="connect here instead of the transcript's directive")  # fmt: skip
    add_connect_arguments(parser)
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="value for ${NAME}")  # fmt: skip
    parser.add_argument("--env", action="append", default=[], metavar="NAME",
                        help="the environment variable NAME gives ${NAME}")  # fmt: skip
    parser.add_argument("--jobs", "-j", type=_jobs, default=1, metavar="N",
                        help="replay N transcripts at a time")  # fmt: skip
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--update", action="store_true",
                        help="rewrite the expected replies from what the server sends, "
                        "keeping patterns that still match; shows a diff")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show every conversation as the shell would")  # fmt: skip


def _jobs(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"--jobs wants a number from 1 to 64, not {text!r}")
    return int(text)


def run(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    environ: Mapping[str, str],
    colour: bool,
    ask: Callable[[str], str] | None = None,
) -> int:
    """``ask`` prompts on the terminal without echo (None when nobody is there to
    answer): a missing AUTH variable is asked for rather than an error."""
    # Here, not at the top: `smtpshell replay --help` needs only the parser above.
    import asyncio

    from smtpshell.replay.load import discover, load_all, variable_values
    from smtpshell.replay.report import summary_line
    from smtpshell.replay.runner import targets

    if args.examples:
        from smtpshell.replay.examples import listing

        out.write(listing())
        return EXIT_PASSED
    if not args.paths:
        raise UsageError("give transcript files or directories (--examples lists the shipped ones)")
    if args.update and args.junit is not None:
        raise UsageError("--update rewrites transcripts and reports no test results: drop --junit")
    options = connect_options(_checked_address(args.connect), args)
    values = variable_values(args.var, args.env, environ)
    transcripts, problems = load_all(discover(_with_examples(args.paths)), values, ask)
    for transcript in transcripts:
        try:
            targets(transcript, options)
        except UsageError as exc:
            problems.append(str(exc))
    if args.update:
        problems.extend(_shipped(transcripts))
    if problems:
        for problem in problems:
            err.write(f"smtpshell replay: {inert(problem)}\n")
        return EXIT_USAGE
    output = _Output(out, colour, args.verbose)
    if args.update:
        return _update_all(transcripts, options, args.jobs, output)
    report = _open_report(args.junit) if args.junit is not None else None
    finished: list[ReplayResult] = []  # in the order they finish
    try:
        results = asyncio.run(_replay_all(transcripts, options, args.jobs, output, finished))
    except KeyboardInterrupt:
        # asyncio.run has cancelled the replays (each closes its connection): say
        # what finished before the interruption, then stop as a shell expects.
        if report is not None:
            report.close()
        not_run = len(transcripts) - len(finished)
        output.line(f"{summary_line(finished)}, {not_run} not finished (interrupted)")
        return EXIT_INTERRUPTED
    except BaseException:
        if report is not None:
            report.close()
        raise
    output.line(summary_line(results))
    if report is not None and (unwritten := _write_report(report, results)):
        err.write(f"smtpshell replay: {inert(unwritten)}\n")
        return EXIT_USAGE
    return EXIT_PASSED if all(result.passed for result in results) else EXIT_FAILED


def _shipped(transcripts: list[Transcript]) -> list[str]:
    """``--update`` leaves the installed examples alone: a copy is the user's to update."""
    from smtpshell.replay.examples import is_example

    return [
        f"{transcript.path}: a shipped example; --update a copy of it instead"
        for transcript in transcripts
        if is_example(Path(transcript.path))
    ]


def _update_all(
    transcripts: list[Transcript], options: ConnectOptions, jobs: int, output: _Output
) -> int:
    """``--update``: 0 when every transcript was updated or already right, 1 when a
    conversation diverged (that file is left as it was), 130 after Ctrl-C."""
    import asyncio

    from smtpshell.replay.update import Update, update, update_lines, update_summary

    finished: list[Update] = []

    async def run_all() -> None:
        gate = asyncio.Semaphore(jobs)

        async def one(transcript: Transcript) -> None:
            async with gate:
                listener, conversation = output.listener()
                outcome = await update(transcript, options, listener)
                if conversation is not None:
                    output.out.write(conversation.getvalue())
                for line in update_lines(outcome):
                    output.verbatim(line)
                finished.append(outcome)

        await asyncio.gather(*(one(t) for t in transcripts))

    try:
        asyncio.run(run_all())
    except KeyboardInterrupt:
        # A file is replaced in one step: each is either updated or as it was.
        output.line(f"{update_summary(finished)}, interrupted")
        return EXIT_INTERRUPTED
    output.line(update_summary(finished))
    failed = any(outcome.problem or outcome.result.mismatch for outcome in finished)
    return EXIT_FAILED if failed else EXIT_PASSED


def _with_examples(paths: list[Path]) -> list[Path]:
    """A name with no folder in it that is no file here names a shipped example."""
    from smtpshell.replay.examples import find_example

    found: list[Path] = []
    for path in paths:
        example = None
        if len(path.parts) == 1 and not path.exists():
            example = find_example(path.name)
        found.append(example or path)
    return found


def _checked_address(address: str | None) -> str | None:
    """``--connect`` as given, if it can be used: one line now, not a traceback later."""
    from smtpshell.transcript import argument_problem

    problem = argument_problem(address) if address is not None else None
    if problem is not None:
        raise UsageError(f"--connect: the address {problem}")
    return address


def _open_report(path: Path) -> JunitReport:
    """The JUnit report, opened before anything is sent: a path that cannot be
    written is a usage error now, not a lost report after every transcript ran."""
    from smtpshell.replay.junit import JunitReport

    try:
        return JunitReport.open(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"--junit {inert(str(path))}: cannot write: {reason}") from None


def _write_report(report: JunitReport, results: list[ReplayResult]) -> str | None:
    try:
        report.write(results)
    except OSError as exc:
        return f"--junit {report.path}: cannot write: {exc.strerror or exc}"
    return None


class _Output:
    """Where results go: through rich when it has something to add (colour, or the
    conversations of ``-v``), else as plain text with the same words, since rich
    costs more to load and to print a line than a short transcript takes to replay."""

    def __init__(self, out: TextIO, colour: bool, verbose: bool) -> None:
        self.out = out
        self.colour = colour
        self.verbose = verbose
        self.console: Console | None = None
        if colour or verbose:
            from smtpshell.render.theme import make_console

            self.console = make_console(out, colour=colour)

    def listener(self) -> tuple[Listener | None, io.StringIO | None]:
        """A renderer for one conversation (``-v``) and the buffer it writes to."""
        if not self.verbose:
            return None, None
        from smtpshell.render.events import EventRenderer
        from smtpshell.render.theme import make_console

        buffer = io.StringIO()
        return EventRenderer(make_console(buffer, colour=self.colour), echo_user=True), buffer

    def result(self, result: ReplayResult, conversation: io.StringIO | None) -> None:
        from smtpshell.replay.report import print_result, write_result

        if conversation is not None:
            self.out.write(conversation.getvalue())
        if self.console is not None:
            print_result(self.console, result)
        else:
            write_result(self.out, result)

    def line(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text)
        else:
            self.out.write(text + "\n")
            self.out.flush()

    def verbatim(self, text: str) -> None:
        """A line of other people's text (a diff): no markup, no highlighting."""
        if self.console is not None:
            from rich.text import Text

            self.console.print(Text(text), soft_wrap=True)
        else:
            self.out.write(text + "\n")
            self.out.flush()


async def _replay_all(
    transcripts: list[Transcript],
    options: ConnectOptions,
    jobs: int,
    output: _Output,
    finished: list[ReplayResult],
) -> list[ReplayResult]:
    """Every result in the transcripts' order; each is also added to ``finished``
    as it comes, so an interruption can still say what ran."""
    # --jobs is concurrency on one event loop, not processes: a replay waits on the
    # server far more than it computes. Against a local Postfix on two cores the loop
    # is busy a quarter of the time at any --jobs, since the server's own processes
    # take the cores; another interpreter per job would only compete with them.
    import asyncio

    from smtpshell.replay.runner import replay

    gate = asyncio.Semaphore(jobs)

    async def one(transcript: Transcript) -> ReplayResult:
        async with gate:
            # Each conversation is rendered apart and printed whole, so --jobs
            # never interleaves two of them.
            listener, conversation = output.listener()
            result = await replay(transcript, options, listener)
            output.result(result, conversation)
            finished.append(result)
            return result

    return list(await asyncio.gather(*(one(t) for t in transcripts)))
