"""The Experience Plane command line: upload files, mash them, follow executions, read records.

    experience-plane upload FILE... [--wait]
    experience-plane mash FILE_ID... [--domain general] [--confidence low|medium|high]
                                     [--join left|full] [--name NAME] [--wait]
    experience-plane status EXECUTION_ID
    experience-plane watch EXECUTION_ID
    experience-plane records EXECUTION_ID [--limit N]
    experience-plane list [--state STATE]... [--intent TYPE]... [--limit N]
    experience-plane cancel EXECUTION_ID

Every command takes the global options `--url` (default `$EXPERIENCE_URL`, else
http://127.0.0.1:8000/graphql), `--token` (default `$EXPERIENCE_TOKEN`), `--request-timeout` and
`--json`, before or after its name. `--json` prints one JSON document (an array of executions
for `upload` and `list`, an execution for `mash`, `status` and `cancel`), JSON lines for `watch`
(executions) and `records` (records). `list` prints your executions newest first as a table.
`--wait` follows the execution: a live progress bar on stderr when it is a terminal, plain lines
otherwise (but not with `--json`). Errors are one line on stderr, never a
traceback; a reader that stops early (`records ... | head`) ends the command quietly, with 0.

Exit codes:
    0  success
    1  the execution failed or was cancelled (or the Runtime rejected the request, or it
       cannot be cancelled: finished already, or a Runtime that cannot cancel)
    2  usage error or invalid input
    3  the API or the Runtime is unreachable or busy (or answered something unreadable)
    4  not found
    5  authentication failed
    6  the wait timed out
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

from experience_plane_sdk import render
from experience_plane_sdk.client import DEFAULT_WAIT_TIMEOUT, ExperienceClient
from experience_plane_sdk.errors import (
    AlreadyFinishedError,
    ApiProtocolError,
    ApiUnreachable,
    AuthenticationFailed,
    CancelUnsupportedError,
    ExecutionFailed,
    ExecutionNotFoundError,
    ExperienceError,
    InvalidInput,
    RateLimited,
    RuntimeProtocolError,
    RuntimeRejectedError,
    RuntimeUnavailableError,
    UploadTooLarge,
    WaitTimeout,
)
from experience_plane_sdk.models import Execution, ExecutionState
from experience_plane_sdk.progress import ExecutionProgress, UploadProgress

PROG = "experience-plane"
DEFAULT_URL = "http://127.0.0.1:8000/graphql"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_FOUND = 4
EXIT_AUTH = 5
EXIT_TIMEOUT = 6

# The epilog of every --help; the module docstring says the same (a test keeps them equal).
EXIT_CODES_HELP = """exit codes:
    0  success
    1  the execution failed or was cancelled (or the Runtime rejected the request, or it
       cannot be cancelled: finished already, or a Runtime that cannot cancel)
    2  usage error or invalid input
    3  the API or the Runtime is unreachable or busy (or answered something unreadable)
    4  not found
    5  authentication failed
    6  the wait timed out

environment:
    EXPERIENCE_URL    the API's GraphQL URL (default http://127.0.0.1:8000/graphql)
    EXPERIENCE_TOKEN  the bearer token to send
