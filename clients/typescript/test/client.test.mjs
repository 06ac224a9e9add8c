// The built client (dist/) against a real API and reference Runtime. The pytest module
// tests/frontend/test_typescript_client.py starts both and runs `npm test` with
// EXPERIENCE_GRAPHQL_URL and EXPERIENCE_TOKEN set.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, describe, it } from "node:test";

import { ExperiencePlaneClient, ExperiencePlaneError } from "../dist/index.js";

const url = process.env.EXPERIENCE_GRAPHQL_URL;
const token = process.env.EXPERIENCE_TOKEN;
assert.ok(url && token, "EXPERIENCE_GRAPHQL_URL and EXPERIENCE_TOKEN must be set");
const examples = new URL("../../../examples/", import.meta.url);
// The reference Runtime's test controls (`/_control/faults`), to make work slow enough to cancel.
const runtimeControl = process.env.EXPERIENCE_RUNTIME_CONTROL_URL;

const client = new ExperiencePlaneClient({ url, getToken: () => token });
// Nothing listens on port 1: the WebSocket fails at once and the watch must move to SSE.
const sseOnly = new ExperiencePlaneClient({ url, wsUrl: "ws://127.0.0.1:1/graphql", getToken: () => token });
after(() => Promise.all([client.close(), sseOnly.close()]));

async function exampleFile(name, type) {
  return new File([await readFile(new URL(name, examples))], name, { type });
}

async function watchToEnd(api, executionId) {
  const transports = [];
  const states = [];
  let last;
  for await (const execution of api.watchExecution(executionId, { onTransport: (t) => transports.push(t) })) {
    states.push(execution.state);
    last = execution;
  }
  return { transports, states, last };
}

async function uploadCompleted(name, type) {
  const execution = await client.uploadContent(await exampleFile(name, type));
  const { last } = await watchToEnd(client, execution.executionId);
  assert.equal(last.state, "COMPLETED");
  const file = last.artifacts.find((artifact) => artifact.__typename === "ContentFile");
  assert.ok(file, "a completed upload has its file as an artifact");
  return file;
}

