"""What every benchmark shares: real processes, per-process CPU and memory, a printed table.

Benchmarks start the reference Runtime and the Experience Plane as real processes on loopback
(`tests.support.processes`), drive them with real clients, and read the servers' own CPU time and
resident memory from `/proc`, so a figure is what the server paid, not what the load generator
did. Every figure is printed next to a baseline measured in the same run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/x.py`: make `tests.support` importable
    sys.path.insert(0, str(ROOT))

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = 1024


@dataclass(frozen=True, slots=True)
class ProcessMeter:
    """Reads one process's CPU time and resident memory from `/proc/<pid>`."""

    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far (the process itself, not its children)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / CLOCK_TICKS

    def _status_kib(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def rss_bytes(self) -> int:
        """Resident memory now."""
        return self._status_kib("VmRSS") * PAGE_KIB

    def peak_rss_bytes(self) -> int:
        """Peak resident memory since start or since the last `reset_peak()`."""
        return self._status_kib("VmHWM") * PAGE_KIB

    def reset_peak(self) -> None:
        """Restart the peak from the current resident size (Linux: clear_refs 5)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")


def mib(n_bytes: float) -> float:
    return n_bytes / (1024 * 1024)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a Markdown table (pasteable into docs/benchmarks.md) under a title."""
    cells = [[str(c) for c in headers], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    print(f"\n### {title}\n")
    for index, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    sys.stdout.flush()


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


async def submit_uploads(runtime_url: str, tenant: str, user: str, count: int) -> list[str]:
    """The ids of `count` small CSV upload executions submitted straight to the Runtime."""
    from experience_plane.runtime import RuntimeCaller, RuntimeClient

    async with RuntimeClient(runtime_url) as client:
        session = await client.create_session(tenant, user)
        caller = RuntimeCaller(tenant, user, session)
        ids = []
        for n in range(count):
            submitted = await client.upload_content(
                caller,
                filename=f"customers-{n}.csv",
                mime_type="text/csv",
                content=b"customer_id,name\n1,Ada\n",
            )
            assert submitted.execution_id is not None
            ids.append(submitted.execution_id)
        return ids
