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
});
