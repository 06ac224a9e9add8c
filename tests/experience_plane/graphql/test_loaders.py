"""Per-request loaders: one Runtime read per artifact, transient failures not kept."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from experience_plane.auth import Principal
from experience_plane.graphql.loaders import Loaders
from experience_plane.runtime import FileArtifact, MashRecordsPage
from experience_plane.services import ExecutionService, RuntimeUnavailableError

ALICE = Principal("tenant-1", "alice")


def file_artifact(file_id: str) -> FileArtifact:
    return FileArtifact(
        file_id=file_id,
        filename="a.csv",
        mime_type="text/csv",
        size=1,
        sha256="0" * 64,
        format="csv",
        columns=(),
        row_count=0,
        complete=True,
    )


class CountingExecutions:
    """Stands in for `ExecutionService`: counts reads, fails the first `failures` of them."""

    def __init__(self, failures: int = 0) -> None:
        self.artifact_reads: list[tuple[str, str]] = []
        self.record_reads: list[tuple[str, int, int]] = []
        self.failures = failures

    async def artifact(self, principal: Principal, artifact_id: str) -> FileArtifact:
        self.artifact_reads.append((principal.tenant_id, artifact_id))
        await asyncio.sleep(0)
        if len(self.artifact_reads) <= self.failures:
            raise RuntimeUnavailableError("down")
        return file_artifact(artifact_id)

    async def mash_records(
        self, principal: Principal, mash_id: str, *, offset: int, limit: int
    ) -> MashRecordsPage:
        self.record_reads.append((mash_id, offset, limit))
        return MashRecordsPage(records=({"n": offset},), total=10, offset=offset)


def loaders_over(executions: CountingExecutions) -> Loaders:
    return Loaders(cast(ExecutionService, executions), ALICE)


async def test_each_artifact_is_read_once_however_often_it_is_asked_for() -> None:
    executions = CountingExecutions()
    loaders = loaders_over(executions)
    results: list[Any] = await asyncio.gather(
        *(loaders.artifact(artifact_id) for artifact_id in ["f1", "f2", "f1", "f1", "f2"])
    )
    results.append(await loaders.artifact("f1"))
    assert [result.file_id for result in results] == ["f1", "f2", "f1", "f1", "f2", "f1"]
    assert sorted(executions.artifact_reads) == [("tenant-1", "f1"), ("tenant-1", "f2")]


async def test_record_pages_are_keyed_by_offset_and_limit() -> None:
    executions = CountingExecutions()
    loaders = loaders_over(executions)
    await asyncio.gather(
        loaders.records_page("m", offset=0, limit=5),
        loaders.records_page("m", offset=0, limit=5),
        loaders.records_page("m", offset=5, limit=5),
    )
    assert sorted(executions.record_reads) == [("m", 0, 5), ("m", 5, 5)]


async def test_a_failed_read_is_not_kept() -> None:
    executions = CountingExecutions(failures=1)
    loaders = loaders_over(executions)
    with pytest.raises(RuntimeUnavailableError):
        await loaders.artifact("f1")
    assert (await loaders.artifact("f1")).file_id == "f1"
    assert len(executions.artifact_reads) == 2
