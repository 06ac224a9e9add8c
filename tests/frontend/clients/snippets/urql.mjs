// The urql setups README.md shows under "For frontend teams"; the tests import them as they are.
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";
import { createClient as createSSEClient } from "graphql-sse";
import { createClient as createWSClient } from "graphql-ws";

// Queries and mutations (file uploads included) over fetch, subscriptions over graphql-ws.
// `GraphQL-Preflight`: urql sends uploads as multipart/form-data and short queries as GET, which
// browsers send cross-site without a preflight; the API refuses those (CSRF) without the header.
// webSocketImpl: leave it out in browsers; in Node pass `WebSocket` from the `ws` package.
export function createUrqlClient({ url, wsUrl, token, webSocketImpl }) {
  const wsClient = createWSClient({
    url: wsUrl,
    connectionParams: { Authorization: `Bearer ${token}` },
    webSocketImpl,
  });
  return new Client({
    url,
    fetchOptions: { headers: { Authorization: `Bearer ${token}`, "GraphQL-Preflight": "1" } },
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || "" };
          return { subscribe: (sink) => ({ unsubscribe: wsClient.subscribe(input, sink) }) };
        },
      }),
    ],
  });
}

// The same, with subscriptions over Server-Sent Events (graphql-sse): no WebSocket at all.
export function createUrqlSseClient({ url, token }) {
  const sseClient = createSSEClient({ url, headers: { Authorization: `Bearer ${token}` } });
  return new Client({
    url,
    fetchOptions: { headers: { Authorization: `Bearer ${token}`, "GraphQL-Preflight": "1" } },
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || "" };
          return { subscribe: (sink) => ({ unsubscribe: sseClient.subscribe(input, sink) }) };
        },
      }),
    ],
  });
}
