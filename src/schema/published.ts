import { publishedSchema } from '../config/schema.js';
import { EVENT_TYPE_NAMES } from '../events/catalog.js';
import { envelopeSchema } from '../events/schemas.js';
import { configReferenceMarkdown } from './config-reference.js';

/**
 * Every generated file (JSON Schemas and the config reference), by path relative to the package root. `npm run gen:schemas`
 * writes them; tests/unit/schema-drift.test.ts fails when the committed files differ.
 */
export function generatedSchemaFiles(): Record<string, string> {
  const files: Record<string, string> = {
    'config/store-gateway.schema.json': `${JSON.stringify(publishedSchema(), null, 2)}\n`,
    'docs/CONFIG.md': configReferenceMarkdown(),
  };
  for (const type of EVENT_TYPE_NAMES) {
    files[`schemas/events/${type}.json`] = `${JSON.stringify(envelopeSchema(type), null, 2)}\n`;
  }
  return files;
}
