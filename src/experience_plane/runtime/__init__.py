"""The Runtime client: the Experience Plane's one way to talk to the Runtime over HTTP.

`RuntimeClient` speaks the Runtime contract (docs: the runtime contract) to either the reference
Runtime or the platform's current one, returns the frozen values of `models`, and raises only the
errors of `errors`.
"""

from experience_plane.runtime.client import RuntimeClient
from experience_plane.runtime.errors import (
    ArtifactNotFound,
    ExecutionNotFound,
    RuntimeClientError,
    RuntimeProtocolError,
    RuntimeRejected,
    RuntimeTimeout,
    RuntimeUnavailable,
    StreamUnavailable,
)
from experience_plane.runtime.models import (
    Artifact,
    CanonicalField,
    ColumnProfile,
    DataMashArtifact,
    ExecutionState,
    ExecutionStatus,
    FieldSource,
    FileArtifact,
    JoinKey,
    MashRecordsPage,
    Progress,
    QualityReport,
    RuntimeCaller,
    RuntimeFlavour,
    SubmitResult,
)

__all__ = [
    "Artifact",
    "ArtifactNotFound",
    "CanonicalField",
    "ColumnProfile",
    "DataMashArtifact",
    "ExecutionNotFound",
    "ExecutionState",
    "ExecutionStatus",
    "FieldSource",
    "FileArtifact",
    "JoinKey",
    "MashRecordsPage",
    "Progress",
    "QualityReport",
    "RuntimeCaller",
    "RuntimeClient",
    "RuntimeClientError",
    "RuntimeFlavour",
    "RuntimeProtocolError",
    "RuntimeRejected",
    "RuntimeTimeout",
    "RuntimeUnavailable",
    "StreamUnavailable",
    "SubmitResult",
]
