// urql: mash two uploads, follow the mash to COMPLETED, page through its records.
import assert from "node:assert/strict";
import { test } from "node:test";
import { gql } from "@urql/core";
import { dataOf, status, uploadAndWatch, urqlClient, watch } from "./urql-flow.mjs";
import { CREATE_MASH, EXAMPLES, RECORDS } from "./support.mjs";

test("create a mash of two uploads and page its records", async () => {
  const client = urqlClient();
  const fileIds = [];
  for (const [name, type] of EXAMPLES) {
    const execution = await status(client, await uploadAndWatch(client, name, type));
    fileIds.push(execution.artifacts[0].fileId);
  }

  const input = { contentRefs: fileIds, targetDomain: "insurance", name: "urql mash" };
  const { createDataMash } = dataOf(await client.mutation(gql(CREATE_MASH), { input }).toPromise());
  assert.equal(createDataMash.__typename, "ExecutionAccepted", JSON.stringify(createDataMash));
  const id = createDataMash.execution.id;
  const events = await watch(client, id);
  assert.equal(events.at(-1).state, "COMPLETED", JSON.stringify(events));

  const seen = [];
  let after = null;
  let total;
  do {
    const page = dataOf(await client.query(gql(RECORDS), { id, first: 4, after }).toPromise());
    const [mash] = page.executionStatus.artifacts;
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
});
