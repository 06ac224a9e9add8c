"""`make bench`: every benchmark in turn, each a script that also runs alone.

    .venv/bin/python bench/run.py [--only NAME ...] [--quick]

`--quick` passes `--quick` to each benchmark (smaller loads, for a smoke run). The exit code is
the first non-zero exit code of a benchmark, so a benchmark that cannot run is not hidden.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS: dict[str, str] = {
    "query_overhead": "GraphQL executionStatus against a plain FastAPI route (target 1)",
    "runtime_client": "Runtime client CPU per request, by transport (target 2)",
    "upload": "A 1 GiB uploadContent: API peak memory and throughput (target 4)",
    "subscriptions": "Subscription fan-out and scaling, shared vs per-subscriber (targets 3, 5)",
    "replicas": "Runtime requests per execution with 1 and 3 replicas on Redis (issue 8)",
    "mash_scale": "A 300,000-row star-schema mash: time, memory, record pages (issue 16)",
    "list_index": "Listing 50 of a user's 100,000 executions from the index (issue 15)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--quick", action="store_true", help="smaller loads, for a smoke run")
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    failed = 0
    for name in names:
        print(f"\n## {name}: {BENCHMARKS[name]}", flush=True)
        started = time.monotonic()
        command = [sys.executable, str(HERE / f"{name}.py"), *(["--quick"] if args.quick else [])]
        code = subprocess.call(command)
        print(f"\n({name}: exit {code}, {time.monotonic() - started:.0f} s)", flush=True)
        failed = failed or code
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
