import { Type } from '@sinclair/typebox';
import { INVALID_REASONS, type InvalidReason } from './interpret.js';

/**
 * The `retail.scan.v1` data fields the scan pipeline adds (src/pipeline/scan-enrich.ts and
 * dedupe.ts). All optional: a field appears only where it applies. Spread into `ScanData` in
 * src/events/catalog.ts.
 */

const Gs1ValueSchema = Type.Object(
  {
    raw: Type.String({ maxLength: 90, description: 'the data exactly as encoded' }),
    value: Type.Unsafe<string | number>({
      type: ['string', 'number'],
      description:
        'typed value: string for ids, text and dates (YYYY-MM-DD; 8008 YYYY-MM-DDTHH:MM:SS), number for counts, measures and amounts',
    }),
    unit: Type.Optional(Type.String({ maxLength: 8, description: 'measures: kg, lb, m, l, m2, …' })),
    currency: Type.Optional(
      Type.String({
        pattern: '^([A-Z]{3}|[0-9]{3})$',
        description: '391n/393n: ISO 4217 code (numeric when unknown to the gateway)',
      }),
    ),
  },
  { additionalProperties: false },
);

const VariableMeasureSchema = Type.Object(
  {
    scheme: Type.String({ minLength: 1, description: 'the configured scheme that matched, e.g. se-20' }),
    measure: Type.Unsafe<'price' | 'weight' | 'count'>({
      type: 'string',
      enum: ['price', 'weight', 'count'],
    }),
    itemKey: Type.String({
      pattern: '^[0-9]{13}$',
      description: 'the code with its value zeroed and check digits recomputed: the item to look up',
    }),
    value: Type.Number({ minimum: 0, description: 'the embedded price, weight or count' }),
    raw: Type.String({ pattern: '^[0-9]{1,10}$', description: 'the value digits as encoded' }),
    unit: Type.String({ minLength: 1, description: 'ISO 4217 currency for prices, kg/g/lb for weights' }),
  },
  { additionalProperties: false },
);

const Time = (description: string) => Type.Optional(Type.String({ format: 'date-time', description }));

export const ScanSemanticsFields = {
  scanDataType: Type.Optional(
    Type.Integer({ minimum: 0, description: 'UnifiedPOS ScanDataType (SCAN_SDT_*); 0 = unknown' }),
  ),
  gtin: Type.Optional(
    Type.String({
      pattern: '^[0-9]{14}$',
      description: 'GTIN-14 (GTIN-8/12/13 left-padded); for a variable-measure code, its item key',
    }),
  ),
  gs1: Type.Optional(
    Type.Record(Type.String({ pattern: '^[0-9]{2,4}$' }), Gs1ValueSchema, {
      additionalProperties: false,
      description: 'GS1 Application Identifiers by code, with typed values',
    }),
  ),
  variableMeasure: Type.Optional(VariableMeasureSchema),
  valid: Type.Optional(
    Type.Boolean({ description: 'present when the content was checked as GS1 data; false = see reason' }),
  ),
  reason: Type.Optional(
    Type.Unsafe<InvalidReason>({
      type: 'string',
      enum: [...INVALID_REASONS],
      description: 'why valid is false',
    }),
  ),
  detail: Type.Optional(Type.String({ maxLength: 200, description: 'where: e.g. "AI 01"' })),
  count: Type.Optional(
    Type.Integer({
      minimum: 1,
      description: 'duplicate suppression: reads of this text merged into this event',
    }),
  ),
  firstTime: Time('duplicate suppression: capture time of the first read'),
  lastTime: Time('duplicate suppression: capture time of the last read'),
};
