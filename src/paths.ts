import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, found from this file both in src/ (tests) and in dist/src/ (the build). */
export const PACKAGE_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (
      existsSync(pkg) &&
      (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'store-gateway'
    ) {
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the store-gateway package root');
    dir = up;
  }
})();

export const VERSION = (
  JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

export const rootPath = (...parts: string[]) => join(PACKAGE_ROOT, ...parts);
