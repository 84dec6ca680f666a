import { err, ok, type Result } from '../result.js';
import { gs1CheckDigit, priceCheckDigit } from './check-digit.js';

export type Measure = 'price' | 'weight' | 'count';

/**
 * A national variable-measure layout for EAN-13 codes with a GS1 prefix 02 or 20–29 (UPC-A "2"
 * codes are EAN-13 "02…"). `pattern` covers the 12 digits before the check digit: P item (the
 * prefix included), C the price/weight check digit of the value, V the value.
 */
export interface VariableMeasureScheme {
  name: string;
  prefix: string;
  pattern: string;
  measure: Measure;
  decimals: number;
  /** ISO 4217 code for prices, a unit (kg, g, lb) for weights, "pcs" for counts. */
  unit: string;
}

/** Built-in schemes, selected by name in the `barcode.variableMeasure` config list. */
export const VARIABLE_MEASURE_PRESETS = {
  // GS1 US random weight as this gateway reads it: 2 IIIII C VVVV K (price in cents with a 4-digit
  // price check digit). PROTOCOLS marks the US field layout unconfirmed; see docs/BARCODES.md.
  'us-upc-2': { prefix: '02', pattern: 'PPPPPPPCVVVV', measure: 'price', decimals: 2, unit: 'USD' },
  'se-20': { prefix: '20', pattern: 'PPPPPPPPVVVV', measure: 'price', decimals: 2, unit: 'SEK' },
  'se-23': { prefix: '23', pattern: 'PPPPPPPPVVVV', measure: 'weight', decimals: 3, unit: 'kg' },
  'de-28': { prefix: '28', pattern: 'PPPPPPCVVVVV', measure: 'weight', decimals: 3, unit: 'kg' },
  'de-29': { prefix: '29', pattern: 'PPPPPPCVVVVV', measure: 'weight', decimals: 3, unit: 'kg' },
  'uk-20': { prefix: '20', pattern: 'PPPPPPPCVVVV', measure: 'price', decimals: 2, unit: 'GBP' },
} as const satisfies Record<string, Omit<VariableMeasureScheme, 'name'>>;

export type PresetName = keyof typeof VARIABLE_MEASURE_PRESETS;
export const PRESET_NAMES = Object.keys(VARIABLE_MEASURE_PRESETS) as PresetName[];

/** What `retail.scan.v1` data carries for a variable-measure code (`variableMeasure`). */
export interface VariableMeasure {
  scheme: string;
  measure: Measure;
  /** The code with the value (and its check digit) zeroed and the check digit recomputed: look this up. */
  itemKey: string;
  value: number;
  raw: string;
  unit: string;
}

/** Checked layout of one scheme; `null` for a pattern this module cannot use. */
interface Layout {
  value: [number, number];
  check: number | null;
}

function layoutOf(s: VariableMeasureScheme): Layout | null {
  const m = /^(P{2,})(C?)(V+)$/.exec(s.pattern);
  if (!m || s.pattern.length !== 12 || !s.pattern.startsWith('P'.repeat(s.prefix.length))) return null;
  const p = (m[1] as string).length;
  const c = (m[2] as string).length;
  const v = (m[3] as string).length;
  if (c === 1 && v !== 4 && v !== 5) return null;
  return { value: [p + c, p + c + v], check: c === 1 ? p : null };
}

export type VariableMeasureError = 'price-check-digit';

/**
 * Reads a variable-measure code (`code13`: 13 digits, its GTIN check digit already verified) with
 * the first scheme whose prefix matches. `ok(null)` when no scheme applies; an error when the
 * value's own check digit is wrong.
 */
export function decodeVariableMeasure(
  code13: string,
  schemes: readonly VariableMeasureScheme[],
): Result<VariableMeasure | null, VariableMeasureError> {
  if (!/^[0-9]{13}$/.test(code13)) return ok(null);
  for (const scheme of schemes) {
    if (!code13.startsWith(scheme.prefix)) continue;
    const layout = layoutOf(scheme);
    if (!layout) continue;
    const raw = code13.slice(...layout.value);
    if (layout.check !== null && priceCheckDigit(raw) !== Number(code13[layout.check])) {
      return err('price-check-digit', scheme.name);
    }
    const digits = code13.slice(0, 12).split('');
    for (let i = layout.value[0]; i < layout.value[1]; i++) digits[i] = '0';
    if (layout.check !== null) digits[layout.check] = String(priceCheckDigit('0'.repeat(raw.length)));
    const body = digits.join('');
    const value = scheme.decimals === 0 ? Number(raw) : Number(raw) / 10 ** scheme.decimals;
    return ok({
      scheme: scheme.name,
      measure: scheme.measure,
      itemKey: `${body}${gs1CheckDigit(body)}`,
      value: Number(value.toFixed(scheme.decimals)),
      raw,
      unit: scheme.unit,
    });
  }
  return ok(null);
}

/** Turns the config's preset names and custom schemes into the ordered list to try (custom first). */
export function resolveSchemes(
  presets: readonly string[],
  custom: readonly VariableMeasureScheme[] = [],
): VariableMeasureScheme[] {
  const out: VariableMeasureScheme[] = [...custom];
  for (const name of presets) {
    const preset = VARIABLE_MEASURE_PRESETS[name as PresetName];
    if (preset) out.push({ name, ...preset });
  }
  return out;
}

/** True when `pattern` is a layout `decodeVariableMeasure` can read (the config schema checks the same). */
export function isUsablePattern(prefix: string, pattern: string): boolean {
  return layoutOf({ name: '', prefix, pattern, measure: 'price', decimals: 0, unit: '' }) !== null;
}
