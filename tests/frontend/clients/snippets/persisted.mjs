// The persisted-query setups README.md shows under "For frontend teams"; the tests import them.
import { ApolloClient, HttpLink, InMemoryCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { Client, cacheExchange, fetchExchange } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";

// SHA-256 with the Web Crypto API, in browsers and in Node alike.
async function sha256(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

// Apollo: send the query's hash alone; on PERSISTED_QUERY_NOT_FOUND the link sends it again
// with the query, which registers it, and later requests are the hash alone.
export function createPersistedApolloClient({ url, token, possibleTypes }) {
  const httpLink = new HttpLink({ uri: url, headers: { Authorization: `Bearer ${token}` } });
  return new ApolloClient({
    cache: new InMemoryCache({ possibleTypes }),
    link: new PersistedQueryLink({ sha256 }).concat(httpLink),
  });
}

// urql: the same protocol; persisted queries go as GET, so send the preflight header too.
export function createPersistedUrqlClient({ url, token }) {
  return new Client({
    url,
    fetchOptions: { headers: { Authorization: `Bearer ${token}`, "GraphQL-Preflight": "1" } },
    exchanges: [cacheExchange, persistedExchange(), fetchExchange],
  });
}
