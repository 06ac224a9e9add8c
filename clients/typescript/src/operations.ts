// Every GraphQL document the client sends. graphql-codegen reads the `/* GraphQL */` literals
// below (validating them against schema/schema.graphql) and generates their result and variable
// types into src/generated/graphql.ts (interpolated fragments are read from their own literal).

const EXECUTION_FIELDS = /* GraphQL */ `
  fragment ExecutionFields on Execution {
    __typename
    id
    executionId
    intentType
    state
    rawStatus
    progress {
      phase
      percent
    }
    failure {
      code
      message
    }
    createdAt
    updatedAt
    isTerminal
    stale
    staleReason
    staleSince
    artifacts {
      __typename
      id
      ... on ContentFile {
        fileId
        name
        mimeType
        size
        sha256
        format
        columns {
          name
          type
          nullCount
          distinctCount
        }
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
          sources {
            fileId
            column
            confidence
          }
        }
        joinKeys {
          field
          overlap
          sources {
            fileId
            column
            confidence
          }
        }
        rowCount
        qualityReport {
          completeness
          nullDensity
          duplicateKeys
          typeConflicts
          issues
        }
      }
    }
  }
`;

export const UPLOAD_CONTENT = /* GraphQL */ `
  mutation UploadContent(
    $file: Upload!
    $filename: String
    $mimeType: String
    $idempotencyKey: String
  ) {
    uploadContent(
      file: $file
      filename: $filename
      mimeType: $mimeType
      idempotencyKey: $idempotencyKey
    ) {
      __typename
      ... on ExecutionAccepted {
        execution {
          ...ExecutionFields
        }
      }
      ... on Error {
        code
        message
      }
      ... on InvalidInputError {
        field
      }
      ... on UploadTooLargeError {
        maxBytes
      }
      ... on RateLimitedError {
        retryAfterSeconds
      }
      ... on RuntimeOutcomeUnknownError {
        idempotencyKey
      }
    }
  }
  ${EXECUTION_FIELDS}
`;

export const CREATE_DATA_MASH = /* GraphQL */ `
  mutation CreateDataMash($input: CreateDataMashInput!, $idempotencyKey: String) {
    createDataMash(input: $input, idempotencyKey: $idempotencyKey) {
      __typename
      ... on ExecutionAccepted {
        execution {
          ...ExecutionFields
        }
      }
      ... on Error {
        code
        message
      }
      ... on InvalidInputError {
        field
      }
      ... on RateLimitedError {
        retryAfterSeconds
      }
      ... on RuntimeOutcomeUnknownError {
        idempotencyKey
      }
    }
  }
  ${EXECUTION_FIELDS}
`;

export const EXECUTION_STATUS = /* GraphQL */ `
  query ExecutionStatus($executionId: ID!) {
    executionStatus(executionId: $executionId) {
      ...ExecutionFields
    }
  }
  ${EXECUTION_FIELDS}
`;

export const WATCH_EXECUTION = /* GraphQL */ `
  subscription WatchExecution($executionId: ID!) {
    executionStatus(executionId: $executionId) {
      ...ExecutionFields
    }
  }
  ${EXECUTION_FIELDS}
`;

export const MASH_RECORDS = /* GraphQL */ `
  query MashRecords($executionId: ID!, $first: Int, $after: String) {
    executionStatus(executionId: $executionId) {
      __typename
      id
      executionId
      state
      artifacts {
        __typename
        ... on DataMash {
          mashId
          records(first: $first, after: $after) {
            totalCount
            pageInfo {
              hasNextPage
              hasPreviousPage
              startCursor
              endCursor
            }
            edges {
              cursor
              node
            }
          }
        }
      }
    }
  }
`;
