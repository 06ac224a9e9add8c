"""Building mash sources from bytes, and mashing them, for the realm tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reference_runtime.realms.alignment import MashSource
from reference_runtime.realms.content import parse_content
from reference_runtime.realms.data_mash import MashOptions, build_mash
from reference_runtime.realms.tabular import profile_table


def source(filename: str, data: bytes) -> MashSource:
    """A tabular source named `filename`, its file id being the name itself."""
    table = parse_content(data, filename).table
    assert table is not None, f"{filename} is not tabular"
    return MashSource(
        file_id=filename, filename=filename, table=table, profiles=profile_table(table)
    )


def mash(
    sources: list[MashSource],
    options: MashOptions | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The mash's payload and its records, in the order they were emitted."""
    records: list[dict[str, Any]] = []
    payload = build_mash(
        "mash_1", sources, options or MashOptions(), records.append, checkpoint=checkpoint
    )
    return payload, records
