// What every client test shares: the API it talks to (from the environment
// tests/frontend/test_js_clients.py sets), the example files, and the operations (as strings: each client parses them with its own `gql`).
import { readFileSync } from "node:fs";

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run these through tests/frontend/test_js_clients.py`);
  }
  return value;
}

export const api = {
  url: required("EP_API_URL"),
  wsUrl: required("EP_WS_URL"),
  token: required("EP_TOKEN"),
};

const REPO = new URL("../../../", import.meta.url);

/** schema/possible-types.json, the possibleTypes an Apollo cache needs. */
export function possibleTypes() {
  return JSON.parse(readFileSync(new URL("schema/possible-types.json", REPO), "utf8"));
}

/** One of examples/ as a File, as an <input type="file"> would give it. */
export function exampleFile(name, type) {
  return new File([readFileSync(new URL(`examples/${name}`, REPO))], name, { type });
}

export const EXAMPLES = [
  ["customers.csv", "text/csv"],
  ["policies.json", "application/json"],
];

export const EXECUTION_FIELDS = `
  id
  intentType
  state
  rawStatus
  isTerminal
  progress { phase percent }
`;

export const UPLOAD = `
  mutation Upload($file: Upload!) {
    uploadContent(file: $file) {
      __typename
      ... on ExecutionAccepted { execution { ${EXECUTION_FIELDS} } }
      ... on Error { code message }
    }
  }
`;

export const CREATE_MASH = `
  mutation CreateMash($input: CreateDataMashInput!) {
    createDataMash(input: $input) {
      __typename
      ... on ExecutionAccepted { execution { ${EXECUTION_FIELDS} } }
      ... on Error { code message }
      ... on InvalidInputError { field }
    }
  }
`;

export const STATUS = `
  query Status($id: ID!) {
    executionStatus(executionId: $id) {
      ${EXECUTION_FIELDS}
      artifacts {
        __typename
        id
        ... on ContentFile { fileId name size rowCount }
        ... on DataMash { mashId name rowCount }
      }
    }
  }
`;

export const WATCH = `
  subscription Watch($id: ID!) {
    executionStatus(executionId: $id) { ${EXECUTION_FIELDS} stale }
  }
`;

export const RECORDS = `
  query Records($id: ID!, $first: Int!, $after: String) {
    executionStatus(executionId: $id) {
      id
      artifacts {
        __typename
        id
        ... on DataMash {
          mashId
          rowCount
          records(first: $first, after: $after) {
            totalCount
            edges { cursor node }
            pageInfo { hasNextPage endCursor }
          }
        }
      }
    }
  }
`;

/** Collect a subscription's events until it completes (then unsubscribe); fails after `ms`. */
export function collect(subscribe, ms = 30_000) {
  return new Promise((resolve, reject) => {
    const events = [];
    const finish = (settle) => {
      clearTimeout(timer);
      settle();
      queueMicrotask(() => stop());
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new Error(`no completion in ${ms} ms; events so far: ${JSON.stringify(events)}`)),
        ),
      ms,
    );
    const stop = subscribe({
      next: (event) => events.push(event),
      error: (error) => finish(() => reject(error)),
      complete: () => finish(() => resolve(events)),
    });
  });
}
