// Following an execution: graphql-ws (graphql-transport-ws) first, Server-Sent Events
// (graphql-sse, distinct connections mode) when the WebSocket cannot be used. graphql-ws
// reconnects by itself and resubscribes the operations that were running; when it gives up, or
// when no socket ever opened (no WebSocket in this runtime, a proxy that refuses upgrades), the
// watch moves to SSE and subscribes again. Subscribing again is always safe: the server sends
// the current status first, and an event equal to the last one yielded is not repeated.
import type { FormattedExecutionResult, GraphQLFormattedError } from "graphql";
import { createClient as createSseClient, NetworkError, type Client as SseClient } from "graphql-sse";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";

import { ExperiencePlaneError, fromGraphQLErrors } from "./errors.js";

export type Transport = "websocket" | "sse";

// The server closes a refused `connection_init` with this code (its reason says why).
const FORBIDDEN = 4403;
// graphql-ws' own attempts to reconnect a socket that was open before moving to SSE.
const WS_RETRY_ATTEMPTS = 5;
// How often a stream that ended without a terminal status (a server restarting) is resumed.
const MAX_RESUMES = 10;

/** A transport failure: the watch may move to another transport and subscribe again. */
class TransportFailed extends Error {}

export interface SubscriptionOptions {
  wsUrl: string;
  sseUrl: string;
  authorization: () => Promise<string | undefined>;
  webSocketImpl?: unknown;
  fetch: typeof fetch;
}

type Result<TData> = FormattedExecutionResult<TData, unknown>;

/** graphql-sse types its results with `GraphQLError`s; on the wire they are formatted errors. */
function formatted<TData>(result: { data?: TData | null | undefined; errors?: readonly unknown[] | undefined }): Result<TData> {
  const out: Result<TData> = {};
  if (result.data !== undefined) out.data = result.data;
  if (result.errors !== undefined) out.errors = result.errors as readonly GraphQLFormattedError[];
  return out;
}

/** Push-based sink to pull-based iterator, with the one unsubscribe function to call. */
class Channel<T> implements AsyncIterableIterator<T> {
  private readonly values: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  private ended = false;
  private failure: unknown = undefined;
  dispose: () => void = () => {};

  push(value: T): void {
    if (this.waiter) {
      this.waiter.resolve({ value, done: false });
      this.waiter = undefined;
    } else this.values.push(value);
  }

  end(failure?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = failure;
    if (this.waiter) {
      if (failure === undefined) this.waiter.resolve({ value: undefined, done: true });
      else this.waiter.reject(failure);
      this.waiter = undefined;
    }
  }

