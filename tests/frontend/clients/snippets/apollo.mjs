// The Apollo Client setup README.md shows under "For frontend teams"; the tests import it as is.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import UploadHttpLink from "apollo-upload-client/UploadHttpLink.mjs";
import { OperationTypeNode } from "graphql";
import { createClient } from "graphql-ws";

// possibleTypes: the contents of schema/possible-types.json. Without it Apollo's cache cannot
// tell that an InvalidInputError is an Error, and `... on Error { code message }` comes back empty.
// webSocketImpl: leave it out in browsers; in Node pass `WebSocket` from the `ws` package.
export function createApolloClient({ url, wsUrl, token, possibleTypes, webSocketImpl }) {
  const httpLink = new UploadHttpLink({
    uri: url,
    headers: {
      Authorization: `Bearer ${token}`,
      // Uploads are multipart/form-data, which browsers send cross-site without a preflight;
      // the API refuses them (CSRF) unless a header like this one forces the preflight.
      "Apollo-Require-Preflight": "true",
    },
  });
  const wsLink = new GraphQLWsLink(
    createClient({
      url: wsUrl,
      connectionParams: { Authorization: `Bearer ${token}` },
      webSocketImpl,
    }),
  );
  return new ApolloClient({
    cache: new InMemoryCache({ possibleTypes }),
    link: ApolloLink.split(
      ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
      wsLink,
      httpLink,
    ),
  });
}

// With no WebSocket at all: Apollo's HttpLink follows subscriptions over HTTP multipart
// responses; apollo-upload-client still sends everything else (uploads included).
export function createApolloHttpOnlyClient({ url, token, possibleTypes }) {
  const headers = { Authorization: `Bearer ${token}`, "Apollo-Require-Preflight": "true" };
  return new ApolloClient({
    cache: new InMemoryCache({ possibleTypes }),
    link: ApolloLink.split(
      ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
      new HttpLink({ uri: url, headers }),
      new UploadHttpLink({ uri: url, headers }),
    ),
  });
}
