import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { rootPath } from '../src/paths.js';
import { generatedSchemaFiles } from '../src/schema/published.js';

for (const [path, content] of Object.entries(generatedSchemaFiles())) {
  const target = rootPath(path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, content);
  process.stdout.write(`wrote ${path}\n`);
}
