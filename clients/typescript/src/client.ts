// The Experience Plane client: one object per API, holding the token source, the HTTP
// settings and the (lazily opened) subscription transports.
import {
  CANCEL_EXECUTION,
  CREATE_DATA_MASH,
  EXECUTIONS,
  EXECUTION_STATUS,
  MASH_RECORDS,
  UPLOAD_CONTENT,
  WATCH_EXECUTION,
} from "./operations.js";
import { ExperiencePlaneError, fromResultError, type ResultError } from "./errors.js";
import type {
  CancelExecutionMutation,
  CancelExecutionMutationVariables,
  CreateDataMashInput,
  CreateDataMashMutation,
  CreateDataMashMutationVariables,
  ExecutionFieldsFragment,
  ExecutionFilter,
  ExecutionsQuery,
  ExecutionsQueryVariables,
  ExecutionStatusQuery,
  ExecutionStatusQueryVariables,
  MashRecordsQuery,
  MashRecordsQueryVariables,
  UploadContentMutation,
  UploadContentMutationVariables,
  WatchExecutionSubscription,
} from "./generated/graphql.js";
import { postJson, postMultipart, type HttpOptions, type UploadProgress } from "./http.js";
import { Subscriptions, watch, type WatchOptions } from "./watch.js";

/** An execution as every operation of this client reads it. */
export type Execution = ExecutionFieldsFragment;
export type Artifact = Execution["artifacts"][number];
export type ContentFile = Extract<Artifact, { __typename: "ContentFile" }>;
export type DataMash = Extract<Artifact, { __typename: "DataMash" }>;
/** One joined record of a mash: canonical field name to value. */
export type MashRecord = Record<string, unknown>;

