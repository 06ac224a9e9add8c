// A tiny static server for this page (Node's standard library only): the page itself, the
// built client (clients/typescript/dist) and the two packages it imports, from
// clients/typescript/node_modules. Usage: node examples/web/serve.mjs [--port 5173] [--host 127.0.0.1]
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize, resolve as resolvePath, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = resolvePath(fileURLToPath(new URL(".", import.meta.url)));
const client = fileURLToPath(new URL("../../clients/typescript/", import.meta.url));
const ROUTES = [
  ["/client/", join(client, "dist")],
  ["/modules/graphql-ws/", join(client, "node_modules/graphql-ws/dist")],
  ["/modules/graphql-sse/", join(client, "node_modules/graphql-sse/lib")],
  ["/", here],
];
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".css": "text/css",
};

const { values } = parseArgs({
  options: { port: { type: "string", default: "5173" }, host: { type: "string", default: "127.0.0.1" } },
});

function resolve(pathname) {
  if (pathname === "/") pathname = "/index.html";
  for (const [prefix, root] of ROUTES) {
    if (!pathname.startsWith(prefix)) continue;
    const file = normalize(join(root, decodeURIComponent(pathname.slice(prefix.length))));
    return file.startsWith(root + sep) || file === root ? file : undefined;
  }
  return undefined;
}

const server = createServer(async (request, response) => {
  const file = resolve(new URL(request.url ?? "/", "http://localhost").pathname);
  const found = file && (await stat(file).catch(() => undefined));
  if (!found?.isFile() || request.method !== "GET") {
    response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    return;
  }
  response.writeHead(200, {
    "content-type": TYPES[extname(file)] ?? "application/octet-stream",
    "cache-control": "no-store",
  });
  createReadStream(file).pipe(response);
});

server.listen(Number(values.port), values.host, () => {
  const { port } = server.address();
  // The first line is what a test waits for.
  console.log(`examples/web at http://${values.host}:${port}/`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
