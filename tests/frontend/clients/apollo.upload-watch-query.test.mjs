// Apollo Client 4: upload a file with apollo-upload-client, follow its execution over
// GraphQLWsLink to COMPLETED, then query its status and artifact.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, test } from "node:test";
import { apolloClient, status, uploadAndWatch } from "./apollo-flow.mjs";

const client = apolloClient();
after(() => client.stop());

test("upload, watch to COMPLETED over GraphQLWsLink, query executionStatus", async () => {
  const id = await uploadAndWatch(client, "customers.csv", "text/csv");
  const execution = await status(client, id);
  assert.equal(execution.state, "COMPLETED");
  const [artifact] = execution.artifacts;
  assert.equal(artifact.__typename, "ContentFile");
  assert.equal(artifact.name, "customers.csv");
  assert.equal(artifact.size, readFileSync(new URL("../../../examples/customers.csv", import.meta.url)).length);
  assert.equal(artifact.rowCount, 6);
});
