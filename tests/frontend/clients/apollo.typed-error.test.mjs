// Apollo Client 4: a result union's `... on Error { code message }` read through the cache.
// Apollo's cache only matches a fragment on an interface when it knows the implementations,
// so the `possibleTypes` of schema/possible-types.json are what make `code` reach the app.
import assert from "node:assert/strict";
import { test } from "node:test";
import { gql } from "@apollo/client";
import WebSocket from "ws";
import { apolloClient } from "./apollo-flow.mjs";
import { createApolloClient } from "./snippets/apollo.mjs";
import { api, CREATE_MASH } from "./support.mjs";

const invalidMash = { mutation: gql(CREATE_MASH), variables: { input: { contentRefs: [] } } };

test("a typed error's code and message come through the cache with possibleTypes", async () => {
  const client = apolloClient();
  try {
    const { data } = await client.mutate(invalidMash);
    assert.deepEqual(data.createDataMash, {
      __typename: "InvalidInputError",
      code: "INVALID_INPUT",
      message: data.createDataMash.message,
      field: "contentRefs",
    });
    assert.match(data.createDataMash.message, /content ref/);
  } finally {
    client.stop();
  }
});

test("without possibleTypes the cache drops them (why the repository ships the file)", async () => {
  const client = createApolloClient({ ...api, webSocketImpl: WebSocket });
  try {
    const { data } = await client.mutate(invalidMash);
    assert.equal(data.createDataMash.__typename, "InvalidInputError");
    assert.equal(data.createDataMash.code, undefined);
  } finally {
    client.stop();
  }
});
