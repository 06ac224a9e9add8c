"""The Python SDK of the Experience Plane: a typed async (and sync) client of its GraphQL API.

```python
async with ExperienceClient("http://127.0.0.1:8000/graphql", token) as client:
    upload = await client.wait((await client.upload_content("customers.csv")).id)
    mash = await client.create_data_mash([f.file_id for f in upload.files])
    done = await client.wait(mash.id)
    async for record in client.records(done.id):
        ...
```

It talks to the API only over HTTP and WebSocket (gql) and imports nothing from the service.
The command line (`python -m experience_plane_sdk`) is in `experience_plane_sdk.cli`.
"""

from experience_plane_sdk.client import DEFAULT_WAIT_TIMEOUT, ExperienceClient, UploadSource
from experience_plane_sdk.errors import (
    AlreadyFinishedError,
    ApiProtocolError,
    ApiUnreachable,
    AuthenticationFailed,
    CancelUnsupportedError,
    ExecutionFailed,
    ExecutionNotFoundError,
    ExperienceError,
    IdempotencyConflictError,
    InvalidInput,
    RateLimited,
    RuntimeOutcomeUnknownError,
    RuntimeProtocolError,
    RuntimeRejectedError,
    RuntimeTimeoutError,
    RuntimeUnavailableError,
    TooManySubscriptions,
    UploadTooLarge,
    WaitTimeout,
)
from experience_plane_sdk.models import (
    Artifact,
    CanonicalField,
    ColumnProfile,
    ContentFile,
    DataMash,
    Execution,
    ExecutionFailure,
    ExecutionState,
    FailureCode,
    JoinKey,
    Node,
    Progress,
    QualityReport,
    RecordsPage,
    SourceColumn,
)
from experience_plane_sdk.sync import SyncExperienceClient

__all__ = [
    "DEFAULT_WAIT_TIMEOUT",
    "AlreadyFinishedError",
    "ApiProtocolError",
    "ApiUnreachable",
    "Artifact",
    "AuthenticationFailed",
    "CancelUnsupportedError",
    "CanonicalField",
    "ColumnProfile",
    "ContentFile",
    "DataMash",
    "Execution",
    "ExecutionFailed",
    "ExecutionFailure",
    "ExecutionNotFoundError",
    "ExecutionState",
    "ExperienceClient",
    "ExperienceError",
    "FailureCode",
    "IdempotencyConflictError",
    "InvalidInput",
    "JoinKey",
    "Node",
    "Progress",
    "QualityReport",
    "RateLimited",
    "RecordsPage",
    "RuntimeOutcomeUnknownError",
    "RuntimeProtocolError",
    "RuntimeRejectedError",
    "RuntimeTimeoutError",
    "RuntimeUnavailableError",
    "SourceColumn",
    "SyncExperienceClient",
    "TooManySubscriptions",
    "UploadSource",
    "UploadTooLarge",
    "WaitTimeout",
]
