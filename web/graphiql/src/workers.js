// Monaco runs its language services in web workers. GraphiQL's own setups load them from a CDN
// (esm.sh) or expect a bundler's `new URL(..., import.meta.url)`; these are built as separate
// classic scripts by build.mjs and served by the API next to this bundle.
import { config } from './config.js';

globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const url = config.workers[label] ?? config.workers.editor;
    return new Worker(url, { name: label });
  },
};
