/**
 * The GS1 Application Identifiers the gateway knows (GS1 General Specifications §3; names as in
 * the GS1 Barcode Syntax Dictionary). AIs outside this table are still cut out of an element string
 * by the length rules below and kept with their raw value.
 */

/** How a value is typed in `retail.scan.v1` data. */
export type AiKind =
  | 'id' // digits with a GS1 check digit (SSCC, GTIN)
  | 'digits' // digits kept as a string (leading zeros matter)
  | 'text' // GS1 character set 82
  | 'date' // YYMMDD → "YYYY-MM-DD"
  | 'datetime' // YYMMDDHH[MM[SS]] → "YYYY-MM-DDTHH:MM:SS"
  | 'count' // integer
  | 'measure' // 6 digits, decimals from the AI's last digit, with a unit
  | 'amount' // up to 15 digits, decimals from the AI's last digit
  | 'amount-iso'; // ISO 4217 numeric currency (3 digits) + amount

export interface AiDef {
  ai: string;
  title: string;
  kind: AiKind;
  /** Data length range (after the AI). */
  min: number;
  max: number;
  /** Predefined length (GS1 figure 7.8.5-2): never followed by a separator. */
  fixed: boolean;
  decimals?: number;
  unit?: string;
}

const def = (ai: string, title: string, kind: AiKind, min: number, max: number, fixed = false): AiDef => ({
  ai,
  title,
  kind,
  min,
  max,
  fixed,
});

/** 31xx–35xx: AI prefix (3 digits), title, unit. The 4th digit (0–5) is the number of decimals. */
const MEASURES: readonly [string, string, string][] = [
  ['310', 'NET WEIGHT (kg)', 'kg'],
  ['311', 'LENGTH (m)', 'm'],
  ['312', 'WIDTH (m)', 'm'],
  ['313', 'HEIGHT (m)', 'm'],
  ['314', 'AREA (m²)', 'm2'],
  ['315', 'NET VOLUME (l)', 'l'],
  ['316', 'NET VOLUME (m³)', 'm3'],
  ['320', 'NET WEIGHT (lb)', 'lb'],
  ['321', 'LENGTH (in)', 'in'],
  ['322', 'LENGTH (ft)', 'ft'],
  ['323', 'LENGTH (yd)', 'yd'],
  ['324', 'WIDTH (in)', 'in'],
  ['325', 'WIDTH (ft)', 'ft'],
  ['326', 'WIDTH (yd)', 'yd'],
  ['327', 'HEIGHT (in)', 'in'],
  ['328', 'HEIGHT (ft)', 'ft'],
  ['329', 'HEIGHT (yd)', 'yd'],
  ['330', 'GROSS WEIGHT (kg)', 'kg'],
  ['331', 'LENGTH (m), log', 'm'],
  ['332', 'WIDTH (m), log', 'm'],
  ['333', 'HEIGHT (m), log', 'm'],
  ['334', 'AREA (m²), log', 'm2'],
  ['335', 'VOLUME (l), log', 'l'],
  ['336', 'VOLUME (m³), log', 'm3'],
  ['337', 'KG PER m²', 'kg/m2'],
  ['340', 'GROSS WEIGHT (lb)', 'lb'],
  ['341', 'LENGTH (in), log', 'in'],
  ['342', 'LENGTH (ft), log', 'ft'],
  ['343', 'LENGTH (yd), log', 'yd'],
  ['344', 'WIDTH (in), log', 'in'],
  ['345', 'WIDTH (ft), log', 'ft'],
  ['346', 'WIDTH (yd), log', 'yd'],
  ['347', 'HEIGHT (in), log', 'in'],
  ['348', 'HEIGHT (ft), log', 'ft'],
  ['349', 'HEIGHT (yd), log', 'yd'],
  ['350', 'AREA (in²)', 'in2'],
  ['351', 'AREA (ft²)', 'ft2'],
  ['352', 'AREA (yd²)', 'yd2'],
  ['353', 'AREA (in²), log', 'in2'],
  ['354', 'AREA (ft²), log', 'ft2'],
  ['355', 'AREA (yd²), log', 'yd2'],
  ['356', 'NET WEIGHT (t oz)', 'ozt'],
  ['357', 'NET VOLUME (oz)', 'oz'],
];

