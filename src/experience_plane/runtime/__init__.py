"""The Runtime client: the Experience Plane's one way to talk to the Runtime over HTTP.
`RuntimeClient` speaks the Runtime contract (docs: the runtime contract) to either the reference
Runtime or the platform's current one, returns the frozen values of `models`, and raises only the
errors of `errors`. Its `CircuitBreaker` (`breaker`) fails calls fast while the Runtime is down.
"""

from experience_plane.runtime.breaker import BreakerSnapshot, BreakerState, CircuitBreaker
from experience_plane.runtime.client import RuntimeClient
from experience_plane.runtime.errors import (
    ArtifactNotFound,
    CircuitOpen,
    ExecutionNotFound,
    RuntimeClientError,
    RuntimeProtocolError,
    RuntimeRejected,
    RuntimeTimeout,
    RuntimeUnavailable,
    StreamUnavailable,
    SubmitOutcomeUnknown,
)
from experience_plane.runtime.models import (
    Artifact,
    CanonicalField,
    ColumnProfile,
    DanglingReferences,
    DataMashArtifact,
    ExecutionState,
    ExecutionStatus,
    FileArtifact,
    JoinCandidate,
    JoinKey,
    MashRecordsPage,
    Progress,
    QualityReport,
    RuntimeCaller,
    RuntimeFlavour,
    SourceColumn,
    SubmitResult,
)

__all__ = [
    "Artifact",
    "ArtifactNotFound",
    "BreakerSnapshot",
    "BreakerState",
    "CanonicalField",
    "CircuitBreaker",
    "CircuitOpen",
    "ColumnProfile",
    "DanglingReferences",
    "DataMashArtifact",
    "ExecutionNotFound",
    "ExecutionState",
    "ExecutionStatus",
    "FileArtifact",
    "JoinCandidate",
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
    "SourceColumn",
    "StreamUnavailable",
    "SubmitOutcomeUnknown",
    "SubmitResult",
]
