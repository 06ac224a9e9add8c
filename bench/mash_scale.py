"""A data mash at scale (issue 16, target 4): a 300,000-row fact with two dimensions.

Generates the star schema of `tests.support.star_schema` (orders referencing customers by a
high-cardinality code with about 1 % dangling references and 1 % empty ones, and products by a
low-cardinality code; about 29 MB of orders), starts the reference Runtime as a real process,
uploads the three files straight to it (`content.upload`), then:

- **Runtime**: submits `data_mash.create` and polls until it completes; the time is from the
  submit to the completed status, the memory the Runtime process's peak RSS during the mash (its
  peak is reset first: `ProcessMeter.reset_peak()`), the CPU its own. The mash is checked: one
  record per order, the dangling and missing references counted as generated.
- **baseline**: a plain pandas merge of the same files in a child process, in the same run:
  `read_csv` three times, two left merges (`validate="many_to_one"`), and the records written as
  NDJSON as the Runtime writes them; its time and its peak RSS.
- **pages**: `GET /api/artifacts/{mash_id}` for pages of 50 and 500 records at random offsets
  (and the first and the last), timed at the client over loopback.

Targets: the mash ≤ 30 s, the Runtime's peak RSS ≤ 1 GiB, any page ≤ 50 ms.

    .venv/bin/python bench/mash_scale.py [--orders 300000] [--pages 100] [--quick]

pandas comes with the `bench` extra (`pip install -e '.[bench]'`; `make bench` installs it).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.processes import RuntimeProcess
from tests.support.star_schema import StarSchema, generate

from harness import ProcessMeter, mib, print_table, verdict

TARGET_SECONDS = 30.0
TARGET_RSS_BYTES = 1024 * 1024 * 1024
TARGET_PAGE_MS = 50.0
TENANT = "bench"
CLIENT_TIMEOUT = httpx.Timeout(300.0, connect=10.0)

# The baseline, run in a child process so its memory is its own. It prints one JSON line.
PANDAS = textwrap.dedent(
    """
    import json, resource, sys, time
    import pandas as pd

    orders, customers, products, out = sys.argv[1:5]
    started = time.perf_counter()
    o = pd.read_csv(orders)
    c = pd.read_csv(customers)
    p = pd.read_csv(products)
    read = time.perf_counter()
    merged = o.merge(
        c, how="left", left_on="cust", right_on="id", suffixes=("", "_customers"),
        validate="many_to_one",
    ).merge(
        p, how="left", left_on="product_code", right_on="code", suffixes=("", "_products"),
        validate="many_to_one",
    )
    joined = time.perf_counter()
    merged.to_json(out, orient="records", lines=True)
    written = time.perf_counter()
    print(json.dumps({
        "rows": len(merged),
        "read_s": read - started,
        "merge_s": joined - read,
        "write_s": written - joined,
        "total_s": written - started,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))
    """
)


@dataclass(frozen=True)
class RuntimeMash:
    seconds: float
    cpu: float
    peak_rss: int
    rss_before: int
    mash_id: str
    payload: dict[str, Any]


def submit(http: httpx.Client, intent: str, parameters: dict[str, Any]) -> str:
    body = {
        "intent_type": intent,
        "tenant_id": TENANT,
        "session_id": "bench-session",
        "solution_id": "default",
        "parameters": parameters,
    }
    response = http.post("/api/intent/submit", json=body)
    response.raise_for_status()
    execution_id: str = response.json()["execution_id"]
    return execution_id


def wait(http: httpx.Client, execution_id: str, poll: float = 0.05) -> dict[str, Any]:
    while True:
        status = http.get(f"/api/execution/{execution_id}/status", params={"tenant_id": TENANT})
        status.raise_for_status()
        body: dict[str, Any] = status.json()
        if body["status"] in ("completed", "failed", "cancelled", "unknown"):
            return body
        time.sleep(poll)


def upload(http: httpx.Client, path: Path) -> str:
    data = path.read_bytes()
    execution_id = submit(
        http,
        "content.upload",
        {
            "filename": path.name,
            "mime_type": "text/csv",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_encoding": "base64",
            "file_content": base64.b64encode(data).decode(),
        },
    )
    status = wait(http, execution_id)
    assert status["status"] == "completed", status
    file_id: str = status["artifacts"]["file"]["semantic_payload"]["file_id"]
    return file_id


def mash_in_runtime(http: httpx.Client, meter: ProcessMeter, refs: list[str]) -> RuntimeMash:
    meter.reset_peak()
    before, cpu = meter.rss_bytes(), meter.cpu_seconds()
    started = time.perf_counter()
    execution_id = submit(http, "data_mash.create", {"content_refs": refs})
    status = wait(http, execution_id)
    seconds = time.perf_counter() - started
    assert status["status"] == "completed", status["error"]
    payload: dict[str, Any] = status["artifacts"]["data_mash"]["semantic_payload"]
    return RuntimeMash(
        seconds,
        meter.cpu_seconds() - cpu,
        meter.peak_rss_bytes(),
        before,
        payload["mash_id"],
        payload,
    )


def check(star: StarSchema, payload: dict[str, Any]) -> str:
    """ "ok", or what is wrong with the mash."""
    expected = star.expected
    dangling = {
        d["references"]["column"]: d for d in payload["quality_report"]["dangling_references"]
    }
    found = (payload["row_count"], dangling["id"]["count"], dangling["id"]["missing"])
    wanted = (expected.orders, expected.dangling_customers, expected.null_customers)
    return "ok" if found == wanted else f"got {found}, expected {wanted}"


def pandas_baseline(paths: dict[str, Path], out: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", PANDAS, *(str(paths[n]) for n in star_names()), str(out)],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


def star_names() -> tuple[str, str, str]:
    return ("orders.csv", "customers.csv", "products.csv")


def page_times(
    http: httpx.Client, mash_id: str, total: int, limit: int, count: int, rng: random.Random
) -> tuple[list[float], bool]:
    """Milliseconds per page read, and whether every page held the records asked for."""
    offsets = [0, max(0, total - limit), *(rng.randrange(total) for _ in range(count))]
    times, right = [], True
    for offset in offsets:
        started = time.perf_counter()
        response = http.get(
            f"/api/artifacts/{mash_id}",
            params={"tenant_id": TENANT, "records_offset": offset, "records_limit": limit},
        )
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        body = response.json()
        records = body["records"]
        right = right and body["records_total"] == total
        right = right and len(records) == min(limit, total - offset)
        right = right and records[0]["order_id"] == f"ORD-{offset + 1:07d}"
    return times, right


def run(work: Path, orders: int, pages: int) -> bool:
    star = generate(orders, customers=max(50, orders // 6), products=40)
    paths = star.write(work / "files")
    size = sum(path.stat().st_size for path in paths.values())
    print(
        f"\nFiles: orders.csv {mib(paths['orders.csv'].stat().st_size):.1f} MiB "
        f"({orders:,} rows), customers.csv {star.expected.customers:,} rows, products.csv "
        f"{star.expected.products} rows; {mib(size):.1f} MiB in all",
        flush=True,
    )
    baseline = pandas_baseline(paths, work / "pandas.ndjson")
    assert baseline["rows"] == orders, baseline

    with RuntimeProcess(work / "runtime") as runtime:
        assert runtime.pid is not None
        meter = ProcessMeter(runtime.pid)
        with httpx.Client(base_url=runtime.url, timeout=CLIENT_TIMEOUT) as http:
            started = time.perf_counter()
            refs = [upload(http, paths[name]) for name in star_names()]
            uploaded = time.perf_counter() - started
            mash = mash_in_runtime(http, meter, refs)
            rng = random.Random(16)  # noqa: S311 - repeatable offsets, not secrets
            small, small_ok = page_times(http, mash.mash_id, orders, 50, pages, rng)
            large, large_ok = page_times(http, mash.mash_id, orders, 500, pages, rng)
    checked = check(star, mash.payload)

    print_table(
        f"Mash of a {orders:,}-row fact with two dimensions (uploads took {uploaded:.1f} s)",
        ["path", "time s", "CPU s", "peak RSS MiB", "vs pandas (time)", "vs pandas (RSS)",
         "records"],
        [
            ["baseline: pandas read_csv x3 + 2 left merges + NDJSON", baseline["total_s"], "-",
             mib(baseline["peak_rss"]), "1.00x", "1.00x", baseline["rows"]],
            ["  of which read / merge / write", f"{baseline['read_s']:.2f} / "
             f"{baseline['merge_s']:.2f} / {baseline['write_s']:.2f}", "-", "-", "-", "-", "-"],
            ["reference Runtime: data_mash.create, submit → completed", mash.seconds, mash.cpu,
             mib(mash.peak_rss), f"{mash.seconds / baseline['total_s']:.2f}x",
             f"{mash.peak_rss / baseline['peak_rss']:.2f}x",
             f"{mash.payload['row_count']:,} ({checked})"],
        ],
    )  # fmt: skip
    rows = []
    for limit, times, right in ((50, small, small_ok), (500, large, large_ok)):
        rows.append(
            [
                limit,
                len(times),
                statistics.median(times),
                sorted(times)[int(0.95 * (len(times) - 1))],
                max(times),
                times[0],
                times[1],
                "ok" if right else "WRONG",
            ]
        )
    print_table(
        "Reading a page of the records: GET /api/artifacts/{id}?records_offset&records_limit",
        ["page size", "pages", "p50 ms", "p95 ms", "max ms", "first page ms", "last page ms",
         "records"],
        rows,
    )  # fmt: skip
    slowest = max(max(small), max(large))
    met = [
        mash.seconds <= TARGET_SECONDS,
        mash.peak_rss <= TARGET_RSS_BYTES,
        slowest <= TARGET_PAGE_MS,
    ]
    print_table(
        "Issue 16, target 4",
        ["target", "measured", "verdict"],
        [
            [f"mash ≤ {TARGET_SECONDS:.0f} s", f"{mash.seconds:.1f} s", verdict(met[0])],
            [
                "Runtime peak RSS ≤ 1 GiB",
                f"{mib(mash.peak_rss):.0f} MiB (from {mib(mash.rss_before):.0f} MiB before)",
                verdict(met[1]),
            ],
            [f"any page ≤ {TARGET_PAGE_MS:.0f} ms", f"{slowest:.1f} ms", verdict(met[2])],
            ["time against pandas (reported)", f"{mash.seconds / baseline['total_s']:.2f}x", "-"],
        ],
    )
    return all(met) and checked == "ok" and small_ok and large_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300_000, help="fact rows (default 300k)")
    parser.add_argument("--pages", type=int, default=100, help="random pages per page size")
    parser.add_argument("--quick", action="store_true", help="30,000 orders, for a smoke run")
    args = parser.parse_args()
    orders = 30_000 if args.quick else args.orders
    with tempfile.TemporaryDirectory(prefix="bench-mash-") as tmp:
        return 0 if run(Path(tmp), orders, args.pages) else 1


if __name__ == "__main__":
    raise SystemExit(main())
