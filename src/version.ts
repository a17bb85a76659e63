/**
 * Where the package is and its version: the nearest directory above this module with tributary's
 * package.json. Found by walking up rather than by a fixed relative path because this module runs from
 * dist/src (the compiled modules, in tests) and from dist/src/cli/tributary.bundle.cjs (the deployed
 * one-file build, where `import.meta.url` is the bundle's).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackage(): { root: string; version: string } {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tributary' && pkg.version) return { root: dir, version: pkg.version };
    } catch {
      // no package.json of ours at this level
    }
    const parent = path.dirname(dir);
    if (parent === dir) return { root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..'), version: '0.0.0' };
    dir = parent;
  }
}

const found = findPackage();
/** The package's directory (where package.json, dist/ and node_modules/ are). */
export const PACKAGE_ROOT = found.root;
export const VERSION = found.version;
