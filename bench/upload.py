"""A 1 GiB `uploadContent` (issue 7, target 4): the API's memory and its throughput.

Generates a CSV file on disk (long rows, so the Runtime's profiling is real but cheap), starts the
reference Runtime and the API as real processes, then:

- **baseline**: posts the very request the API sends the Runtime for an upload (the intent JSON
  with the file base64-encoded in `file_content`, built by the same `upload_body`) straight to the
  Runtime with a streaming client;
- **API**: uploads the file with `uploadContent` over the GraphQL multipart request spec, streamed
  from disk with a `Content-Length`, as curl or a browser would; then the same through REST
  (`POST /v1/content/upload`), which shares the service underneath.

Throughput is MiB of the file per second, from the first byte sent to the answer (the execution,
accepted). Then the execution is awaited and checked: completed, its stored sha256 equal to the
file's, its row count right. Memory: the API process's peak RSS growth during the upload
(`ProcessMeter.reset_peak()` first); target ≤ 64 MiB. The Runtime's peak is informative.

    .venv/bin/python bench/upload.py [--mib 1024] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.processes import ApiProcess, RuntimeProcess

from experience_plane.runtime.upload import ContentEncoding, upload_body
from harness import ProcessMeter, mib, print_table, verdict

TARGET_GROWTH_MIB = 64
READ_BYTES = 1024 * 1024
CLIENT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
FILENAME = "bench-orders.csv"
TENANT, USER, SESSION = "bench", "bench-user", "bench-session"
UPLOAD = """
mutation Upload($file: Upload!) {
  uploadContent(file: $file) {
    __typename
    ... on ExecutionAccepted { execution { id } }
    ... on Error { code message }
  }
}"""
STATUS = """
query Status($id: ID!) {
  executionStatus(executionId: $id) {
    isTerminal rawStatus failure { code message }
    artifacts { ... on ContentFile { sha256 size rowCount } }
  }
}"""


@dataclass(frozen=True)
class BenchFile:
    path: Path
    size: int
    sha256: str
    rows: int


@dataclass(frozen=True)
class Transfer:
    seconds: float
    api_growth: int | None
    api_cpu: float | None
    runtime_peak: int
    completed_s: float
    checked: str


def write_csv(path: Path, target_bytes: int) -> BenchFile:
    """A CSV of about `target_bytes`: an id per row (unique), a few typed columns and a long
    note drawn from a small pool, so distinct values stay few and profiling stays cheap."""
    rng = random.Random(7)  # noqa: S311 - repeatable filler text, not a secret
    notes = ["".join(rng.choices("abcdefghij klmnopqrstuvwxyz", k=3000)) for _ in range(256)]
    regions = ["north", "south", "east", "west", "", "central"]
    digest, size, rows = hashlib.sha256(), 0, 0
    with path.open("wb") as handle:
        header = b"order_id,region,amount,paid,ordered_on,note\n"
        handle.write(header)
        digest.update(header)
        size += len(header)
        while size < target_bytes:
            batch = "".join(
                f"{rows + i},{regions[i % 6]},{(i * 37) % 10000 / 100},"
                f"{'true' if i % 3 else 'false'},"
                f"2026-{1 + i % 12:02d}-{1 + i % 28:02d},{notes[(rows + i) % 256]}\n"
                for i in range(1000)
            ).encode()
            handle.write(batch)
            digest.update(batch)
            size += len(batch)
            rows += 1000
    return BenchFile(path, size, digest.hexdigest(), rows)


async def file_chunks(path: Path, first_byte: list[float]) -> AsyncIterator[bytes]:
    """The file, read a MiB at a time; records when the first byte leaves."""
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, READ_BYTES):
            if not first_byte:
                first_byte.append(time.perf_counter())
            yield chunk


def multipart(
    fields: dict[str, str], file_field: str, file: BenchFile, first_byte: list[float]
) -> tuple[str, int, Callable[[], AsyncIterator[bytes]]]:
    """A multipart/form-data request (form fields, then the file streamed from disk): its
    content type, length and body."""
    boundary = uuid.uuid4().hex
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{FILENAME}"\r\nContent-Type: text/csv\r\n\r\n'
    )
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield head.encode()
        async for chunk in file_chunks(file.path, first_byte):
            yield chunk
        yield tail

    length = len(head.encode()) + file.size + len(tail)
    return f"multipart/form-data; boundary={boundary}", length, body


async def poll(fetch: Callable[[], Awaitable[dict[str, object]]]) -> dict[str, object]:
    while True:
        status = await fetch()
        if status["terminal"]:
            return status
        await asyncio.sleep(0.2)


def check(file: BenchFile, status: dict[str, object]) -> str:
    """`ok`, or what is wrong with the finished execution."""
    if status["status"] != "completed":
        return f"{status['status']}: {status['error']}"
    if status["sha256"] != file.sha256 or status["size"] != file.size:
        return f"stored {status['size']} B, sha256 {status['sha256']} (file: {file.sha256})"
    if status["rows"] != file.rows:
        return f"{status['rows']} rows (file: {file.rows})"
    return "ok"


async def via_api(
    api: ApiProcess,
    surface: str,
    runtime_meter: ProcessMeter,
    file: BenchFile,
    http: httpx.AsyncClient,
) -> Transfer:
    """Upload through the API: `graphql` (uploadContent) or `rest` (POST /v1/content/upload)."""
    assert api.pid is not None
    meter = ProcessMeter(api.pid)
    first_byte: list[float] = []
    if surface == "graphql":
        operations = json.dumps({"query": UPLOAD, "variables": {"file": None}})
        fields = {"operations": operations, "map": '{"0": ["variables.file"]}'}
        path, file_field = "/graphql", "0"
    else:
        fields, path, file_field = {}, "/v1/content/upload", "file"
    content_type, length, body = multipart(fields, file_field, file, first_byte)
    before, cpu = meter.rss_bytes(), meter.cpu_seconds()
    meter.reset_peak()
    runtime_meter.reset_peak()
    response = await http.post(
        api.url + path,
        content=body(),
        headers={
            "Content-Type": content_type,
            "Content-Length": str(length),
            "GraphQL-Preflight": "1",
        },
    )
    answered = time.perf_counter()
    growth, cpu = meter.peak_rss_bytes() - before, meter.cpu_seconds() - cpu
    if surface == "graphql":
        result = response.json()["data"]["uploadContent"]
        if result["__typename"] != "ExecutionAccepted":
            raise SystemExit(f"uploadContent failed: {result}")
        execution_id = result["execution"]["id"]
    else:
        if response.status_code != 202:
            raise SystemExit(f"POST /v1/content/upload: {response.status_code} {response.text}")
        execution_id = response.json()["id"]

    async def fetch() -> dict[str, object]:
        answer = await http.post(
            api.graphql_url, json={"query": STATUS, "variables": {"id": execution_id}}
        )
        execution = answer.json()["data"]["executionStatus"]
        files = [a for a in execution["artifacts"] if a]
        found = files[0] if files else {}
        return {
            "terminal": execution["isTerminal"],
            "status": execution["rawStatus"],
            "error": (execution["failure"] or {}).get("message"),
            "sha256": found.get("sha256"),
            "size": found.get("size"),
            "rows": found.get("rowCount"),
        }

    status = await poll(fetch)
    return Transfer(
        answered - first_byte[0],
        growth,
        cpu,
        runtime_meter.peak_rss_bytes(),
        time.perf_counter() - first_byte[0],
        check(file, status),
    )


async def direct(
    runtime: RuntimeProcess, runtime_meter: ProcessMeter, file: BenchFile, http: httpx.AsyncClient
) -> Transfer:
    """The API's own request to the Runtime, sent straight to it."""
    first_byte: list[float] = []
    envelope = {
        "intent_type": "content.upload",
        "tenant_id": TENANT,
        "session_id": SESSION,
        "solution_id": "default",
        "intent_id": uuid.uuid4().hex,
        "metadata": {"user_id": USER},
    }
    parameters = {"filename": FILENAME, "mime_type": "text/csv", "content_encoding": "base64"}
    body = upload_body(
        envelope, parameters, file_chunks(file.path, first_byte), ContentEncoding.BASE64
    )
    runtime_meter.reset_peak()
    response = await http.post(
        runtime.url + "/api/intent/submit",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    answered = time.perf_counter()
    response.raise_for_status()
    execution_id = response.json()["execution_id"]

    async def fetch() -> dict[str, object]:
        answer = await http.get(
            f"{runtime.url}/api/execution/{execution_id}/status", params={"tenant_id": TENANT}
        )
        data = answer.json()
        payload = ((data.get("artifacts") or {}).get("file") or {}).get("semantic_payload", {})
        return {
            "terminal": data["status"] in ("completed", "failed"),
            "status": data["status"],
            "error": data.get("error"),
            "sha256": payload.get("sha256"),
            "size": payload.get("size"),
            "rows": payload.get("row_count"),
        }

    status = await poll(fetch)
    return Transfer(
        answered - first_byte[0],
        None,
        None,
        runtime_meter.peak_rss_bytes(),
        time.perf_counter() - first_byte[0],
        check(file, status),
    )


async def run(work: Path, file: BenchFile) -> bool:
    with (
        RuntimeProcess(work / "runtime") as runtime,
        ApiProcess(
            runtime.url,
            work / "api-logs",
            env={
                "EXPERIENCE_MAX_UPLOAD_BYTES": str(file.size + READ_BYTES),
                # The Runtime answers a submit once it has read the whole body.
                "EXPERIENCE_RUNTIME_TIMEOUT": "120",
            },
        ) as api,
    ):
        assert runtime.pid is not None
        runtime_meter = ProcessMeter(runtime.pid)
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
            base = await direct(runtime, runtime_meter, file, http)
            graphql = await via_api(api, "graphql", runtime_meter, file, http)
            rest = await via_api(api, "rest", runtime_meter, file, http)
    size = mib(file.size)
    rows: list[list[object]] = []
    for name, transfer in [
        ("baseline: the intent straight to the Runtime", base),
        ("uploadContent (GraphQL multipart) through the API", graphql),
        ("POST /v1/content/upload (REST multipart) through the API", rest),
    ]:
        rows.append(
            [
                name,
                transfer.seconds,
                size / transfer.seconds,
                base.seconds / transfer.seconds,
                "-" if transfer.api_growth is None else mib(transfer.api_growth),
                "-" if transfer.api_cpu is None else transfer.api_cpu,
                mib(transfer.runtime_peak),
                transfer.completed_s,
                transfer.checked,
            ]
        )
    print_table(
        f"Upload of a {size:,.0f} MiB CSV ({file.rows:,} rows)",
        ["path", "send → answer s", "MiB/s", "vs baseline", "API peak RSS growth MiB",
         "API CPU s", "Runtime peak RSS MiB", "send → completed s", "stored sha256 / rows"],
        rows,
    )  # fmt: skip
    growth = mib(max(graphql.api_growth or 0, rest.api_growth or 0))
    met = growth <= TARGET_GROWTH_MIB
    print_table(
        "Target 4",
        ["target", "measured", "verdict"],
        [
            [
                f"API peak RSS growth ≤ {TARGET_GROWTH_MIB} MiB (the larger of GraphQL and REST)",
                f"{growth:.1f} MiB",
                verdict(met),
            ],
            [
                "uploadContent throughput against the direct transfer (reported)",
                f"{base.seconds / graphql.seconds:.2f}x",
                "-",
            ],
        ],
    )
    return met and base.checked == graphql.checked == rest.checked == "ok"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="file size in MiB (default 1 GiB)")
    parser.add_argument("--quick", action="store_true", help="64 MiB, for a smoke run")
    args = parser.parse_args()
    size = (64 if args.quick else args.mib) * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        file = write_csv(work / FILENAME, size)
        print(
            f"generated {mib(file.size):,.0f} MiB in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        ok = asyncio.run(run(work, file))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
