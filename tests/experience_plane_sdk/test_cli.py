"""The command line, run as a user would: `python -m experience_plane_sdk ...` in a subprocess."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from experience_plane_sdk import cli as cli_module
from experience_plane_sdk.cli import EXIT_CODES_HELP, build_parser, main
from tests.experience_plane_sdk.conftest import (
    CUSTOMER_COUNT,
    CUSTOMER_IDS,
    CUSTOMERS,
    PHASE_DELAY,
    POLICIES,
    Mashed,
    StandInServer,
)
from tests.support.processes import ApiProcess, free_port


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines()]


def cli(*args: str, url: str | None = None, token: str | None = None, timeout: float = 60) -> Run:
    """Run the CLI with only `EXPERIENCE_URL` and `EXPERIENCE_TOKEN` of our environment set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPERIENCE_")}
    if url is not None:
        env["EXPERIENCE_URL"] = url
    if token is not None:
        env["EXPERIENCE_TOKEN"] = token
    result = subprocess.run(
        [sys.executable, "-m", "experience_plane_sdk", *args],
        capture_output=True, text=True, env=env, timeout=timeout, check=False,
    )  # fmt: skip
    return Run(result.returncode, result.stdout, result.stderr)


def assert_one_error_line(run: Run, *fragments: str) -> None:
    # Progress lines may precede it on stderr when --wait runs without a terminal.
    lines = [line for line in run.err.splitlines() if line.startswith("experience-plane:")]
    assert len(lines) == 1, run.err
    assert lines[0].startswith("experience-plane: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in run.err


def test_upload_wait_json_then_mash_status_watch_and_records(api: ApiProcess, token: str) -> None:
    url = api.graphql_url
    upload = cli("upload", str(CUSTOMERS), str(POLICIES), "--wait", "--json", url=url, token=token)
    assert upload.code == 0, upload.err
    executions = upload.json()
    assert [e["state"] for e in executions] == ["COMPLETED", "COMPLETED"]
    file_ids = [e["artifacts"][0]["file_id"] for e in executions]
    assert [e["artifacts"][0]["name"] for e in executions] == ["customers.csv", "policies.json"]

    mash = cli(
        "mash",
        *file_ids,
        "--name",
        "cli mash",
        "--confidence",
        "high",
        "--join",
        "full",
        "--wait",
        url=url,
        token=token,
    )
    assert mash.code == 0, mash.err
    assert "COMPLETED" in mash.out
    assert "cli mash" in mash.out
    assert "joined on customer_id" in mash.out
    execution_id = mash.out.split()[1]  # "execution  <id>" is the first line
    assert execution_id.startswith("exec")

    status = cli("status", execution_id, "--json", url=url, token=token)
    assert status.code == 0, status.err
    assert status.json()["artifacts"][0]["type"] == "DataMash"
    row_count = status.json()["artifacts"][0]["row_count"]
    assert row_count >= CUSTOMER_COUNT

    watch = cli("watch", execution_id, "--json", url=url, token=token)
    assert watch.code == 0, watch.err
    assert watch.json_lines()[-1]["state"] == "COMPLETED"

    records = cli("records", execution_id, "--json", "--page-size", "2", url=url, token=token)
    assert records.code == 0, records.err
    assert len(records.json_lines()) == row_count
    assert {r["customer_id"] for r in records.json_lines()} == CUSTOMER_IDS

    table = cli("records", execution_id, "--limit", "3", url=url, token=token)
    assert table.code == 0, table.err
    header, *rows = table.out.splitlines()
    first = header.split()[0]  # the fact's first column: policies reference customers
    assert first == "policy_number"
    assert [row.split()[0] for row in rows] == [r[first] for r in records.json_lines()[:3]]


def test_upload_without_wait_prints_one_line_per_file(api: ApiProcess, token: str) -> None:
    run = cli("upload", str(CUSTOMERS), url=api.graphql_url, token=token)
    assert run.code == 0, run.err
    [line] = run.out.splitlines()
    assert line.split()[0] == "customers.csv"
    assert line.split()[1].startswith("exec")


def test_watch_prints_plain_lines_when_not_a_tty(api: ApiProcess, token: str) -> None:
    upload = cli("upload", str(CUSTOMERS), "--json", url=api.graphql_url, token=token)
    [execution] = upload.json()
    run = cli("watch", execution["id"], url=api.graphql_url, token=token)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert "\r" not in run.out
    assert all(line.startswith(execution["id"]) for line in lines)
    assert "COMPLETED" in lines[-1]


def test_a_failed_execution_exits_1(api: ApiProcess, token: str) -> None:
    run = cli("mash", "file_missing", "--wait", "--json", url=api.graphql_url, token=token)
    assert run.code == 1
    assert run.json()["state"] == "FAILED"
    assert_one_error_line(run, "ended FAILED", "file_missing")


def test_a_usage_error_exits_2() -> None:
    run = cli("mash", url="http://127.0.0.1:9/graphql")
    assert run.code == 2
    assert "usage:" in run.err
    assert "required: FILE_ID" in run.err


@pytest.mark.parametrize(
    "args",
    [
        ["mash", "file_1", "--confidence", "certain"],
        ["records", "exec_1", "--limit", "0"],
        ["upload", "a.csv", "--wait", "--timeout", "-1"],
        ["frobnicate"],
        [],
    ],
)
def test_more_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert "usage:" in capsys.readouterr().err


def test_invalid_input_exits_2(api: ApiProcess, mashed: Mashed, token: str) -> None:
    run = cli("records", mashed.upload_execution_id, url=api.graphql_url, token=token)
    assert run.code == 2
    assert_one_error_line(run, "has no data mash")
    missing = cli("upload", "/no/such/file.csv", url=api.graphql_url, token=token)
    assert missing.code == 2
    assert_one_error_line(missing, "No such file")


def test_an_unreachable_api_exits_3() -> None:
    run = cli("status", "exec_1", url=f"http://127.0.0.1:{free_port()}/graphql")
    assert run.code == 3
    assert_one_error_line(run, "Cannot connect to the API")


def test_not_found_exits_4(api: ApiProcess, token: str) -> None:
    for command in ("status", "watch", "records"):
        run = cli(command, "exec_missing", url=api.graphql_url, token=token)
        assert run.code == 4, (command, run.err)
        assert_one_error_line(run, "not found")


def test_refused_credentials_exit_5(api: ApiProcess) -> None:
    for command in ("status", "watch"):
        missing = cli(command, "exec_1", url=api.graphql_url, token=None)
        assert missing.code == 5, missing.err
        assert_one_error_line(missing, "refused the credentials")
    wrong = cli("status", "exec_1", "--token", "a.b.c", url=api.graphql_url, token=None)
    assert wrong.code == 5, wrong.err


def test_any_401_answer_exits_5(stand_in: StandInServer) -> None:
    run = cli("status", "exec_1", "--token", "t.o.k", url=stand_in.url)
    assert run.code == 5
    assert_one_error_line(run, "HTTP 401")
    assert stand_in.requests[0]["authorization"] == "Bearer t.o.k"
    stand_in.status = 403
    assert cli("watch", "exec_1", url=stand_in.url).code == 5


@pytest.fixture
def slow_runtime(api: ApiProcess) -> Iterator[None]:
    """Phases of seconds for one test, so a loaded machine cannot finish the execution before a
    short wait has even started."""
    faults = api.env["EXPERIENCE_RUNTIME_URL"] + "/_control/faults"
    httpx.post(faults, json={"phase_delay": 5}).raise_for_status()
    try:
        yield
    finally:
        httpx.post(faults, json={"phase_delay": PHASE_DELAY}).raise_for_status()


@pytest.mark.usefixtures("slow_runtime")
def test_a_wait_timeout_exits_6(api: ApiProcess, mashed: Mashed, token: str) -> None:
    run = cli(
        "mash", *mashed.file_ids, "--wait", "--timeout", "0.01", url=api.graphql_url, token=token
    )
    assert run.code == 6
    assert_one_error_line(run, "did not finish within 0.01s")


def test_url_and_token_flags_override_the_environment(api: ApiProcess, token: str) -> None:
    run = cli(
        "status", "exec_missing", "--url", api.graphql_url, "--token", token,
        url="http://127.0.0.1:9/x", token="not.the.token",
    )  # fmt: skip
    assert run.code == 4


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for line in ("0  success", "1  the execution failed", "3  the API or the Runtime",
                 "4  not found", "5  authentication failed", "6  the wait timed out"):  # fmt: skip
        assert line in text
    assert build_parser().prog == "experience-plane"


def test_watch_on_a_terminal_draws_a_live_bar_then_the_result(api: ApiProcess, token: str) -> None:
    [execution] = cli("upload", str(CUSTOMERS), "--json", url=api.graphql_url, token=token).json()
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPERIENCE_")}
    env["EXPERIENCE_TOKEN"] = token
    with subprocess.Popen(
        [sys.executable, "-m", "experience_plane_sdk", "watch", execution["id"],
         "--url", api.graphql_url],
        stdout=terminal, stderr=subprocess.PIPE, env=env,
    ) as process:  # fmt: skip
        os.close(terminal)
        output = b""
        while chunk := _read(controller):
            output += chunk
        assert process.wait(30) == 0
    os.close(controller)
    text = output.decode()
    assert "\r" in text  # redrawn in place
    # The live bar, drawn by Rich, reached 100 % with the final state.
    assert re.search(r"COMPLETED\s+━+\s+100%", plain(text)), text
    assert "\nfile file_" in plain(text)  # the final status, with its artifact, on a fresh line


def plain(text: str) -> str:
    """`text` without terminal control sequences (colours, cursor moves) nor carriage returns."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the terminal's other side was closed (the process ended)
        return b""


def test_the_module_docstring_lists_the_same_exit_codes() -> None:
    codes = EXIT_CODES_HELP.split("\n\n")[0].splitlines()[1:]
    assert cli_module.__doc__ is not None
    assert "\n".join(codes) in cli_module.__doc__


def test_global_options_go_before_or_after_the_command(
    api: ApiProcess, mashed: Mashed, token: str
) -> None:
    execution_id = mashed.mash_execution_id
    after = cli("status", execution_id, "--json", "--url", api.graphql_url, token=token)
    before = cli("--json", "--url", api.graphql_url, "status", execution_id, token=token)
    assert after.code == before.code == 0, (after.err, before.err)
    assert before.out == after.out
    assert before.json()["id"] == execution_id
    # After the command, a global option overrides the one before it.
    mixed = cli("--url", "http://127.0.0.1:9/x", "status", execution_id, "--url", api.graphql_url,
                "--json", token=token)  # fmt: skip
    assert mixed.code == 0, mixed.err
    assert mixed.out == after.out


def _cli_command(*args: str, token: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPERIENCE_")}
    env["EXPERIENCE_TOKEN"] = token
    return [sys.executable, "-m", "experience_plane_sdk", *args], env


@pytest.mark.parametrize("output", ["--json", "--table"])
def test_records_into_a_pipe_that_head_closes_early_exit_quietly(
    api: ApiProcess, mashed: Mashed, token: str, output: str
) -> None:
    flags = ["--json"] if output == "--json" else []
    command, env = _cli_command(
        "records", mashed.mash_execution_id, *flags, "--page-size", "1",
        "--url", api.graphql_url, token=token,
    )  # fmt: skip
    with subprocess.Popen(["head", "-c", "10"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE) as head:  # fmt: skip
        assert head.stdin is not None
        assert head.stdout is not None
        with subprocess.Popen(command, stdout=head.stdin, stderr=subprocess.PIPE,
                              env=env) as records:  # fmt: skip
            head.stdin.close()  # only the CLI writes to head now
            _, err = records.communicate(timeout=60)
        out = head.stdout.read()
    assert len(out) == 10
    assert records.returncode == 0, err.decode()
    assert err == b""


def test_records_into_a_pipe_already_closed_exit_quietly(
    api: ApiProcess, mashed: Mashed, token: str
) -> None:
    # The reader is gone before the first line: every write fails, deterministically.
    read_end, write_end = os.pipe()
    os.close(read_end)
    for flags in (["--json"], []):
        command, env = _cli_command(
            "records", mashed.mash_execution_id, *flags, "--url", api.graphql_url, token=token
        )
        result = subprocess.run(
            command, stdout=write_end, stderr=subprocess.PIPE, env=env, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr.decode()
        assert result.stderr == b""
    os.close(write_end)


def test_upload_wait_on_a_terminal_shows_bytes_then_every_execution_live(
    api: ApiProcess, token: str
) -> None:
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPERIENCE_")}
    env["EXPERIENCE_TOKEN"] = token
    with subprocess.Popen(
        [sys.executable, "-m", "experience_plane_sdk", "--json", "upload", str(CUSTOMERS),
         str(POLICIES), "--wait", "--url", api.graphql_url],
        stdout=subprocess.PIPE, stderr=terminal, env=env,
    ) as process:  # fmt: skip
        os.close(terminal)
        shown = b""
        while chunk := _read(controller):
            shown += chunk
        assert process.stdout is not None
        out = process.stdout.read().decode()
        assert process.wait(30) == 0
    os.close(controller)
    display = plain(shown.decode())
    for path in (CUSTOMERS, POLICIES):
        size = path.stat().st_size
        # The upload's bar: bytes sent of the file's size.
        assert re.search(rf"{path.name}\s+━+\s+{size}/{size} bytes", display), display
        # Then one live bar per execution, both at once.
        assert re.search(rf"{path.name}\s+COMPLETED\s+━+\s+100%", display), display
    # stdout is a pipe: the JSON document alone, as without a terminal.
    assert "\x1b" not in out
    assert [e["state"] for e in json.loads(out)] == ["COMPLETED", "COMPLETED"]


def test_upload_wait_without_a_terminal_prints_plain_lines(api: ApiProcess, token: str) -> None:
    run = cli("upload", str(CUSTOMERS), str(POLICIES), "--wait", url=api.graphql_url, token=token)
    assert run.code == 0, run.err
    for stream in (run.out, run.err):
        assert "\x1b" not in stream
        assert "\r" not in stream
    updates = run.err.splitlines()
    assert updates
    assert all(line.split()[0] in {"customers.csv", "policies.json"} for line in updates)
    assert {line.split()[0] for line in updates if "COMPLETED" in line} == {
        "customers.csv", "policies.json",
    }  # fmt: skip


def test_every_command_the_parser_knows_has_a_handler() -> None:
    parser = build_parser()
    for name in cli_module.COMMANDS:
        assert callable(getattr(cli_module.Command, name)), name
        assert parser.parse_known_args([name, "x"])[0].command == name


def test_experience_plane_routes_every_client_command_to_the_sdk() -> None:
    """`experience-plane list` and `cancel` (and every other client command) reach the SDK's
    CLI, whatever global options come first; the server CLI would refuse them as unknown."""
    (subcommands,) = (
        action.choices
        for action in build_parser()._actions
        if isinstance(action.choices, dict)  # the sub-command action
    )
    assert set(subcommands) == set(cli_module.COMMANDS)
    for name in subcommands:
        for argv in ([name, "--help"], ["--url", "http://x/graphql", "--token", "t", name]):
            assert cli_module.command_name(argv) == name
        result = subprocess.run(
            [sys.executable, "-m", "experience_plane", name, "--help"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, (name, result.stderr)
        assert f"usage: experience-plane {name}" in result.stdout, (name, result.stdout)
