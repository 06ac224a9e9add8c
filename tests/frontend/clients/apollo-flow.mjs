// Apollo Client steps the Apollo scenarios share, on the client snippets/apollo.mjs builds.
import assert from "node:assert/strict";
import { gql } from "@apollo/client";
import WebSocket from "ws";
import { createApolloClient } from "./snippets/apollo.mjs";
import { api, collect, exampleFile, possibleTypes, STATUS, UPLOAD, WATCH } from "./support.mjs";

export function apolloClient() {
  return createApolloClient({ ...api, possibleTypes: possibleTypes(), webSocketImpl: WebSocket });
}

/** Every event of the execution's subscription, to its completion. */
export function watch(client, id) {
  return collect((observer) => {
    const subscription = client
      .subscribe({ query: gql(WATCH), variables: { id } })
      .subscribe({
        next: ({ data, error }) =>
          error ? observer.error(error) : observer.next(data.executionStatus),
        error: observer.error,
        complete: observer.complete,
      });
    return () => subscription.unsubscribe();
  });
}

/** Upload one of examples/, watch it to COMPLETED over the WebSocket; its execution id. */
export async function uploadAndWatch(client, name, type) {
  const { data } = await client.mutate({
    mutation: gql(UPLOAD),
    variables: { file: exampleFile(name, type) },
  });
  const result = data.uploadContent;
  assert.equal(result.__typename, "ExecutionAccepted", JSON.stringify(result));
  assert.equal(result.execution.intentType, "content.upload");
  const events = await watch(client, result.execution.id);
  // The Runtime's phases are slowed by the tests: the subscription sees the upload change.
  assert.ok(events.length >= 2, `one event only: ${JSON.stringify(events)}`);
  assert.equal(events.at(-1).state, "COMPLETED", JSON.stringify(events));
  assert.equal(events.at(-1).isTerminal, true);
  return result.execution.id;
}

/** The execution's status, straight from the server. */
export async function status(client, id) {
  const { data } = await client.query({
    query: gql(STATUS),
    variables: { id },
    fetchPolicy: "network-only",
  });
  return data.executionStatus;
}
