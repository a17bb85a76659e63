/**
 * `npm run build`'s last step: the compiled CLI (dist/src/cli/main.js and every module it imports,
 * dependencies included) as one CommonJS file, dist/src/cli/tributary.bundle.cjs, which the deployed entry
 * point dist/src/cli/entry.cjs runs through V8's code cache (see src/cli/entry.cts for why).
 *
 * Left outside the bundle, loaded from node_modules at run time:
 * - native addons (node-lmdb, unix-dgram, serialport, @node-rs/crc32): a `.node` file cannot be bundled;
 * - the Kafka client, @platformatic/kafka: it reads its WebAssembly file relative to its own module, and it
 *   is loaded only when an upstream is configured;
 * - systeminformation: loaded only for the host monitor's first sample, after the listeners are up.
 * What is left out is loaded lazily already, so the bundle is what every start needs and little else.
 *
 * The dependencies' `debug` loggers are gated (src/cli/debug-gate.cts): without DEBUG set they are functions
 * that do nothing, rather than debug's, which collect their arguments on every call.
 *
 * The bundle is pure ASCII, so the entry reads it as a one-byte string (Latin-1, a plain copy) instead of
 * decoding UTF-8 into a two-byte one: ~12 ms of every start and 2.7 MB of heap for the source V8 keeps
 * (issue 13). esbuild escapes every non-ASCII character of the code itself (its default `charset`); what is
 * left is in comments, which this step escapes, after checking with esbuild that the escaped bundle is the
 * same program (both minified alike).
 *
 * Identifiers are kept (no minification of names): stack traces name the same functions as the sources,
 * and each module's code is headed by a `// path` comment. The source map beside the bundle maps a
 * position back to the compiled module (whose own map leads to the TypeScript).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, transform, type Plugin } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUNDLE = path.join(ROOT, 'dist', 'src', 'cli', 'tributary.bundle.cjs');

/** Where the dependencies' `require('debug')` goes: src/cli/debug-gate.cts, which is the real debug only when DEBUG is set. */
const DEBUG_GATE = path.join(ROOT, 'dist', 'src', 'cli', 'debug-gate.cjs');
const debugGate: Plugin = {
  name: 'debug-gate',
  setup(b) {
    b.onResolve({ filter: /^debug$/ }, (args) => (args.importer === DEBUG_GATE ? undefined : { path: DEBUG_GATE }));
  },
};

const EXTERNAL = ['node-lmdb', 'unix-dgram', 'serialport', '@serialport/*', '@node-rs/*', '@platformatic/kafka', 'systeminformation'];

const result = await build({
  entryPoints: [path.join(ROOT, 'dist', 'src', 'cli', 'main.js')],
  outfile: BUNDLE,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: EXTERNAL,
  // ES modules in a CommonJS file: their `import.meta.url` is the bundle's own URL (createRequire of the
  // native addons then resolves from dist/src/cli up to node_modules, as from any module in dist/src).
  define: { 'import.meta.url': '__tributary_bundle_url' },
  banner: { js: "const __tributary_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
  plugins: [debugGate],
});
// The entry runs the bundle from V8's code cache, where an `import()` has no loader to call (Node 20):
// a module left outside must be required, never imported dynamically.
const dynamicExternal = Object.entries(result.metafile.inputs).flatMap(([file, input]) =>
  input.imports.filter((i) => i.kind === 'dynamic-import' && i.external === true).map((i) => `${file} imports ${i.path}`),
);
if (dynamicExternal.length > 0) throw new Error(`bundle: import() of a module outside the bundle cannot run from the code cache; require it instead:\n  ${dynamicExternal.join('\n  ')}`);
// Every `debug` in the bundle is reached through the gate, and the gate is in it.
const ungated = Object.entries(result.metafile.inputs).flatMap(([file, input]) =>
  input.imports.filter((i) => /node_modules\/debug\//.test(i.path) && !/node_modules\/debug\//.test(file) && path.resolve(ROOT, file) !== DEBUG_GATE).map((i) => `${file} imports ${i.path}`),
);
if (ungated.length > 0 || result.metafile.inputs[path.relative(ROOT, DEBUG_GATE)] === undefined) throw new Error(`bundle: debug reached around src/cli/debug-gate.cts:\n  ${ungated.join('\n  ')}`);
await escapeToAscii(BUNDLE);
const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)?.bytes ?? 0;
if (bytes === 0) throw new Error(`bundle: no output written to ${BUNDLE}`);
process.stdout.write(`bundle: ${path.relative(ROOT, BUNDLE)}, ${(bytes / 1024).toFixed(0)} KiB, ${Object.keys(result.metafile.inputs).length} modules\n`);

/**
 * Rewrites the bundle's non-ASCII characters as `\u{...}`. Only neutral where they are (a comment, or code
 * that esbuild would print the same either way), which is checked: the two versions, minified (comments
 * dropped, strings and names printed in one canonical form), must be identical; a character inside a
 * regular expression or a raw template string would change the program and fails the build.
 */
async function escapeToAscii(file: string): Promise<void> {
  const original = fs.readFileSync(file, 'utf8');
  if (/^[\x00-\x7f]*$/.test(original)) return;
  const escaped = original.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${(c.codePointAt(0) as number).toString(16)}}`);
  const canonical = async (code: string): Promise<string> => (await transform(code, { minify: true, format: 'cjs', platform: 'node', target: 'node20', logLevel: 'silent' })).code;
  if ((await canonical(original)) !== (await canonical(escaped))) {
    throw new Error(`bundle: ${path.relative(ROOT, file)} has non-ASCII characters outside comments that escaping would change`);
  }
  fs.writeFileSync(file, escaped);
}