"""

# Most specific first: RuntimeTimeoutError is a RuntimeUnavailableError.
_EXIT_FOR_ERROR: tuple[tuple[type[ExperienceError], int], ...] = (
    (ExecutionFailed, EXIT_FAILED),
    (AlreadyFinishedError, EXIT_FAILED),
    (CancelUnsupportedError, EXIT_FAILED),
    (RuntimeRejectedError, EXIT_FAILED),
    (InvalidInput, EXIT_USAGE),
    (UploadTooLarge, EXIT_USAGE),
    (ApiUnreachable, EXIT_UNREACHABLE),
    (RateLimited, EXIT_UNREACHABLE),
    (RuntimeUnavailableError, EXIT_UNREACHABLE),
    (RuntimeProtocolError, EXIT_UNREACHABLE),
    (ApiProtocolError, EXIT_UNREACHABLE),
    (ExecutionNotFoundError, EXIT_NOT_FOUND),
    (AuthenticationFailed, EXIT_AUTH),
    (WaitTimeout, EXIT_TIMEOUT),
)


def exit_code_for(error: ExperienceError) -> int:
    """The documented exit code for an SDK error."""
    for cls, code in _EXIT_FOR_ERROR:
        if isinstance(error, cls):
            return code
    return EXIT_UNREACHABLE


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _add_global_options(
    parser: argparse.ArgumentParser, *, defaults: bool
) -> list[argparse.Action]:
    """Add the options every command takes, before or after its name; returns them.

    The copies after the command default to `SUPPRESS`, so that they only override what was
    given before it (`--json upload` and `upload --json` mean the same).
    """

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("global options (before or after the command)")
    return [
        group.add_argument(
            "--url", default=default(None), help="the API's GraphQL URL (default: $EXPERIENCE_URL)"
        ),
        group.add_argument(
            "--token", default=default(None), help="bearer token (default: $EXPERIENCE_TOKEN)"
        ),
        group.add_argument(
            "--json", action="store_true", default=default(False), help="print JSON for scripts"
        ),
        group.add_argument(
            "--request-timeout",
            type=_positive,
            default=default(30.0),
            metavar="S",
            help="seconds each request may take (default: 30)",
        ),
    ]


def _global_options_with_values() -> frozenset[str]:
    actions = _add_global_options(argparse.ArgumentParser(add_help=False), defaults=True)
    return frozenset(
        option for action in actions if action.nargs != 0 for option in action.option_strings
    )


# The commands, each a `Command` method of the same name; `experience-plane` routes these here.
COMMANDS = ("upload", "mash", "status", "watch", "records", "list", "cancel")


def command_name(argv: Sequence[str]) -> str | None:
    """The command in `argv` (`upload` in `--json --url U upload a.csv`), or None."""
    with_values = _global_options_with_values()
    tokens = iter(argv)
    for token in tokens:
        if token in with_values:
            next(tokens, None)
        elif not token.startswith("-"):
            return token
    return None


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The argument parser of every SDK command (`upload`, `mash`, `status`, `watch`, `records`,
    `list`, `cancel`)."""
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common, defaults=False)
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--wait", action="store_true", help="wait until the execution ends")
    waiting.add_argument(
        "--timeout", type=_positive, default=DEFAULT_WAIT_TIMEOUT, metavar="S",
        help=f"with --wait: give up after S seconds (default: {DEFAULT_WAIT_TIMEOUT:g})",
    )  # fmt: skip

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Upload files to the Experience Plane, mash them and follow executions.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_global_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, help_text: str, *parents: argparse.ArgumentParser
    ) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=help_text, description=help_text, parents=[common, *parents],
            epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip

    upload = command("upload", "upload files; prints their executions", waiting)
    upload.add_argument("files", nargs="+", metavar="FILE")
    upload.add_argument("--mime-type", help="the files' media type (default: guessed)")

    mash = command("mash", "compose uploaded files (their file ids) into a data mash", waiting)
    mash.add_argument("content_refs", nargs="+", metavar="FILE_ID")
    mash.add_argument("--domain", default="general", help="vocabulary (default: general)")
    mash.add_argument(
        "--confidence", choices=("low", "medium", "high"), default="medium",
        help="least confidence at which columns are mapped (default: medium)",
    )  # fmt: skip
    mash.add_argument("--name", help="a name for the mash")
    mash.add_argument(
        "--join", choices=("left", "full"), default="left",
        help="left: one record per row of the fact (default); full: also unreferenced rows",
    )  # fmt: skip

    status = command("status", "print an execution's current status")
    status.add_argument("execution_id", metavar="EXECUTION_ID")

    watch = command("watch", "follow an execution until it ends")
    watch.add_argument("execution_id", metavar="EXECUTION_ID")
    watch.add_argument("--timeout", type=_positive, metavar="S", help="give up after S seconds")

    records = command("records", "print the records of a data mash execution")
    records.add_argument("execution_id", metavar="EXECUTION_ID")
    records.add_argument("--limit", type=_count, metavar="N", help="print at most N records")
    records.add_argument(
        "--page-size", type=_count, default=200, metavar="N", help="records per request (max 500)"
    )

    listing = command("list", "print your executions, newest first")
    listing.add_argument(
        "--state", action="append", type=_state, metavar="STATE",
        help="only executions in this state (repeatable): "
        + ", ".join(state.value.lower() for state in ExecutionState),
    )  # fmt: skip
    listing.add_argument(
        "--intent", action="append", metavar="TYPE",
        help="only executions of this intent, e.g. content.upload (repeatable)",
    )  # fmt: skip
    listing.add_argument(
        "--limit", type=_count, default=20, metavar="N",
        help="print at most the N newest (default: 20)",
    )  # fmt: skip

    cancel = command("cancel", "cancel a running execution; prints it as it stands")
    cancel.add_argument("execution_id", metavar="EXECUTION_ID")
    return parser


def _state(text: str) -> ExecutionState:
    try:
        return ExecutionState(text.upper())
    except ValueError:
        choices = ", ".join(state.value.lower() for state in ExecutionState)
        raise argparse.ArgumentTypeError(f"must be one of {choices}, got {text}") from None


