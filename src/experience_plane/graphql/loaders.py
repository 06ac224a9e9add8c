"""DataLoaders, one set per request: each Runtime detail is fetched once however often it is
selected in that request."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from experience_plane.auth import Principal
from experience_plane.executions import Snapshot
from experience_plane.runtime import Artifact, MashRecordsPage
from experience_plane.services import ExecutionService

RecordsKey = tuple[str, int, int]
"""(mash id, offset, limit) of a page of records."""


class Loaders:
    """The per-request loaders of executions, artifact details and record pages for one
    principal. Artifacts and records never change, so they are kept while the context lives;
    an execution's status does, so it is only batched (a WebSocket context lives for many
    operations)."""

    def __init__(self, executions: ExecutionService, principal: Principal) -> None:
        self._executions = executions
        self._principal = principal
        self.artifacts: DataLoader[str, Artifact] = DataLoader(load_fn=self._load_artifacts)
        self.mash_records: DataLoader[RecordsKey, MashRecordsPage] = DataLoader(
            load_fn=self._load_mash_records
        )
        self.executions: DataLoader[str, Snapshot | None] = DataLoader(
            load_fn=self._load_executions, cache=False
        )

    async def execution(self, execution_id: str) -> Snapshot | None:
        """An execution's current status (None: unknown to the principal's tenant); the ids
        asked for in one tick are read together, each once."""
        return await self.executions.load(execution_id)

    async def artifact(self, artifact_id: str) -> Artifact:
        """An artifact's full details, read at most once while this context lives."""
        try:
            return await self.artifacts.load(artifact_id)
        except Exception:
            # A WebSocket context outlives one operation: do not keep a transient failure.
            self.artifacts.clear(artifact_id)
            raise

    async def records_page(self, mash_id: str, *, offset: int, limit: int) -> MashRecordsPage:
        """A page of a mash's records, read at most once while this context lives."""
        key = (mash_id, offset, limit)
        try:
            return await self.mash_records.load(key)
        except Exception:
            self.mash_records.clear(key)
            raise

    async def _load_artifacts(self, ids: list[str]) -> Sequence[Artifact | BaseException]:
        # The Runtime has no batch endpoint: one call per distinct id, concurrently.
        return await asyncio.gather(
            *(self._executions.artifact(self._principal, artifact_id) for artifact_id in ids),
            return_exceptions=True,
        )

    async def _load_executions(self, ids: list[str]) -> Sequence[Snapshot | BaseException | None]:
        # Without a cache the same id can come twice in one batch: read each once.
        distinct = list(dict.fromkeys(ids))
        read = await asyncio.gather(
            *(self._executions.get(self._principal, execution_id) for execution_id in distinct),
            return_exceptions=True,
        )
        by_id = dict(zip(distinct, read, strict=True))
        return [by_id[execution_id] for execution_id in ids]

    async def _load_mash_records(
        self, keys: list[RecordsKey]
    ) -> Sequence[MashRecordsPage | BaseException]:
        return await asyncio.gather(
            *(
                self._executions.mash_records(self._principal, mash_id, offset=offset, limit=limit)
                for mash_id, offset, limit in keys
            ),
            return_exceptions=True,
        )
