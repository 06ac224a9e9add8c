// Bundles GraphiQL, its style sheets and Monaco's workers with esbuild into the Python package:
// content-hashed files in src/experience_plane/graphiql/static/assets/ and a manifest.json
// beside them that the API reads to write the page (all ignored by git). Run with
// `npm ci && npm run build`; `make install` runs both when Node is present.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, '..', '..', 'src', 'experience_plane', 'graphiql', 'static');
const assetsdir = join(outdir, 'assets');

// Monaco asks for a worker by language label; `editor` serves every other label.
const workers = {
  editor: 'monaco-editor/esm/vs/editor/editor.worker.js',
  json: 'monaco-editor/esm/vs/language/json/json.worker.js',
  graphql: 'monaco-graphql/esm/graphql.worker.js',
};

await rm(outdir, { recursive: true, force: true });
await mkdir(assetsdir, { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: {
    graphiql: 'src/main.jsx',
    ...Object.fromEntries(Object.entries(workers).map(([label, path]) => [`${label}.worker`, path])),
  },
  outdir: assetsdir,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  format: 'iife',
  minify: true,
  target: ['es2022'],
  jsx: 'automatic',
  loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file', '.svg': 'file' },
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});

const manifest = { script: null, stylesheet: null, workers: {} };
for (const [path, output] of Object.entries(result.metafile.outputs)) {
  const name = basename(path);
  if (output.entryPoint === 'src/main.jsx') {
    manifest.script = name;
    manifest.stylesheet = output.cssBundle ? basename(output.cssBundle) : null;
  }
  for (const [label, entry] of Object.entries(workers)) {
    if (output.entryPoint === `node_modules/${entry}`) manifest.workers[label] = name;
  }
}
const missing = Object.keys(workers).filter((label) => !manifest.workers[label]);
if (!manifest.script || !manifest.stylesheet || missing.length) {
  throw new Error(`esbuild produced no ${missing.join(', ') || 'script or style sheet'}`);
}
await writeFile(join(outdir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`GraphiQL built into ${outdir}`);