  next(): Promise<IteratorResult<T>> {
    const value = this.values.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.ended) {
      return this.failure === undefined
        ? Promise.resolve({ value: undefined, done: true })
        : Promise.reject(this.failure);
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.ended = true;
    this.dispose();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/** The clients of both transports, created on first use and shared by every watch. */
export class Subscriptions {
  private ws: WsClient | undefined;
  private sse: SseClient | undefined;
  private wsConnectedOnce = false;
  private wsUnusable = false;

  constructor(private readonly options: SubscriptionOptions) {}

  /** The transport a new subscription starts on. */
  get preferred(): Transport {
    return this.wsUnusable ? "sse" : "websocket";
  }

  subscribe<TData>(
    transport: Transport,
    query: string,
    variables: Record<string, unknown>,
  ): AsyncIterableIterator<Result<TData>> {
    const channel = new Channel<Result<TData>>();
    const sink = {
      next: (result: { data?: TData | null | undefined; errors?: readonly unknown[] | undefined }) => channel.push(formatted(result)),
      complete: () => channel.end(),
      error: (error: unknown) => channel.end(this.classify(transport, error)),
    };
    try {
      channel.dispose =
        transport === "websocket"
          ? this.wsClient().subscribe<TData>({ query, variables }, sink)
          : this.sseClient().subscribe<TData>({ query, variables }, sink);
    } catch (error) {
      // e.g. "WebSocket implementation missing" on a runtime without a global WebSocket.
      channel.end(this.classify(transport, error));
    }
    return channel;
  }

  async dispose(): Promise<void> {
    await this.ws?.dispose();
    this.sse?.dispose();
  }

  private classify(transport: Transport, error: unknown): unknown {
    if (Array.isArray(error)) return fromGraphQLErrors(error);
    if (isCloseEvent(error) && error.code === FORBIDDEN) {
      return new ExperiencePlaneError("UNAUTHENTICATED", error.reason || "Forbidden", { cause: error });
    }
    if (error instanceof NetworkError && error.response) {
      const status = error.response.status;
      const code = status === 401 ? "UNAUTHENTICATED" : "NETWORK_ERROR";
      return new ExperiencePlaneError(code, `SSE subscription refused: HTTP ${status}`, { status, cause: error });
    }
    if (transport === "websocket") this.wsUnusable = !this.wsConnectedOnce || this.wsUnusable;
    return new TransportFailed(`${transport} failed`, { cause: error });
  }

  private wsClient(): WsClient {
    this.ws ??= createWsClient({
      url: this.options.wsUrl,
      lazy: true,
      retryAttempts: WS_RETRY_ATTEMPTS,
      // A socket that never opened is not retried: the watch moves to SSE at once.
      shouldRetry: (error) => this.wsConnectedOnce && !(isCloseEvent(error) && error.code === FORBIDDEN),
      connectionParams: async () => {
        const authorization = await this.options.authorization();
        return authorization ? { Authorization: authorization } : {};
      },
      on: { connected: () => (this.wsConnectedOnce = true) },
      ...(this.options.webSocketImpl ? { webSocketImpl: this.options.webSocketImpl } : {}),
    });
    return this.ws;
  }

  private sseClient(): SseClient {
    this.sse ??= createSseClient({
      url: this.options.sseUrl,
      fetchFn: this.options.fetch,
      headers: async (): Promise<Record<string, string>> => {
        const authorization = await this.options.authorization();
        return authorization ? { Authorization: authorization } : {};
      },
    });
    return this.sse;
  }
}

function isCloseEvent(error: unknown): error is { code: number; reason: string } {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "number";
}

export interface WatchOptions {
  /** Called with the transport each (re)subscription uses: "websocket", or "sse" after a fallback. */
  onTransport?: (transport: Transport) => void;
}

/**
 * Statuses of `executionId` as they change, ending after a terminal one. `select` picks the
 * execution out of a result and throws for a missing one; `isTerminal` says when to stop.
 */
export async function* watch<TData, TExecution extends { isTerminal: boolean }>(
  subscriptions: Subscriptions,
  query: string,
  variables: Record<string, unknown>,
  select: (data: TData | null | undefined) => TExecution,
  options: WatchOptions = {},
): AsyncGenerator<TExecution, void, undefined> {
  let transport = subscriptions.preferred;
  let last: string | undefined;
  let resumes = 0;
  for (;;) {
    options.onTransport?.(transport);
    const stream = subscriptions.subscribe<TData>(transport, query, variables);
    try {
      for await (const result of stream) {
        if (result.errors && result.errors.length > 0) throw fromGraphQLErrors(result.errors);
        const execution = select(result.data);
        resumes = 0;
        const seen = JSON.stringify(execution);
        if (seen !== last) {
          last = seen;
          yield execution;
        }
        if (execution.isTerminal) return;
      }
    } catch (error) {
      if (!(error instanceof TransportFailed)) throw error;
      if (transport === "sse") {
        throw new ExperiencePlaneError("NETWORK_ERROR", "Neither WebSocket nor SSE could follow the execution", {
          cause: error.cause,
        });
      }
      transport = "sse";
      continue;
    } finally {
      await stream.return?.();
    }
    // The stream completed before a terminal status: the server is shutting down. Subscribe
    // again (on the same transport) once it is likely back.
    resumes += 1;
    if (resumes > MAX_RESUMES) {
      throw new ExperiencePlaneError("NETWORK_ERROR", "The execution's status stream kept ending early");
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** resumes, 5000)));
  }
}
