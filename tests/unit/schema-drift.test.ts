import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rootPath } from '../../src/paths.js';
import { generatedSchemaFiles } from '../../src/schema/published.js';

const HINT = 'is out of date with the source schemas; run `npm run gen:schemas` and commit the result';
const generated = generatedSchemaFiles();

describe('generated JSON Schema files', () => {
  it.each(Object.keys(generated))('%s matches the source', (path) => {
    const file = rootPath(path);
    expect(existsSync(file), `${path} is missing; run \`npm run gen:schemas\``).toBe(true);
    expect(readFileSync(file, 'utf8'), `${path} ${HINT}`).toBe(generated[path]);
  });

  it('has no stale event schema left in schemas/events/', () => {
    const onDisk = readdirSync(rootPath('schemas', 'events'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => `schemas/events/${f}`);
    const stale = onDisk.filter((path) => !(path in generated));
    expect(stale, `no event type generates these; run \`npm run gen:schemas\` and delete them`).toEqual([]);
  });

  it('generates the config schema and one schema per event type, as JSON', () => {
    const paths = Object.keys(generated);
    expect(paths).toContain('config/store-gateway.schema.json');
    expect(paths.filter((p) => p.startsWith('schemas/events/')).length).toBeGreaterThanOrEqual(3);
    for (const path of paths.filter((p) => p.endsWith('.json'))) {
      expect(() => JSON.parse(generated[path] as string), path).not.toThrow();
    }
  });
});
