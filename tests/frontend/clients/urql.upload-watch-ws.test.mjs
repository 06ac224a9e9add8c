// urql: upload a file over fetch (multipart), follow its execution over graphql-ws to
// COMPLETED, then query its status and artifact.
import assert from "node:assert/strict";
import { test } from "node:test";
import { status, uploadAndWatch, urqlClient } from "./urql-flow.mjs";

test("upload, watch to COMPLETED over graphql-ws, query executionStatus", async () => {
  const client = urqlClient();
  const id = await uploadAndWatch(client, "customers.csv", "text/csv");
  const execution = await status(client, id);
  assert.equal(execution.state, "COMPLETED");
  const [artifact] = execution.artifacts;
  assert.equal(artifact.__typename, "ContentFile");
  assert.equal(artifact.name, "customers.csv");
  assert.equal(artifact.rowCount, 6);
});
