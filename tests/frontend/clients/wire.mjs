// Recording what a client really sends: the tests wrap the global fetch every client calls.

/** Wrap globalThis.fetch; every request and its JSON answer lands in the returned array. */
export function recordFetches() {
  const exchanges = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init = {}) => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    const method = (init.method ?? "GET").toUpperCase();
    const sent =
      method === "GET"
        ? Object.fromEntries([...url.searchParams].map(([key, value]) => [key, parse(value)]))
        : parse(init.body);
    const response = await realFetch(input, init);
    const answer = await response.clone().json().catch(() => null);
    exchanges.push({ method, sent, status: response.status, answer });
    return response;
  };
  exchanges.restore = () => {
    globalThis.fetch = realFetch;
  };
  return exchanges;
}

function parse(value) {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
