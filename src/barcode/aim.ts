/**
 * AIM symbology identifiers (ISO/IEC 15424): "]" + code character + modifier. Pure lookups shared
 * by every scanner driver: the symbology name that goes into `retail.scan.v1`, and the UnifiedPOS
 * ScanDataType (SCAN_SDT_*) a POS application expects.
 */

export interface AimInfo {
  /** The identifier itself, e.g. "]E0". */
  aim: string;
  /** A stable symbology name, e.g. "ean-13". */
  symbology: string;
}

/** UnifiedPOS ScanDataType codes (javapos ScannerConst SCAN_SDT_*). */
export const SCAN_SDT = {
  UNKNOWN: 0,
  UPCA: 101,
  UPCE: 102,
  EAN8: 103,
  EAN13: 104,
  TF: 105,
  ITF: 106,
  Codabar: 107,
  Code39: 108,
  Code93: 109,
  Code128: 110,
  UPCA_S: 111,
  UPCE_S: 112,
  EAN8_S: 118,
  EAN13_S: 119,
  GS1128: 120,
  GS1DATABAR: 131,
  GS1DATABAR_E: 132,
  ITF_CK: 133,
  PDF417: 201,
  DATAMATRIX: 203,
  QRCODE: 204,
  AZTEC: 206,
  GS1DATAMATRIX: 208,
  GS1QRCODE: 209,
  OTHER: 501,
} as const;

/** One row of the AIM table: a code character, the names by modifier, and the symbology's name otherwise. */
interface AimCode {
  code: string;
  name: string;
  modifiers?: Record<string, string>;
}

/**
 * The AIM table (PROTOCOLS §1). Modifiers not listed take the row's `name`, so a scanner that sends
 * an unusual modifier still gets its family name.
 */
export const AIM_CODES: readonly AimCode[] = [
  {
    code: 'E',
    name: 'ean',
    modifiers: { '0': 'ean-13', '1': 'ean-addon-2', '2': 'ean-addon-5', '3': 'ean-13-addon', '4': 'ean-8' },
  },
  { code: 'C', name: 'code-128', modifiers: { '1': 'gs1-128', '4': 'isbt-128' } },
  { code: 'I', name: 'itf' },
  { code: 'A', name: 'code-39' },
  { code: 'F', name: 'codabar' },
  { code: 'G', name: 'code-93' },
  { code: 'L', name: 'pdf417' },
  { code: 'e', name: 'gs1-databar' },
  { code: 'd', name: 'datamatrix', modifiers: { '2': 'gs1-datamatrix' } },
  { code: 'Q', name: 'qr', modifiers: { '0': 'qr-model-1', '3': 'gs1-qr' } },
  { code: 'z', name: 'aztec' },
  { code: 'J', name: 'dotcode', modifiers: { '1': 'gs1-dotcode' } },
  { code: 'X', name: 'other' },
];

const BY_CODE = new Map(AIM_CODES.map((c) => [c.code, c]));

const AIM_PATTERN = /^\][A-Za-z0-9][0-9A-Za-z]/;

/** Splits an AIM prefix off `text`; `null` when the text does not start with one. */
export function splitAim(text: string): { info: AimInfo; rest: string } | null {
  if (!AIM_PATTERN.test(text)) return null;
  const aim = text.slice(0, 3);
  return { info: describeAim(aim), rest: text.slice(3) };
}

export function describeAim(aim: string): AimInfo {
  const code = aim[1] ?? '';
  const modifier = aim[2] ?? '';
  const row = BY_CODE.get(code);
  if (!row) return { aim, symbology: `aim-${code}` };
  return { aim, symbology: row.modifiers?.[modifier] ?? row.name };
}

/**
 * Symbology names whose content is a GS1 element string with the leading FNC1 implied
 * (]C1, ]e0, ]d2, ]Q3, ]J1). Drivers that learn the symbology another way (HID POS, SSI code types)
 * get the same treatment by using these names.
 */
export function isGs1ElementStringSymbology(symbology: string): boolean {
  return symbology.startsWith('gs1-');
}

/** EAN/UPC family names: the content is a GTIN-8/12/13 (with an add-on for `ean-13-addon`). */
export function isEanUpcSymbology(symbology: string): boolean {
  return (symbology.startsWith('ean') || symbology.startsWith('upc')) && !symbology.startsWith('ean-addon');
}

const isDigits = (s: string) => /^[0-9]+$/.test(s);

/** EAN-13 form that starts with 0 carries a UPC-A. */
const upcOrEan13 = (digits: string, upc: number, ean: number) =>
  (digits.length === 13 && digits.startsWith('0')) || digits.length === 12 ? upc : ean;

type SdtRule = (text: string, aim: string | undefined) => number;

/** Symbology name → ScanDataType; the content decides where the name alone cannot (UPC-A vs EAN-13). */
const SDT_BY_NAME: Record<string, SdtRule> = {
  'ean-13': (t) => (t.length === 8 ? SCAN_SDT.UPCE : upcOrEan13(t, SCAN_SDT.UPCA, SCAN_SDT.EAN13)),
  'upc-a': () => SCAN_SDT.UPCA,
  'upc-e': () => SCAN_SDT.UPCE,
  'ean-8': () => SCAN_SDT.EAN8,
  'ean-13-addon': (t) => {
    if (t.length === 10 || t.length === 13) return SCAN_SDT.EAN8_S;
    return upcOrEan13(t.slice(0, 13), SCAN_SDT.UPCA_S, SCAN_SDT.EAN13_S);
  },
  'code-128': () => SCAN_SDT.Code128,
  'isbt-128': () => SCAN_SDT.Code128,
  'gs1-128': () => SCAN_SDT.GS1128,
  itf: (_t, aim) => (aim === ']I1' || aim === ']I3' ? SCAN_SDT.ITF_CK : SCAN_SDT.ITF),
  'code-39': () => SCAN_SDT.Code39,
  codabar: () => SCAN_SDT.Codabar,
  'code-93': () => SCAN_SDT.Code93,
  pdf417: () => SCAN_SDT.PDF417,
  // DataBar Omnidirectional/Limited carry (01) alone; anything longer is DataBar Expanded.
  'gs1-databar': (t) => (/^01[0-9]{14}$/.test(t) ? SCAN_SDT.GS1DATABAR : SCAN_SDT.GS1DATABAR_E),
  datamatrix: () => SCAN_SDT.DATAMATRIX,
  'gs1-datamatrix': () => SCAN_SDT.GS1DATAMATRIX,
  qr: () => SCAN_SDT.QRCODE,
  'qr-model-1': () => SCAN_SDT.QRCODE,
  'gs1-qr': () => SCAN_SDT.GS1QRCODE,
  aztec: () => SCAN_SDT.AZTEC,
};

/**
 * The UnifiedPOS ScanDataType of a scan. `UNKNOWN` (0) without a symbology, `OTHER` (501) for a
 * symbology UnifiedPOS has no code for (DotCode, add-ons alone, unknown AIM code characters).
 */
export function scanDataType(symbology: string, text: string, aim?: string): number {
  if (symbology === 'unknown') return SCAN_SDT.UNKNOWN;
  const rule = SDT_BY_NAME[symbology];
  if (rule) return rule(isDigits(text) || symbology.startsWith('gs1') ? text : '', aim);
  return SCAN_SDT.OTHER;
}
