/**
 * AIM symbology identifiers (ISO/IEC 15424): "]" + code character + modifier. Pure lookups shared
 * by every scanner driver.
 */

export interface AimInfo {
  /** The identifier itself, e.g. "]E0". */
  aim: string;
  /** A stable symbology name, e.g. "ean-13". */
  symbology: string;
}

const BY_CODE: Record<string, (modifier: string) => string> = {
  E: (m) =>
    ({ '0': 'ean-13', '1': 'ean-addon-2', '2': 'ean-addon-5', '3': 'ean-13-addon', '4': 'ean-8' })[m] ??
    'ean',
  C: (m) => ({ '1': 'gs1-128', '4': 'isbt-128' })[m] ?? 'code-128',
  I: () => 'itf',
  A: () => 'code-39',
  F: () => 'codabar',
  G: () => 'code-93',
  L: () => 'pdf417',
  e: () => 'gs1-databar',
  d: (m) => (m === '2' ? 'gs1-datamatrix' : 'datamatrix'),
  Q: (m) => (m === '3' ? 'gs1-qr' : m === '0' ? 'qr-model-1' : 'qr'),
  z: () => 'aztec',
  J: () => 'dotcode',
  X: () => 'other',
};

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
  const name = BY_CODE[code];
  return { aim, symbology: name ? name(modifier) : `aim-${code}` };
}
