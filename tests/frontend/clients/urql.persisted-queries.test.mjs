// urql's persistedExchange (Automatic Persisted Queries, GET by default): a miss answered
// PERSISTED_QUERY_NOT_FOUND, the query registered, then its hash alone is a hit.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, test } from "node:test";
import { gql } from "@urql/core";
import { createPersistedUrqlClient } from "./snippets/persisted.mjs";
import { api } from "./support.mjs";
import { recordFetches } from "./wire.mjs";

const wire = recordFetches();
after(() => wire.restore());

const alias = `status_${randomUUID().replaceAll("-", "")}`;
const QUERY = gql`query Unknown($id: ID!) { ${alias}: executionStatus(executionId: $id) { id state } }`;

async function run() {
  const client = createPersistedUrqlClient(api);
  const result = await client.query(QUERY, { id: "no-such-execution" }).toPromise();
  assert.ok(!result.error, `${result.error}`);
  assert.deepEqual(result.data, { [alias]: null });
}

test("a new query registers itself, then its hash alone is a hit", async () => {
  await run();
  assert.equal(wire.length, 2, JSON.stringify(wire, null, 2));
  const [miss, register] = wire;
  assert.equal(miss.method, "GET");
  assert.equal(miss.sent.query, undefined, "the first request is the hash alone");
  assert.match(miss.sent.extensions.persistedQuery.sha256Hash, /^[0-9a-f]{64}$/);
  assert.equal(miss.answer.errors[0].extensions.code, "PERSISTED_QUERY_NOT_FOUND");
  assert.match(register.sent.query, new RegExp(alias));
  assert.deepEqual(register.answer.data, { [alias]: null });

  await run();
  assert.equal(wire.length, 3, JSON.stringify(wire.slice(2), null, 2));
  const hit = wire[2];
  assert.equal(hit.method, "GET");
  assert.equal(hit.sent.query, undefined, "a hit is the hash alone");
  assert.deepEqual(hit.answer, { data: { [alias]: null } });
});
