/**
 * Honeywell Code IDs: one character naming the symbology, sent by Honeywell scanners (and, with
 * the same letters by default, by several others) beside or instead of the AIM identifier. Names
 * follow `describeAim` where both exist.
 */
export const HONEYWELL_CODE_IDS: Readonly<Record<string, string>> = {
  d: 'ean-13',
  D: 'ean-8',
  c: 'upc-a',
  E: 'upc-e',
  j: 'code-128',
  I: 'gs1-128',
  b: 'code-39',
  w: 'datamatrix',
  s: 'qr',
  r: 'pdf417',
  y: 'gs1-databar',
  z: 'aztec',
  e: 'itf',
  a: 'codabar',
  i: 'code-93',
  R: 'micro-pdf417',
  x: 'maxicode',
  '.': 'dotcode',
};

/** The symbology a Honeywell code id names; `undefined` for 0 (none sent) and unknown letters. */
export function describeCodeId(code: number): string | undefined {
  if (code === 0) return undefined;
  const ch = String.fromCharCode(code);
  return HONEYWELL_CODE_IDS[ch] ?? (code > 0x20 && code < 0x7f ? `code-id-${ch}` : undefined);
}
