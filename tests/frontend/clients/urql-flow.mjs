// urql steps the urql scenarios share, on the clients snippets/urql.mjs builds.
import assert from "node:assert/strict";
import { gql } from "@urql/core";
import WebSocket from "ws";
import { createUrqlClient, createUrqlSseClient } from "./snippets/urql.mjs";
import { api, collect, exampleFile, STATUS, UPLOAD, WATCH } from "./support.mjs";

export function urqlClient() {
  return createUrqlClient({ ...api, webSocketImpl: WebSocket });
}

export function urqlSseClient() {
  return createUrqlSseClient(api);
}

/** The operation's data; fails on a network or GraphQL error. */
export function dataOf(result) {
  assert.ok(!result.error, `${result.error}`);
  return result.data;
}

/** Every event of the execution's subscription, to its completion. */
export function watch(client, id) {
  return collect((observer) => {
    const { unsubscribe } = client.subscription(gql(WATCH), { id }).subscribe((result) => {
      if (result.error) observer.error(result.error);
      else observer.next(result.data.executionStatus);
      // urql's sources end silently: the last event of a completed subscription is terminal.
      if (!result.error && result.data.executionStatus.isTerminal) observer.complete();
    });
    return unsubscribe;
  });
}

/** Upload one of examples/ and watch it to COMPLETED; its execution id. */
export async function uploadAndWatch(client, name, type) {
  const { uploadContent: result } = dataOf(
    await client.mutation(gql(UPLOAD), { file: exampleFile(name, type) }).toPromise(),
  );
  assert.equal(result.__typename, "ExecutionAccepted", JSON.stringify(result));
  assert.equal(result.execution.intentType, "content.upload");
  const events = await watch(client, result.execution.id);
  // The Runtime's phases are slowed by the tests: the subscription sees the upload change.
  assert.ok(events.length >= 2, `one event only: ${JSON.stringify(events)}`);
  assert.equal(events.at(-1).state, "COMPLETED", JSON.stringify(events));
  return result.execution.id;
}

/** The execution's status, straight from the server. */
export async function status(client, id) {
  const result = await client.query(gql(STATUS), { id }, { requestPolicy: "network-only" }).toPromise();
  return dataOf(result).executionStatus;
}