describe("@experience-plane/client against a real API", () => {
  it("uploads with progress, watches over graphql-ws to COMPLETED, then queries the status", async () => {
    const file = await exampleFile("customers.csv", "text/csv");
    const progress = [];
    const execution = await client.uploadContent(file, { onProgress: (p) => progress.push(p) });
    assert.equal(execution.intentType, "content.upload");
    assert.ok(progress.length > 0, "onProgress was called");
    const final = progress.at(-1);
    assert.equal(final.loaded, final.total);
    assert.ok(final.total > file.size, "the multipart body carries the whole file");

    const { transports, states, last } = await watchToEnd(client, execution.executionId);
    assert.deepEqual(transports, ["websocket"]);
    assert.equal(states.at(-1), "COMPLETED");
    assert.equal(last.isTerminal, true);
    assert.equal(last.stale, false);

    const status = await client.executionStatus(execution.executionId);
    assert.equal(status.state, "COMPLETED");
    assert.equal(status.failure, null);
    // `id` is the opaque global id; it names the same execution.
    assert.notEqual(status.id, status.executionId);
    assert.equal((await client.executionStatus(status.id)).executionId, status.executionId);
    // DateTime: RFC 3339 in UTC with Z, which Date reads.
    assert.match(status.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(new Date(status.createdAt).toISOString(), status.createdAt);
    const [artifact] = status.artifacts;
    assert.equal(artifact.__typename, "ContentFile");
    assert.equal(artifact.name, "customers.csv");
    assert.equal(artifact.size, file.size);
    assert.ok(artifact.columns.some((column) => column.name === "customer_id"));
  });

  it("mashes two uploads, follows it over SSE when the WebSocket fails, and pages every record", async () => {
    const customers = await uploadCompleted("customers.csv", "text/csv");
    const policies = await uploadCompleted("policies.json", "application/json");
    const mash = await client.createDataMash({
      contentRefs: [customers.fileId, policies.fileId],
      targetDomain: "insurance",
      name: "customers and policies",
    });
    assert.equal(mash.intentType, "data_mash.create");

    const { transports, last } = await watchToEnd(sseOnly, mash.executionId);
    assert.deepEqual(transports, ["websocket", "sse"]);
    assert.equal(last.state, "COMPLETED");
    const dataMash = last.artifacts.find((artifact) => artifact.__typename === "DataMash");
    assert.ok(dataMash.rowCount > 2, "enough records for several pages");

    const records = [];
    for await (const record of client.mashRecords(mash.executionId, { pageSize: 2 })) records.push(record);
    assert.equal(records.length, dataMash.rowCount);
    assert.ok(records.every((record) => typeof record === "object" && record !== null));
  });

  it("reports why a mash failed with a stable failure code", async () => {
    const mash = await client.createDataMash({ contentRefs: ["file_never_uploaded"] });
    const { last } = await watchToEnd(client, mash.executionId);
    assert.equal(last.state, "FAILED");
    assert.equal(last.failure.code, "UNKNOWN_CONTENT_REF");
    assert.match(last.failure.message, /file_never_uploaded/);
  });

  it("reuses one idempotency key: the same action twice is one execution", async () => {
    const key = crypto.randomUUID();
    const file = await exampleFile("customers.csv", "text/csv");
    const first = await client.uploadContent(file, { idempotencyKey: key });
    const again = await client.uploadContent(file, { idempotencyKey: key });
    assert.equal(again.id, first.id);
    await assert.rejects(
      client.uploadContent(await exampleFile("policies.json", "application/json"), { idempotencyKey: key }),
      (error) => error instanceof ExperiencePlaneError && error.code === "IDEMPOTENCY_CONFLICT",
    );
  });

  it("throws typed errors carrying the schema's codes", async () => {
    const missing = "missing-" + crypto.randomUUID();
    await assert.rejects(client.executionStatus(missing), (error) => {
      assert.ok(error instanceof ExperiencePlaneError);
      assert.equal(error.code, "NOT_FOUND");
      return true;
    });
    await assert.rejects(
      (async () => {
        for await (const _ of client.watchExecution(missing)) assert.fail("no event for an unknown id");
      })(),
      (error) => error instanceof ExperiencePlaneError && error.code === "NOT_FOUND",
    );
    await assert.rejects(client.createDataMash({ contentRefs: [] }), (error) => {
      assert.ok(error instanceof ExperiencePlaneError);
      assert.equal(error.code, "INVALID_INPUT");
      assert.equal(error.retryable, false);
      assert.equal(typeof error.idempotencyKey, "string");
      return true;
    });
    const anonymous = new ExperiencePlaneClient({ url, getToken: () => "not-a-token" });
    await assert.rejects(
      anonymous.executionStatus(missing),
      (error) => error instanceof ExperiencePlaneError && error.code === "UNAUTHENTICATED" && error.status === 401,
    );
    await anonymous.close();
  });

  it("lists your executions newest first, a page at a time both ways, with filters", async () => {
    const started = [];
    for (let n = 0; n < 3; n++) {
      const execution = await client.uploadContent(await exampleFile("customers.csv", "text/csv"));
      await watchToEnd(client, execution.executionId);
      started.push(execution.executionId);
    }
    const newest = [...started].reverse();
    const first = await client.executionsPage({ first: 2, filter: { intentTypes: ["content.upload"] } });
    assert.deepEqual(first.executions.map((e) => e.executionId), newest.slice(0, 2));
    assert.equal(first.hasNextPage, true);
    assert.equal(first.cursors.at(-1), first.endCursor);
    assert.ok(first.totalCount >= 3);
    const second = await client.executionsPage({ first: 1, after: first.endCursor });
    assert.equal(second.executions[0].executionId, newest[2]);
    const back = await client.executionsPage({ last: 2, before: second.startCursor });
    assert.deepEqual(back.executions.map((e) => e.executionId), newest.slice(0, 2));
    const pages = [];
    for await (const page of client.listExecutions({ pageSize: 2, filter: { states: ["COMPLETED"] } })) {
      pages.push(page);
    }
    const listed = pages.flatMap((page) => page.executions);
    assert.deepEqual(listed.slice(0, 3).map((e) => e.executionId), newest);
    assert.ok(listed.every((e) => e.state === "COMPLETED"));
    assert.equal(listed.length, pages[0].totalCount);
    await assert.rejects(
      client.executionsPage({ after: "not-a-cursor" }),
      (error) => error instanceof ExperiencePlaneError && error.code === "INVALID_INPUT",
    );
  });

  it("cancels running work, which a watch sees end CANCELLED; finished or unknown ones are typed errors", async () => {
    assert.ok(runtimeControl, "EXPERIENCE_RUNTIME_CONTROL_URL must be set");
    const faults = (body) =>
      fetch(`${runtimeControl}/_control/faults`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    await faults({ step_delay: 0.5 });
    try {
      const execution = await client.uploadContent(await exampleFile("customers.csv", "text/csv"));
      const watching = watchToEnd(client, execution.executionId);
      const cancelled = await client.cancelExecution(execution.id);
      assert.equal(cancelled.executionId, execution.executionId);
      const { last } = await watching;
      assert.equal(last.state, "CANCELLED");
      assert.equal(last.failure.code, "CANCELLED_BY_USER");
      await assert.rejects(
        client.cancelExecution(execution.executionId),
        (error) => error instanceof ExperiencePlaneError && error.code === "ALREADY_FINISHED",
      );
    } finally {
      await faults({ step_delay: 0 });
    }
    await assert.rejects(
      client.cancelExecution("missing-" + crypto.randomUUID()),
      (error) => error instanceof ExperiencePlaneError && error.code === "NOT_FOUND",
    );
  });
});
