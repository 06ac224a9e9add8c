// GraphQL over HTTP: JSON POSTs and multipart uploads (the GraphQL multipart request spec).
// Browsers upload through XMLHttpRequest, the one browser API that reports upload progress;
// elsewhere (Node) the multipart body is streamed to `fetch`, and progress is counted as the
// body is read.
import type { GraphQLFormattedError } from "graphql";

import { ExperiencePlaneError, fromGraphQLErrors } from "./errors.js";

const ACCEPT = "application/graphql-response+json, application/json;q=0.9";
// Multipart POSTs are "simple" requests; the server's CSRF guard wants this header on them.
const PREFLIGHT_HEADER = "GraphQL-Preflight";

export interface GraphQLResponse<TData> {
  data?: TData | null;
  errors?: readonly GraphQLFormattedError[];
}

export interface UploadProgress {
  /** Bytes of the request body sent so far. */
  loaded: number;
  /** The request body's size in bytes. */
  total: number;
}

export interface HttpOptions {
  url: string;
  fetch: typeof fetch;
  headers: () => Promise<Record<string, string>>;
}

export async function postJson<TData>(
  http: HttpOptions,
  query: string,
  variables: object,
  signal?: AbortSignal,
): Promise<TData> {
  const headers = { ...(await http.headers()), "content-type": "application/json", accept: ACCEPT };
  let response: Response;
  try {
    response = await http.fetch(http.url, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    throw networkError(error, http.url);
  }
  return readResult<TData>(response.status, await response.text());
}

/** The result's `data`, or the typed error its `errors` (or its HTTP status) stand for. */
export function readResult<TData>(status: number, text: string): TData {
  let body: GraphQLResponse<TData>;
  try {
    body = JSON.parse(text) as GraphQLResponse<TData>;
  } catch (error) {
    throw new ExperiencePlaneError("NETWORK_ERROR", `HTTP ${status}: the answer was not JSON`, {
      status,
      cause: error,
    });
  }
  if (body.errors && body.errors.length > 0) throw fromGraphQLErrors(body.errors, status);
  if (status >= 400 || body.data == null) {
    throw new ExperiencePlaneError("NETWORK_ERROR", `HTTP ${status} without GraphQL data`, { status });
  }
  return body.data;
}

function networkError(error: unknown, url: string): ExperiencePlaneError {
  if (error instanceof DOMException && error.name === "AbortError") {
    return new ExperiencePlaneError("ABORTED", "The request was aborted", { cause: error });
  }
  return new ExperiencePlaneError("NETWORK_ERROR", `Could not reach ${url}`, { cause: error });
}

export interface MultipartOptions {
  onProgress?: ((progress: UploadProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** POST `query` with `file` as `variables.file`, per the GraphQL multipart request spec. */
export async function postMultipart<TData>(
  http: HttpOptions,
  query: string,
  variables: object,
  file: Blob,
  filename: string,
  options: MultipartOptions,
): Promise<TData> {
  const headers = { ...(await http.headers()), accept: ACCEPT, [PREFLIGHT_HEADER]: "1" };
  const form = new FormData();
  form.append("operations", JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append("map", JSON.stringify({ "0": ["variables.file"] }));
  form.append("0", file, filename);
  if (typeof XMLHttpRequest !== "undefined") {
    return sendWithXhr<TData>(http.url, headers, form, options);
  }
  return sendWithFetch<TData>(http, headers, form, options);
}

function sendWithXhr<TData>(
  url: string,
  headers: Record<string, string>,
  form: FormData,
  options: MultipartOptions,
): Promise<TData> {
  return new Promise<TData>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) options.onProgress?.({ loaded: event.loaded, total: event.total });
    };
    xhr.onload = () => {
      try {
        resolve(readResult<TData>(xhr.status, xhr.responseText));
      } catch (error) {
        reject(error);
      }
    };
    xhr.onerror = () => reject(new ExperiencePlaneError("NETWORK_ERROR", `Could not reach ${url}`));
    xhr.onabort = () => reject(new ExperiencePlaneError("ABORTED", "The upload was aborted"));
    options.signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}

async function sendWithFetch<TData>(
  http: HttpOptions,
  headers: Record<string, string>,
  form: FormData,
  options: MultipartOptions,
): Promise<TData> {
  // Serialise the form once (the Response API computes the boundary) to learn its size, then
  // hand it to fetch a chunk at a time, reporting each chunk as it is read for sending.
  const encoded = new Response(form);
  const contentType = encoded.headers.get("content-type") ?? "multipart/form-data";
  const body = await encoded.blob();
  const total = body.size;
  let loaded = 0;
  const counted = body.stream().pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        controller.enqueue(chunk);
        loaded += chunk.byteLength;
        options.onProgress?.({ loaded, total });
      },
    }),
  );
  let response: Response;
  try {
    response = await http.fetch(http.url, {
      method: "POST",
      headers: { ...headers, "content-type": contentType },
      body: counted,
      // A streamed request body must say so (Fetch spec); the DOM typings predate the option.
      duplex: "half",
      ...(options.signal ? { signal: options.signal } : {}),
    } as RequestInit);
  } catch (error) {
    throw networkError(error, http.url);
  }
  return readResult<TData>(response.status, await response.text());
}
