// urql: a result union's `... on Error { code message }`, read through urql's document cache.
import assert from "node:assert/strict";
import { test } from "node:test";
import { gql } from "@urql/core";
import { dataOf, urqlClient } from "./urql-flow.mjs";
import { CREATE_MASH } from "./support.mjs";

test("a typed error's code and message", async () => {
  const client = urqlClient();
  const result = await client.mutation(gql(CREATE_MASH), { input: { contentRefs: [] } }).toPromise();
  const { createDataMash: error } = dataOf(result);
  assert.equal(error.__typename, "InvalidInputError");
  assert.equal(error.code, "INVALID_INPUT");
  assert.equal(error.field, "contentRefs");
  assert.match(error.message, /content ref/);
});
