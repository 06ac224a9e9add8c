// Apollo Client 4 with no WebSocket: upload, then follow the execution to COMPLETED over HTTP
// multipart subscriptions (Accept: multipart/mixed;subscriptionSpec=1.0), then query it.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { status, uploadAndWatch } from "./apollo-flow.mjs";
import { createApolloHttpOnlyClient } from "./snippets/apollo.mjs";
import { api, possibleTypes } from "./support.mjs";

const client = createApolloHttpOnlyClient({ ...api, possibleTypes: possibleTypes() });
after(() => client.stop());

test("upload, watch to COMPLETED over multipart HTTP, query executionStatus", async () => {
  const id = await uploadAndWatch(client, "customers.csv", "text/csv");
  const execution = await status(client, id);
  assert.equal(execution.state, "COMPLETED");
  assert.equal(execution.artifacts[0].name, "customers.csv");
});
