import { createHmac, timingSafeEqual } from 'node:crypto';

/** Luhn (ISO/IEC 7812-1) check digit test of a payment card number. */
export function luhnValid(digits: string): boolean {
  if (digits.length < 2 || !/^[0-9]+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export type TagEncoding = 'base64url' | 'hex';

/** HMAC-SHA256 of `message` in `encoding`, cut to `length` characters: the tag an app token carries. */
export function hmacTag(key: Buffer, message: string, encoding: TagEncoding, length: number): string {
  return createHmac('sha256', key).update(message, 'utf8').digest(encoding).slice(0, length);
}

/**
 * Whether `tag` is the HMAC of `message`. Tags shorter than 8 characters are refused (too easy to
 * guess); the comparison takes the same time wherever the first difference is.
 */
export function hmacTagValid(key: Buffer, message: string, tag: string, encoding: TagEncoding): boolean {
  if (tag.length < 8 || tag.length > 64) return false;
  const expected = Buffer.from(hmacTag(key, message, encoding, tag.length));
  const given = Buffer.from(tag);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
