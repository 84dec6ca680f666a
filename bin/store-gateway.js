#!/usr/bin/env node
// Entry point of the store-gateway command; the code lives in dist/ (npm run build).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('store-gateway: not built yet; run "npm run build" in the package directory\n');
  process.exit(1);
}
await import(main.href);
