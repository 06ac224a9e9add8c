// graphql-ws's and graphql-sse's own clients following one execution across a replica restart.
// Usage: node resubscribe.mjs <ws|sse> <executionId> <token> <urlA> <urlB>
// The clients get a URL function, as an app behind a load balancer would: replica A until it
// has closed a connection once, then replica B. Prints one JSON line per event:
// {"event":"connected","url":…}, {"event":"next","state":…}, {"event":"closed","code":…},
// then {"event":"complete"} or {"event":"error","message":…}.
import { createClient as createWsClient } from "graphql-ws";
import { createClient as createSseClient } from "graphql-sse";
import WebSocket from "ws";

const [transport, executionId, token, urlA, urlB] = process.argv.slice(2);
const query = `subscription ($id: ID!) { executionStatus(executionId: $id) { state isTerminal } }`;
let lost = false;
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const currentUrl = () => (lost ? urlB : urlA);

function wsClient() {
  return createWsClient({
    url: () => currentUrl(),
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 10,
    retryWait: async () => new Promise((resolve) => setTimeout(resolve, 300)),
    on: {
      connected: () => say({ event: "connected", url: currentUrl() }),
      closed: (event) => {
        say({ event: "closed", code: event.code, reason: event.reason });
        lost = true;
      },
    },
  });
}

function sseClient() {
  return createSseClient({
    url: () => currentUrl(),
    headers: { Authorization: `Bearer ${token}` },
    retryAttempts: 10,
    retry: async () => new Promise((resolve) => setTimeout(resolve, 300)),
    fetchFn: async (url, init) => {
      try {
        const response = await fetch(url, init);
        say({ event: "connected", url: String(url) });
        return response;
      } catch (error) {
        lost = true;
        throw error;
      }
    },
    on: {
      // Called when a stream ended without `complete` and the client is about to retry.
      connecting: (reconnecting) => {
        if (reconnecting) {
          say({ event: "closed", code: null });
          lost = true;
        }
      },
    },
  });
}

const client = transport === "ws" ? wsClient() : sseClient();
const timer = setTimeout(() => {
  say({ event: "error", message: "timed out" });
  process.exit(1);
}, 60_000);
client.subscribe(
  { query, variables: { id: executionId } },
  {
    next: (result) => {
      if (result.errors) say({ event: "next", errors: result.errors });
      else say({ event: "next", state: result.data.executionStatus.state });
    },
    error: (error) => {
      say({ event: "error", message: String(error?.message ?? error?.reason ?? error) });
      clearTimeout(timer);
      process.exit(1);
    },
    complete: () => {
      say({ event: "complete" });
      clearTimeout(timer);
      client.dispose();
      process.exit(0);
    },
  },
);