export interface ClientOptions {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:8000/graphql`. */
  url: string;
  /** The WebSocket endpoint; defaults to `url` with `ws:`/`wss:`. */
  wsUrl?: string;
  /** The SSE endpoint (graphql-sse, distinct connections); defaults to `url`. */
  sseUrl?: string;
  /** The bearer token, asked for before every request and every new connection. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** How often a mutation is repeated, with the same idempotency key, after a retryable failure. */
  retries?: number;
  /** The first retry's delay in milliseconds (doubled each time, with jitter). */
  retryDelayMs?: number;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
  /** A WebSocket class for runtimes without a global one (e.g. `ws` on Node 20). */
  webSocketImpl?: unknown;
}

export interface ActionOptions {
  /**
   * Makes retries safe: one key per user action, reused on every retry of that action. A fresh
   * `crypto.randomUUID()` when not given; pass your own to repeat an action across reloads.
   */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface UploadOptions extends ActionOptions {
  /** Upload progress: in browsers as the bytes leave (XMLHttpRequest), in Node as they are read. */
  onProgress?: (progress: UploadProgress) => void;
  /** The name to store; defaults to the `File`'s name. */
  filename?: string;
  /** The media type; defaults to the uploaded or guessed one. */
  mimeType?: string;
}

export interface RecordsOptions {
  /** Records per request, 1 to 500. */
  pageSize?: number;
  signal?: AbortSignal;
}

export interface ExecutionsPageOptions {
  /** The first this many (1 to 100; 20 without `first` or `last`) after `after` (older ones). */
  first?: number;
  after?: string | null;
  /** The last this many (1 to 100) before `before` (newer ones); not with `first`. */
  last?: number;
  before?: string | null;
  /** States, intent types and creation bounds (exclusive); every part given must hold. */
  filter?: ExecutionFilter | undefined;
  signal?: AbortSignal | undefined;
}

/** A page of your executions, newest first, and where to continue from. */
export interface ExecutionsPage {
  executions: Execution[];
  cursors: string[];
  totalCount: number;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

const DEFAULT_RETRIES = 2;
const DEFAULT_RETRY_DELAY_MS = 500;

/** The Experience Plane's API for frontend code; every failure is an `ExperiencePlaneError`. */
export class ExperiencePlaneClient {
  private readonly http: HttpOptions;
  private readonly subscriptions: Subscriptions;
  private readonly retries: number;
  private readonly retryDelayMs: number;

  constructor(private readonly options: ClientOptions) {
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.http = { url: options.url, fetch: fetchImpl, headers: () => this.headers() };
    this.retries = options.retries ?? DEFAULT_RETRIES;
    this.retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    this.subscriptions = new Subscriptions({
      wsUrl: options.wsUrl ?? options.url.replace(/^http/, "ws"),
      sseUrl: options.sseUrl ?? options.url,
      authorization: () => this.authorization(),
      webSocketImpl: options.webSocketImpl,
      fetch: fetchImpl,
    });
  }

  /** Upload a file; resolves with its execution as soon as the Runtime accepted it. */
  async uploadContent(file: Blob, options: UploadOptions = {}): Promise<Execution> {
    const filename = options.filename ?? (isFile(file) ? file.name : "upload");
    return this.action(options, async (idempotencyKey) => {
      const variables: Omit<UploadContentMutationVariables, "file"> = {
        filename,
        mimeType: options.mimeType ?? null,
        idempotencyKey,
      };
      const data = await postMultipart<UploadContentMutation>(
        this.http,
        UPLOAD_CONTENT,
        variables,
        file,
        filename,
        { onProgress: options.onProgress, signal: options.signal },
      );
      return accepted(data.uploadContent, idempotencyKey);
    });
  }

  /** Compose uploaded files into one canonical view; resolves with the mash's execution. */
  async createDataMash(input: CreateDataMashInput, options: ActionOptions = {}): Promise<Execution> {
    return this.action(options, async (idempotencyKey) => {
      const variables: CreateDataMashMutationVariables = { input, idempotencyKey };
      const data = await postJson<CreateDataMashMutation>(this.http, CREATE_DATA_MASH, variables, options.signal);
      return accepted(data.createDataMash, idempotencyKey);
    });
  }

  /** The execution's current status; NOT_FOUND when your tenant has no such execution. */
  async executionStatus(executionId: string, options: { signal?: AbortSignal } = {}): Promise<Execution> {
    const variables: ExecutionStatusQueryVariables = { executionId };
    const data = await this.read(() =>
      postJson<ExecutionStatusQuery>(this.http, EXECUTION_STATUS, variables, options.signal),
    );
    if (data.executionStatus == null) throw notFound(executionId);
    return data.executionStatus;
  }

  /**
   * The execution's status now and then at every change, ending after a terminal one. Events
   * with `stale: true` repeat the last known status while the Runtime is not answering; the
   * execution has not failed, and a later event brings the true status.
   */
  watchExecution(executionId: string, options: WatchOptions = {}): AsyncGenerator<Execution, void, undefined> {
    return watch<WatchExecutionSubscription, Execution>(
      this.subscriptions,
      WATCH_EXECUTION,
      { executionId },
      (data) => {
        if (data?.executionStatus == null) throw notFound(executionId);
        return data.executionStatus;
      },
      options,
    );
  }

  /** Every record of a completed mash, read a page at a time (`first`/`after`). */
  async *mashRecords(executionId: string, options: RecordsOptions = {}): AsyncGenerator<MashRecord, void, undefined> {
    let after: string | null = null;
    for (;;) {
      const variables: MashRecordsQueryVariables = { executionId, first: options.pageSize ?? 100, after };
      const data = await this.read(() =>
        postJson<MashRecordsQuery>(this.http, MASH_RECORDS, variables, options.signal),
      );
      const execution = data.executionStatus;
      if (execution == null) throw notFound(executionId);
      const mash = execution.artifacts.find((artifact) => artifact.__typename === "DataMash");
      if (mash === undefined || mash.__typename !== "DataMash") {
        throw new ExperiencePlaneError(
          "NOT_FOUND",
          `Execution ${executionId} has no data mash (state ${execution.state})`,
        );
      }
      for (const edge of mash.records.edges) yield edge.node as MashRecord;
      const { hasNextPage, endCursor } = mash.records.pageInfo;
      if (!hasNextPage || endCursor == null) return;
      after = endCursor;
    }
  }

  /**
   * One page of your executions, newest first (your tenant's with the `tenant-admin` role):
   * `first`/`after` for older ones, `last`/`before` for newer ones. A cursor this API did not
   * issue is INVALID_INPUT.
   */
  async executionsPage(options: ExecutionsPageOptions = {}): Promise<ExecutionsPage> {
    const variables: ExecutionsQueryVariables = {
      first: options.first ?? null,
      after: options.after ?? null,
      last: options.last ?? null,
      before: options.before ?? null,
      filter: options.filter ?? null,
    };
    const data = await this.read(() => postJson<ExecutionsQuery>(this.http, EXECUTIONS, variables, options.signal));
    const { edges, pageInfo, totalCount } = data.executions;
    return {
      executions: edges.map((edge) => edge.node),
      cursors: edges.map((edge) => edge.cursor),
      totalCount,
      hasNextPage: pageInfo.hasNextPage,
      hasPreviousPage: pageInfo.hasPreviousPage,
      startCursor: pageInfo.startCursor ?? null,
      endCursor: pageInfo.endCursor ?? null,
    };
  }

  /** Every page of your executions, newest first, `pageSize` (1 to 100) at a time. */
  async *listExecutions(
    options: { pageSize?: number; filter?: ExecutionFilter | undefined; signal?: AbortSignal | undefined } = {},
  ): AsyncGenerator<ExecutionsPage, void, undefined> {
    let after: string | null = null;
    for (;;) {
      const page: ExecutionsPage = await this.executionsPage({
        first: options.pageSize ?? 20,
        after,
        filter: options.filter,
        signal: options.signal,
      });
      yield page;
      if (!page.hasNextPage || page.endCursor == null) return;
      after = page.endCursor;
    }
  }

  /**
   * Cancel a running execution (its `executionId` or global `id`); resolves with it as it stands:
   * CANCELLED, or still running until the Runtime's next safe point (a watch then ends CANCELLED).
   * Finished: ALREADY_FINISHED; unknown: NOT_FOUND; a Runtime that cannot cancel: CANCEL_UNSUPPORTED.
   */
  async cancelExecution(executionId: string, options: ActionOptions = {}): Promise<Execution> {
    return this.action(options, async (idempotencyKey) => {
      const variables: CancelExecutionMutationVariables = { executionId, idempotencyKey };
      const data = await postJson<CancelExecutionMutation>(this.http, CANCEL_EXECUTION, variables, options.signal);
      const result = data.cancelExecution;
      if (result.__typename === "ExecutionCancelled" && "execution" in result) return result.execution;
      throw fromResultError(result as ResultError, idempotencyKey);
    });
  }

  /** Close the WebSocket and SSE connections. */
  async close(): Promise<void> {
    await this.subscriptions.dispose();
  }

  private async authorization(): Promise<string | undefined> {
    const token = await this.options.getToken?.();
    return token ? `Bearer ${token}` : undefined;
  }

  private async headers(): Promise<Record<string, string>> {
    const authorization = await this.authorization();
    return authorization ? { Authorization: authorization } : {};
  }

  /** One user action: one idempotency key, reused on each retry after a retryable failure. */
  private async action<T>(options: ActionOptions, attempt: (idempotencyKey: string) => Promise<T>): Promise<T> {
    const idempotencyKey = options.idempotencyKey ?? crypto.randomUUID();
    return this.withRetries(() => attempt(idempotencyKey));
  }

  /** Reads are safe to repeat. */
  private read<T>(attempt: () => Promise<T>): Promise<T> {
    return this.withRetries(attempt);
  }

  private async withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let retry = 0; ; retry++) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof ExperiencePlaneError) || !error.retryable || retry >= this.retries) throw error;
        const backoff = this.retryDelayMs * 2 ** retry * (0.5 + Math.random());
        await sleep(Math.max(backoff, (error.retryAfterSeconds ?? 0) * 1000));
      }
    }
  }
}

type AcceptedOrError = { __typename: "ExecutionAccepted"; execution: Execution } | ResultError;

function accepted(result: AcceptedOrError, idempotencyKey: string): Execution {
  if (result.__typename === "ExecutionAccepted" && "execution" in result) return result.execution;
  throw fromResultError(result as ResultError, idempotencyKey);
}

function notFound(executionId: string): ExperiencePlaneError {
  return new ExperiencePlaneError("NOT_FOUND", `No execution ${executionId} is visible to you`);
}

function isFile(blob: Blob): blob is File {
  return typeof (blob as File).name === "string";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
