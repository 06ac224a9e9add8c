"""`data_mash.create`: load the referenced tabular files and compose them into one view.
The records are written as they are built (`record_files`: NDJSON with a line index), never held
all at once; the artifact's `hash` and `size` are those of the NDJSON.
"""

from __future__ import annotations

import asyncio
from typing import Any

from reference_runtime.intents import IntentContext, IntentFailed, IntentResult, new_id
from reference_runtime.realms.content import ContentError, read_table
from reference_runtime.realms.data_mash import (
    MashError,
    MashOptions,
    MashSource,
    build_mash,
    parse_options,
)
from reference_runtime.realms.tabular import ColumnProfile, Table, profile_table
from reference_runtime.record_files import RecordsWriter
from reference_runtime.store import ArtifactRecord
from reference_runtime.timeutil import utc_now

MASH_MIME_TYPE = "application/x-data-mash"
TABULAR_FORMATS = "CSV, a JSON array of objects, or NDJSON"


def _content_refs(params: dict[str, Any]) -> list[str]:
    refs = params.get("content_refs")
    if not isinstance(refs, list) or not refs:
        raise IntentFailed(
            "data_mash.create needs parameters.content_refs: a list of at least one file_id "
            "returned by content.upload"
        )
    if not all(isinstance(ref, str) and ref for ref in refs):
        raise IntentFailed("parameters.content_refs must hold file ids (non-empty strings)")
    return list(dict.fromkeys(refs))  # a file named twice takes part once


def _load_sources(ctx: IntentContext, refs: list[str]) -> list[MashSource]:
    """Read and profile every referenced file (blocking: run it on a worker thread)."""
    tenant = ctx.execution.tenant_id
    records = {ref: ctx.store.get_artifact(ref, tenant) for ref in refs}
    unknown = [ref for ref, record in records.items() if record is None]
    if unknown:
        raise IntentFailed(
            f"Unknown content refs: {', '.join(unknown)}. No uploaded file has these ids for "
            "this tenant; upload the files with content.upload and pass their file_id"
        )
    sources = []
    for ref, record in records.items():
        assert record is not None  # unknown refs were rejected above
        ctx.cancel.checkpoint()
        if record.artifact_type != "file":
            raise IntentFailed(
                f"Content ref {ref} is a {record.artifact_type}, not an uploaded file; "
                "pass the file_ids of the files it was made from"
            )
        if not record.payload.get("tabular"):
            raise IntentFailed(
                f"Content ref {ref} ({record.name}) is not tabular data (format "
                f"{record.payload.get('format')}); a data mash needs {TABULAR_FORMATS}"
            )
        try:
            table = read_table(
                ctx.blobs.path_for(record.hash),
                record.name,
                record.mime_type,
                checkpoint=ctx.cancel.checkpoint,
            )
        except ContentError as exc:
            raise IntentFailed(str(exc)) from exc
        if table is None:
            raise IntentFailed(f"Content ref {ref} ({record.name}) could not be read as a table")
        sources.append(
            MashSource(
                file_id=ref,
                filename=record.name,
                table=table,
                profiles=_profiles(table, record.payload),
            )
        )
    return sources


def _profiles(table: Table, payload: dict[str, Any]) -> list[ColumnProfile]:
    """The columns' profiles made at upload, when they describe this table; else anew."""
    columns = payload.get("columns")
    if (
        isinstance(columns, list)
        and payload.get("row_count") == len(table.rows)
        and [c.get("name") for c in columns if isinstance(c, dict)] == table.columns
    ):
        return [
            ColumnProfile(c["name"], c["type"], c["null_count"], c["distinct_count"])
            for c in columns
        ]
    return profile_table(table)


def _mash(ctx: IntentContext, refs: list[str], options: MashOptions) -> ArtifactRecord:
    """Load and compose the mash, store its records' blob; return the artifact's record, which
    the executor stores with the status (blocking: run it on a worker thread). Cancelled, it
    stops at the next source, stage or batch of records, and the records written so far (a
    file in the blob store's `incoming`) are deleted: no blob or line index is left."""
    sources = _load_sources(ctx, refs)
    mash_id = new_id("mash")
    checkpoint = ctx.cancel.checkpoint
    with RecordsWriter(ctx.blobs) as writer:
        try:
            payload = build_mash(mash_id, sources, options, writer.write, checkpoint=checkpoint)
        except MashError as exc:
            raise IntentFailed(str(exc)) from exc
        # The point of no return: only now do the records become a blob and its line index.
        ctx.cancel.commit()
        stored = writer.commit()
    return ArtifactRecord(
        artifact_id=mash_id,
        tenant_id=ctx.execution.tenant_id,
        artifact_type="data_mash",
        name=payload["name"],
        mime_type=MASH_MIME_TYPE,
        size=stored.size,
        hash=stored.digest,
        execution_id=ctx.execution.execution_id,
        payload=payload,
        created_at=utc_now(),
    )


async def data_mash_create(ctx: IntentContext, params: dict[str, Any]) -> IntentResult:
    """Compose the tenant's referenced files into a canonical, joined data mash."""
    refs = _content_refs(params)
    try:
        options = parse_options(params.get("options"))
    except MashError as exc:
        raise IntentFailed(str(exc)) from exc
    record = await asyncio.to_thread(_mash, ctx, refs, options)
    return IntentResult(
        artifacts={"data_mash": {"result_type": "data_mash", "semantic_payload": record.payload}},
        reduced={
            "data_mash": {
                "result_type": "data_mash",
                "semantic_payload": {"mash_id": record.artifact_id},
            }
        },
        records=(record,),
    )