function buildTable(): Map<string, AiDef> {
  const rows: AiDef[] = [
    def('00', 'SSCC', 'id', 18, 18, true),
    def('01', 'GTIN', 'id', 14, 14, true),
    def('02', 'CONTENT', 'id', 14, 14, true),
    def('10', 'BATCH/LOT', 'text', 1, 20),
    def('11', 'PROD DATE', 'date', 6, 6, true),
    def('12', 'DUE DATE', 'date', 6, 6, true),
    def('13', 'PACK DATE', 'date', 6, 6, true),
    def('15', 'BEST BEFORE or BEST BY', 'date', 6, 6, true),
    def('16', 'SELL BY', 'date', 6, 6, true),
    def('17', 'USE BY or EXPIRY', 'date', 6, 6, true),
    def('20', 'VARIANT', 'digits', 2, 2, true),
    def('21', 'SERIAL', 'text', 1, 20),
    def('22', 'CPV', 'text', 1, 20),
    def('235', 'TPX', 'text', 1, 28),
    def('30', 'VAR. COUNT', 'count', 1, 8),
    def('37', 'COUNT', 'count', 1, 8),
    def('8008', 'PROD TIME', 'datetime', 8, 12),
    // North American coupons; the fields inside are decoded by src/barcode/coupon.ts.
    def('8110', 'COUPON CODE (North America)', 'text', 1, 70),
    def('8112', 'PAPERLESS COUPON (North America)', 'text', 1, 70),
  ];
  for (const [prefix, title, unit] of MEASURES) {
    for (let n = 0; n <= 5; n++)
      rows.push({ ...def(`${prefix}${n}`, title, 'measure', 6, 6, true), decimals: n, unit });
  }
  for (let n = 0; n <= 9; n++) {
    rows.push({ ...def(`390${n}`, 'AMOUNT', 'amount', 1, 15), decimals: n });
    rows.push({ ...def(`391${n}`, 'AMOUNT (ISO currency)', 'amount-iso', 4, 18), decimals: n });
    rows.push({ ...def(`392${n}`, 'PRICE', 'amount', 1, 15), decimals: n });
    rows.push({ ...def(`393${n}`, 'PRICE (ISO currency)', 'amount-iso', 4, 18), decimals: n });
  }
  return new Map(rows.map((r) => [r.ai, r]));
}

export const AI_TABLE: ReadonlyMap<string, AiDef> = buildTable();

/**
 * Length of an AI from its first two digits (GS1 General Specifications figure 3.2-1), for the
 * prefixes in use. A prefix not listed is not an AI.
 */
const AI_LENGTH: Record<string, number> = {};
for (const p of ['00', '01', '02', '03', '04', '10', '11', '12', '13', '15', '16', '17', '20', '21', '22'])
  AI_LENGTH[p] = 2;
for (const p of ['30', '37', '90', '91', '92', '93', '94', '95', '96', '97', '98', '99']) AI_LENGTH[p] = 2;
for (const p of ['23', '24', '25', '40', '41', '42', '71']) AI_LENGTH[p] = 3;
for (const p of ['31', '32', '33', '34', '35', '36', '39', '43', '70', '72', '80', '81', '82'])
  AI_LENGTH[p] = 4;

/** Data length of AIs with a predefined length, by their first two digits (figure 7.8.5-2). */
const PREDEFINED: Record<string, number> = {
  '00': 18,
  '01': 14,
  '02': 14,
  '03': 14,
  '04': 16,
  '11': 6,
  '12': 6,
  '13': 6,
  '15': 6,
  '16': 6,
  '17': 6,
  '20': 2,
  '31': 6,
  '32': 6,
  '33': 6,
  '34': 6,
  '35': 6,
  '36': 6,
  '41': 13,
};

/** Longest data of an AI outside the table (GS1 element strings hold at most 90 data characters). */
const UNKNOWN_MAX = 90;

export interface AiLookup {
  ai: string;
  def: AiDef;
  /** False for an AI outside the table: its value is kept raw. */
  known: boolean;
}

/**
 * Identifies the AI at `text[at…]`: a known one, or one outside the table whose length and data
 * length the prefix rules give. `null` when the text there is not an AI.
 */
export function identifyAi(text: string, at: number): AiLookup | null {
  const prefix = text.slice(at, at + 2);
  const len = AI_LENGTH[prefix];
  if (len === undefined) return null;
  const ai = text.slice(at, at + len);
  if (ai.length !== len || !/^[0-9]+$/.test(ai)) return null;
  const known = AI_TABLE.get(ai);
  if (known) return { ai, def: known, known: true };
  const fixed = PREDEFINED[prefix];
  return {
    ai,
    def: def(ai, 'UNKNOWN', 'text', fixed ?? 1, fixed ?? UNKNOWN_MAX, fixed !== undefined),
    known: false,
  };
}

/** True when `code` is exactly one AI (e.g. a Digital Link query key). */
export function isAiCode(code: string): boolean {
  return identifyAi(code, 0)?.ai === code;
}
