"""Building mash sources from bytes, for the realm tests."""

from __future__ import annotations

from reference_runtime.realms.alignment import MashSource
from reference_runtime.realms.content import parse_content
from reference_runtime.realms.tabular import profile_table


def source(filename: str, data: bytes) -> MashSource:
    """A tabular source named `filename`, its file id being the name itself."""
    table = parse_content(data, filename).table
    assert table is not None, f"{filename} is not tabular"
    return MashSource(
        file_id=filename, filename=filename, table=table, profiles=profile_table(table)
    )
