export {
  ExperiencePlaneClient,
  type ActionOptions,
  type Artifact,
  type ClientOptions,
  type ContentFile,
  type DataMash,
  type Execution,
  type ExecutionsPage,
  type ExecutionsPageOptions,
  type MashRecord,
  type RecordsOptions,
  type UploadOptions,
} from "./client.js";
export {
  ExperiencePlaneError,
  RETRYABLE_CODES,
  type ErrorCode,
  type ExperiencePlaneErrorCode,
  type ExperiencePlaneErrorDetails,
  type TransportErrorCode,
} from "./errors.js";
export type { UploadProgress } from "./http.js";
export type { Transport, WatchOptions } from "./watch.js";
export type {
  ConfidenceLevel,
  CreateDataMashInput,
  ExecutionFilter,
  ExecutionState,
} from "./generated/graphql.js";
