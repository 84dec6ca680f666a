import { type Static, Type } from '@sinclair/typebox';
import { Section } from '../config/types.js';
import { PRESET_NAMES } from './variable-measure.js';

const CustomScheme = Type.Object(
  {
    name: Type.String({
      pattern: '^[a-z0-9][a-z0-9-]{0,31}$',
      description: 'reported as variableMeasure.scheme',
    }),
    prefix: Type.String({
      pattern: '^[0-9]{2}$',
      description: 'first two digits of the EAN-13 form, e.g. "24"',
    }),
    pattern: Type.String({
      // 12 letters: P item (at least the prefix), an optional C (price check digit, then 4 or 5 V), V value.
      pattern: '^(?=[PCV]{12}$)P{2,}(CV{4,5}|V{1,10})$',
      description: 'layout of the 12 digits before the check digit, e.g. PPPPPPPPVVVV or PPPPPPCVVVVV',
    }),
    measure: Type.Unsafe<'price' | 'weight' | 'count'>({
      type: 'string',
      enum: ['price', 'weight', 'count'],
      description: 'what the value is',
    }),
    decimals: Type.Integer({ minimum: 0, maximum: 5, description: 'decimals of the value' }),
    unit: Type.String({
      minLength: 1,
      maxLength: 8,
      description: 'ISO 4217 code for prices (SEK), kg/g/lb for weights, pcs for counts',
    }),
  },
  { additionalProperties: false },
);

export const BarcodeConfig = Section(
  {
    variableMeasure: Type.Array(Type.Unsafe<string>({ type: 'string', enum: [...PRESET_NAMES] }), {
      default: [],
      uniqueItems: true,
      description: `built-in variable-measure schemes to apply, first match wins: ${PRESET_NAMES.join(', ')}`,
    }),
    customSchemes: Type.Array(CustomScheme, {
      default: [],
      maxItems: 32,
      description: 'your own variable-measure schemes, tried before the built-in ones (docs/BARCODES.md)',
    }),
  },
  'how scans are interpreted: GS1 data and variable-measure (price/weight-embedded) codes',
);
export type BarcodeConfig = Static<typeof BarcodeConfig>;
