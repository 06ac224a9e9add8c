// Apollo Client 4: mash two uploads, follow the mash to COMPLETED, page through its records.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { gql } from "@apollo/client";
import { apolloClient, status, uploadAndWatch, watch } from "./apollo-flow.mjs";
import { CREATE_MASH, EXAMPLES, RECORDS } from "./support.mjs";

const client = apolloClient();
after(() => client.stop());

test("create a mash of two uploads and page its records", async () => {
  const fileIds = [];
  for (const [name, type] of EXAMPLES) {
    const execution = await status(client, await uploadAndWatch(client, name, type));
    fileIds.push(execution.artifacts[0].fileId);
  }

  const { data } = await client.mutate({
    mutation: gql(CREATE_MASH),
    variables: { input: { contentRefs: fileIds, targetDomain: "insurance", name: "Apollo mash" } },
  });
  assert.equal(data.createDataMash.__typename, "ExecutionAccepted", JSON.stringify(data));
  const id = data.createDataMash.execution.id;
  const events = await watch(client, id);
  assert.equal(events.at(-1).state, "COMPLETED", JSON.stringify(events));

  const seen = [];
  let after = null;
  let total;
  do {
    const page = await client.query({
      query: gql(RECORDS),
      variables: { id, first: 4, after },
      fetchPolicy: "network-only",
    });
    const [mash] = page.data.executionStatus.artifacts;
    assert.equal(mash.__typename, "DataMash");
    const { edges, pageInfo, totalCount } = mash.records;
    total = totalCount;
    assert.equal(totalCount, mash.rowCount);
    assert.ok(edges.length <= 4);
    seen.push(...edges.map((edge) => edge.node));
    after = pageInfo.hasNextPage ? pageInfo.endCursor : null;
  } while (after !== null);
  assert.ok(total > 4, `only ${total} records: paging was not exercised`);
  assert.equal(seen.length, total);
  assert.ok(seen.every((record) => typeof record === "object" && record !== null));
});
