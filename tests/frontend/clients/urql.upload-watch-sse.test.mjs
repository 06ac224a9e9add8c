// urql with no WebSocket: upload over fetch, follow the execution over graphql-sse (Server-Sent
// Events) to COMPLETED, then query its status.
import assert from "node:assert/strict";
import { test } from "node:test";
import { status, uploadAndWatch, urqlSseClient } from "./urql-flow.mjs";

test("upload, watch to COMPLETED over graphql-sse, query executionStatus", async () => {
  const client = urqlSseClient();
  const id = await uploadAndWatch(client, "policies.json", "application/json");
  const execution = await status(client, id);
  assert.equal(execution.state, "COMPLETED");
  const [artifact] = execution.artifacts;
  assert.equal(artifact.__typename, "ContentFile");
  assert.equal(artifact.name, "policies.json");
});
