// Apollo Client 4's PersistedQueryLink (Automatic Persisted Queries, POST): the first request
// of a query is its hash alone and gets PERSISTED_QUERY_NOT_FOUND, the link registers it by
// sending the query, and from then on the hash alone is answered.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, test } from "node:test";
import { gql } from "@apollo/client";
import { createPersistedApolloClient } from "./snippets/persisted.mjs";
import { api, possibleTypes } from "./support.mjs";
import { recordFetches } from "./wire.mjs";

const wire = recordFetches();
after(() => wire.restore());

// A query no other test sends (its alias is unique), so the server cannot know it yet.
const alias = `status_${randomUUID().replaceAll("-", "")}`;
const QUERY = gql`query Unknown($id: ID!) { ${alias}: executionStatus(executionId: $id) { id state } }`;

async function run() {
  const client = createPersistedApolloClient({ ...api, possibleTypes: possibleTypes() });
  try {
    const { data } = await client.query({ query: QUERY, variables: { id: "no-such-execution" } });
    assert.deepEqual(data, { [alias]: null });
  } finally {
    client.stop();
  }
}

test("a new query registers itself, then its hash alone is a hit", async () => {
  await run();
  assert.equal(wire.length, 2, JSON.stringify(wire, null, 2));
  const [miss, register] = wire;
  assert.equal(miss.method, "POST");
  assert.equal(miss.sent.query, undefined, "the first request is the hash alone");
  assert.match(miss.sent.extensions.persistedQuery.sha256Hash, /^[0-9a-f]{64}$/);
  assert.equal(miss.answer.errors[0].extensions.code, "PERSISTED_QUERY_NOT_FOUND");
  assert.match(register.sent.query, new RegExp(alias));
  assert.deepEqual(register.answer.data, { [alias]: null });

  await run(); // a new client, an empty cache: the request goes to the server again
  assert.equal(wire.length, 3, JSON.stringify(wire.slice(2), null, 2));
  const hit = wire[2];
  assert.equal(hit.sent.query, undefined, "a hit is the hash alone");
  assert.equal(
    hit.sent.extensions.persistedQuery.sha256Hash,
    miss.sent.extensions.persistedQuery.sha256Hash,
  );
  assert.deepEqual(hit.answer, { data: { [alias]: null } });
});
