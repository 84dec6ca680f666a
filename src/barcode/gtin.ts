import { err, ok, type Result } from '../result.js';
import { hasValidCheckDigit } from './check-digit.js';

export type GtinError = 'not-numeric' | 'length' | 'check-digit';

/**
 * GTIN-8, -12, -13 or -14 (with its check digit) → GTIN-14, the form central systems key on:
 * left-padded with zeros. Pure; a wrong check digit is an error, never a silent fix.
 */
export function normaliseGtin(code: string): Result<string, GtinError> {
  if (!/^[0-9]+$/.test(code)) return err('not-numeric');
  if (code.length !== 8 && (code.length < 12 || code.length > 14))
    return err('length', `${code.length} digits`);
  if (!hasValidCheckDigit(code)) return err('check-digit');
  return ok(code.padStart(14, '0'));
}

/**
 * UPC-E (8 digits: number system 0 or 1, six data digits, check digit) → the UPC-A it abbreviates
 * (12 digits). `null` when `code` is not an 8-digit UPC-E. The check digit is carried over; check it
 * on the result.
 */
export function expandUpcE(code: string): string | null {
  if (!/^[01][0-9]{7}$/.test(code)) return null;
  const ns = code[0] as string;
  const d = code.slice(1, 7);
  const check = code[7] as string;
  const last = d[5] as string;
  let body: string;
  if (last === '0' || last === '1' || last === '2') body = `${d.slice(0, 2)}${last}0000${d.slice(2, 5)}`;
  else if (last === '3') body = `${d.slice(0, 3)}00000${d.slice(3, 5)}`;
  else if (last === '4') body = `${d.slice(0, 4)}00000${d[4]}`;
  else body = `${d.slice(0, 5)}0000${last}`;
  return `${ns}${body}${check}`;
}
