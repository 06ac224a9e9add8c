// The client's one error type. Every failure a caller may meet is an `ExperiencePlaneError`
// whose `code` is either one of the schema's `ErrorCode` values (generated from the SDL, so a
// code added to the schema appears here at the next build) or one of the few codes the
// transport itself produces. Result unions' error members (`... on Error`) are thrown as this
// error, never returned, so a resolved promise always means the work was accepted.
import type { GraphQLFormattedError } from "graphql";

import type { ErrorCode } from "./generated/graphql.js";

export type { ErrorCode };

/** Codes that come from GraphQL over HTTP or from the client, not from the schema's enum. */
export type TransportErrorCode =
  /** The server could not be reached, or its answer was not GraphQL. */
  | "NETWORK_ERROR"
  /** The request was aborted through its `AbortSignal`. */
  | "ABORTED"
  /** The document did not parse or validate (a client bug, or a schema the client predates). */
  | "GRAPHQL_PARSE_FAILED"
  | "GRAPHQL_VALIDATION_FAILED"
  /** The request was not GraphQL over HTTP as the server expects it. */
  | "BAD_REQUEST"
  /** The request body exceeded the server's limit. */
  | "REQUEST_TOO_LARGE"
  /** The server failed unexpectedly; the message carries its request id. */
  | "INTERNAL_SERVER_ERROR";

export type ExperiencePlaneErrorCode = ErrorCode | TransportErrorCode;

/** Codes after which repeating the same action (with the same idempotency key) is safe. */
export const RETRYABLE_CODES: ReadonlySet<ExperiencePlaneErrorCode> = new Set<ExperiencePlaneErrorCode>([
  "NETWORK_ERROR",
  "RUNTIME_UNAVAILABLE",
  "RUNTIME_TIMEOUT",
  "RUNTIME_OUTCOME_UNKNOWN",
  "RATE_LIMITED",
]);

export interface ExperiencePlaneErrorDetails {
  /** The HTTP status, when the failure came with one. */
  status?: number;
  /** INVALID_INPUT: the argument or input field at fault. */
  field?: string | null;
  /** RATE_LIMITED: seconds to wait before the next attempt can succeed. */
  retryAfterSeconds?: number;
  /** UPLOAD_TOO_LARGE: the largest upload accepted, in bytes. */
  maxBytes?: number;
  /** The idempotency key of the action that failed; repeat the action with it. */
  idempotencyKey?: string | null;
  /** The GraphQL errors as the server sent them. */
  errors?: readonly GraphQLFormattedError[];
  cause?: unknown;
}

/** A failure with a stable `code` to switch on and a `message` for people. */
export class ExperiencePlaneError extends Error {
  override readonly name = "ExperiencePlaneError";
  readonly code: ExperiencePlaneErrorCode;
  readonly status: number | undefined;
  readonly field: string | null | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly maxBytes: number | undefined;
  readonly idempotencyKey: string | null | undefined;
  readonly errors: readonly GraphQLFormattedError[];

  constructor(code: ExperiencePlaneErrorCode, message: string, details: ExperiencePlaneErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.field = details.field;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.maxBytes = details.maxBytes;
    this.idempotencyKey = details.idempotencyKey;
    this.errors = details.errors ?? [];
  }

  /** True when repeating the action, with the same idempotency key, may succeed. */
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code);
  }
}

/** The error for a GraphQL response's `errors`: the first error's `extensions.code` wins. */
export function fromGraphQLErrors(
  errors: readonly GraphQLFormattedError[],
  status?: number,
): ExperiencePlaneError {
  const first = errors[0];
  const code = first?.extensions?.["code"];
  return new ExperiencePlaneError(
    typeof code === "string" ? (code as ExperiencePlaneErrorCode) : "INTERNAL_SERVER_ERROR",
    errors.map((error) => error.message).join("; ") || "GraphQL request failed",
    status === undefined ? { errors } : { errors, status },
  );
}

/** The error member of a result union, as the schema's `Error` interface spells it. */
export interface ResultError {
  __typename: string;
  code: ErrorCode;
  message: string;
  field?: string | null;
  retryAfterSeconds?: number;
  maxBytes?: number;
  idempotencyKey?: string | null;
}

export function fromResultError(error: ResultError, idempotencyKey: string): ExperiencePlaneError {
  const details: ExperiencePlaneErrorDetails = { idempotencyKey: error.idempotencyKey ?? idempotencyKey };
  if (error.field !== undefined) details.field = error.field;
  if (error.retryAfterSeconds !== undefined) details.retryAfterSeconds = error.retryAfterSeconds;
  if (error.maxBytes !== undefined) details.maxBytes = error.maxBytes;
  return new ExperiencePlaneError(error.code, error.message, details);
}