class Command:
    """One run of a command: its arguments, the client and where output goes."""

    def __init__(self, args: argparse.Namespace, client: ExperienceClient) -> None:
        self.args = args
        self.client = client
        self.json: bool = args.json
        self.out = sys.stdout

    def emit(self, document: object) -> None:
        print(render.dumps(document), file=self.out, flush=True)

    async def _wait_all(
        self, executions: list[Execution], labels: list[str]
    ) -> tuple[list[Execution], int]:
        """Wait for every execution; their final (or last seen) statuses and the exit code."""
        progress = ExecutionProgress(sys.stderr, enabled=not self.json or sys.stderr.isatty())

        failures: list[str] = []

        async def one(execution: Execution, label: str) -> tuple[Execution, int]:
            def update(current: Execution) -> None:
                progress(current, label)

            try:
                final = await self.client.wait(
                    execution.id, timeout=self.args.timeout, on_update=update
                )
            except ExecutionFailed as exc:
                failures.append(str(exc))
                return exc.execution, EXIT_FAILED
            except WaitTimeout as exc:
                failures.append(str(exc))
                return exc.execution or execution, EXIT_TIMEOUT
            return final, EXIT_OK

        try:
            results = await asyncio.gather(
                *(
                    one(execution, label)
                    for execution, label in zip(executions, labels, strict=True)
                )
            )
        finally:
            progress.done()
            for message in failures:
                fail(message)
        return [execution for execution, _ in results], max(code for _, code in results)

    async def upload(self) -> int:
        executions = []
        with UploadProgress(sys.stderr) as uploads:
            for path in self.args.files:
                with uploads.source(path) as source:
                    executions.append(
                        await self.client.upload_content(source, mime_type=self.args.mime_type)
                    )
        code = EXIT_OK
        labels = [os.path.basename(path) for path in self.args.files]
        if self.args.wait:
            executions, code = await self._wait_all(executions, labels)
        if self.json:
            self.emit([render.execution_json(e) for e in executions])
        elif self.args.wait:
            print("\n\n".join(render.execution_text(e) for e in executions), file=self.out)
        else:
            width = max(len(label) for label in labels)
            for label, execution in zip(labels, executions, strict=True):
                print(f"{label:<{width}}  {render.status_line(execution)}", file=self.out)
        return code

    async def mash(self) -> int:
        execution = await self.client.create_data_mash(
            self.args.content_refs,
            target_domain=self.args.domain,
            confidence_level=self.args.confidence,
            name=self.args.name,
            join=self.args.join,
        )
        code = EXIT_OK
        if self.args.wait:
            [execution], code = await self._wait_all([execution], [self.args.name or "mash"])
        self.show(execution)
        return code

    def show(self, execution: Execution) -> None:
        if self.json:
            self.emit(render.execution_json(execution))
        else:
            print(render.execution_text(execution), file=self.out)

    async def status(self) -> int:
        execution = await self.client.execution_status(self.args.execution_id)
        if execution is None:
            raise ExecutionNotFoundError(f"Execution {self.args.execution_id} not found")
        self.show(execution)
        return EXIT_OK

    async def watch(self) -> int:
        progress = ExecutionProgress(self.out, enabled=not self.json)
        last: Execution | None = None
        try:
            async with asyncio.timeout(self.args.timeout):
                async for execution in self.client.watch(self.args.execution_id):
                    last = execution
                    if self.json:
                        self.emit(render.execution_json(execution))
                    else:
                        progress(execution)
        except TimeoutError as exc:
            raise WaitTimeout(self.args.execution_id, self.args.timeout, last) from exc
        finally:
            progress.done()
        if last is None:
            raise ExecutionNotFoundError(f"Execution {self.args.execution_id} not found")
        if not self.json and progress.tty:
            print(render.execution_text(last), file=self.out)
        if last.is_terminal and not last.state.succeeded:
            fail(str(ExecutionFailed(last)))
            return EXIT_FAILED
        return EXIT_OK

    async def records(self) -> int:
        limit: int | None = self.args.limit
        page_size = min(self.args.page_size, limit) if limit else self.args.page_size
        table = render.RecordTable(self.out)
        batch: list[dict[str, object]] = []
        count = 0
        async for record in self.client.records(self.args.execution_id, page_size=page_size):
            count += 1
            if self.json:
                self.emit(record)
            else:
                batch.append(record)
                if len(batch) >= page_size:
                    table.write(batch)
                    batch = []
            if limit is not None and count >= limit:
                break
        table.write(batch)
        return EXIT_OK

    async def list(self) -> int:
        limit: int = self.args.limit
        found: list[Execution] = []
        async for page in self.client.list_executions(
            page_size=min(limit, 100), states=self.args.state, intent_types=self.args.intent
        ):
            found.extend(page.executions[: limit - len(found)])
            if len(found) >= limit:
                break
        if self.json:
            self.emit([render.execution_json(execution) for execution in found])
        else:
            render.execution_table(found, self.out)
        return EXIT_OK

    async def cancel(self) -> int:
        self.show(await self.client.cancel(self.args.execution_id))
        return EXIT_OK


def fail(message: str) -> None:
    """Print one error line on stderr."""
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> int:
    """Run the parsed command and return its exit code (SDK errors are raised)."""
    async with ExperienceClient(args.url, args.token, timeout=args.request_timeout) as client:
        command = Command(args, client)
        handler: Callable[[], Awaitable[int]] = getattr(command, args.command)
        return await handler()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default: `sys.argv[1:]`), run the command and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    args.url = args.url or os.environ.get("EXPERIENCE_URL") or DEFAULT_URL
    args.token = args.token or os.environ.get("EXPERIENCE_TOKEN") or None
    try:
        code = asyncio.run(run(args))
        sys.stdout.flush()  # here, so that a closed pipe is seen below and not at exit
    except ExperienceError as exc:
        fail(exc.message)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader stopped early (`records ... | head`): it has what it wanted. Python would
        # otherwise report the failed flush of stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return code
