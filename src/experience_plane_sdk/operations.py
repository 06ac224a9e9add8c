"""Every GraphQL document the SDK sends, in one place.
Tests validate each of them against the checked-in `schema/schema.graphql`, so a schema change
that breaks the SDK fails the build instead of a user's call.
Idempotency: both mutations declare the schema's `idempotencyKey` argument as an optional
`$idempotencyKey` variable. The client sends its key in the `Idempotency-Key` HTTP header; the
API takes the argument when it is set and the header otherwise, and refuses the two only when
they differ, so leaving the variable unset (or setting it to the same key) is equivalent.
"""

from __future__ import annotations

from typing import Final

ARTIFACT_FIELDS: Final = """
fragment ArtifactFields on Artifact {
  __typename
  id
  ... on ContentFile {
    fileId
    name
    mimeType
    size
    sha256
    format
    columns { name type nullCount distinctCount }
    rowCount
  }
  ... on DataMash {
    mashId
    name
    entity
    canonicalFields {
      name
      type
      confidence
      sources { fileId column confidence }
    }
    joinKeys {
      field
      overlap
      sources { fileId column confidence }
    }
    rowCount
    qualityReport { completeness nullDensity duplicateKeys typeConflicts issues }
  }
}
"""

EXECUTION_FIELDS: Final = (
    """
fragment ExecutionFields on Execution {
  id
  executionId
  intentType
  state
  rawStatus
  progress { phase percent }
  failure { code message }
  createdAt
  updatedAt
  isTerminal
  artifacts { ...ArtifactFields }
}
"""
    + ARTIFACT_FIELDS
)

# What both mutations' result unions have in common: the accepted execution or an error.
ACCEPTED_OR_ERROR: Final = """
    __typename
    ... on ExecutionAccepted { execution { ...ExecutionFields } }
    ... on Error { code message }
    ... on InvalidInputError { field }
    ... on RateLimitedError { retryAfterSeconds }
    ... on RuntimeOutcomeUnknownError { idempotencyKey }
"""

UPLOAD_CONTENT: Final = (
    """
mutation UploadContent(
  $file: Upload!, $filename: String, $mimeType: String, $idempotencyKey: String
) {
  uploadContent(
    file: $file, filename: $filename, mimeType: $mimeType, idempotencyKey: $idempotencyKey
  ) {"""
    + ACCEPTED_OR_ERROR
    + """    ... on UploadTooLargeError { maxBytes }
  }
}
"""
    + EXECUTION_FIELDS
)

CREATE_DATA_MASH: Final = (
    """
mutation CreateDataMash($input: CreateDataMashInput!, $idempotencyKey: String) {
  createDataMash(input: $input, idempotencyKey: $idempotencyKey) {"""
    + ACCEPTED_OR_ERROR
    + """  }
}
"""
    + EXECUTION_FIELDS
)

EXECUTION_STATUS: Final = (
    """
query ExecutionStatus($executionId: ID!) {
  executionStatus(executionId: $executionId) { ...ExecutionFields }
}
"""
    + EXECUTION_FIELDS
)

WATCH_EXECUTION: Final = (
    """
subscription WatchExecution($executionId: ID!) {
  executionStatus(executionId: $executionId) { ...ExecutionFields }
}
"""
    + EXECUTION_FIELDS
)

MASH_RECORDS: Final = """
query MashRecords(
  $executionId: ID!, $first: Int, $after: String, $last: Int, $before: String
) {
  executionStatus(executionId: $executionId) {
    id
    executionId
    state
    artifacts {
      __typename
      ... on DataMash {
        mashId
        records(first: $first, after: $after, last: $last, before: $before) {
          totalCount
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          edges { cursor node }
        }
      }
    }
  }
}
"""

NODE: Final = (
    """
query Node($id: ID!) {
  node(id: $id) { __typename ...ExecutionFields ...ArtifactFields }
}
"""
    + EXECUTION_FIELDS
)

NODES: Final = (
    """
query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) { __typename ...ExecutionFields ...ArtifactFields }
}
"""
    + EXECUTION_FIELDS
)

ALL: Final = {
    "UploadContent": UPLOAD_CONTENT,
    "CreateDataMash": CREATE_DATA_MASH,
    "ExecutionStatus": EXECUTION_STATUS,
    "WatchExecution": WATCH_EXECUTION,
    "MashRecords": MASH_RECORDS,
    "Node": NODE,
    "Nodes": NODES,
}
