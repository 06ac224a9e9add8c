// GraphiQL for the Experience Plane: every module, style sheet, font and worker is bundled here
// and served by the API itself, so GraphiQL works on a machine without internet access.
import './workers.js';
import { config } from './config.js';

import { explorerPlugin } from '@graphiql/plugin-explorer';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createRoot } from 'react-dom/client';

import '@graphiql/plugin-explorer/style.css';
import 'graphiql/style.css';

const endpoint = new URL(config.endpoint, window.location.href);
const subscriptionUrl = new URL(config.subscriptionUrl, window.location.href);
subscriptionUrl.protocol = subscriptionUrl.protocol === 'https:' ? 'wss:' : 'ws:';

// Queries and mutations over HTTP; subscriptions over graphql-transport-ws, where the toolkit
// sends the headers editor's contents as the `connection_init` payload, which the server
// authenticates (`Authorization: Bearer ...`).
const fetcher = createGraphiQLFetcher({
  url: endpoint.href,
  subscriptionUrl: subscriptionUrl.href,
  // The server has no incremental delivery over HTTP: ask for plain GraphQL responses.
  enableIncrementalDelivery: false,
});

const headers = config.headers ? JSON.stringify(config.headers, null, 2) : undefined;
const plugins = [explorerPlugin()];

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    plugins={plugins}
    defaultHeaders={headers}
    initialHeaders={headers}
    defaultEditorToolsVisibility={headers ? 'headers' : false}
  />,
);
