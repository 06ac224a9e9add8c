// graphql-http's `serverAudits`, the GraphQL over HTTP spec authors' own suite, against the
// API: every audit passes, with no warnings. The figures are printed for the record.
import assert from "node:assert/strict";
import { test } from "node:test";
import { serverAudits } from "graphql-http";
import { api } from "./support.mjs";

// An app's fetch, as snippets/urql.mjs configures it: the token and the preflight header on
// every request (the audits choose their own Accept and Content-Type).
function fetchWithToken(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${api.token}`);
  headers.set("GraphQL-Preflight", "1");
  return fetch(input, { ...init, headers });
}

test("graphql-http server audits: all pass, no warnings", async () => {
  const audits = serverAudits({ url: api.url, fetchFn: fetchWithToken });
  const results = [];
  for (const audit of audits) results.push({ ...audit, result: await audit.fn() });
  const ok = results.filter(({ result }) => result.status === "ok");
  const warnings = results.filter(({ result }) => result.status === "warn");
  const errors = results.filter(({ result }) => result.status === "error");
  console.log(
    `graphql-http audit: ${ok.length}/${results.length} ok, ` +
      `${warnings.length} warnings, ${errors.length} errors`,
  );
  const failures = [...warnings, ...errors].map(
    ({ id, name, result }) => `${result.status} ${id} ${name}: ${result.reason}`,
  );
  assert.deepEqual(failures, []);
  assert.equal(ok.length, results.length);
});
