import {
  type Coupon,
  type CouponError,
  decodeCoupon8110,
  decodeCoupon8112,
  decodeUpcCoupon,
} from '../barcode/coupon.js';
import type { Result } from '../result.js';
import { type CompiledRules, firstMatch, type RuleError } from './rules.js';

/** What a scan is, as `category` in `retail.scan.v1`. */
export const SCAN_CATEGORIES = ['product', 'loyalty', 'payment-token', 'coupon', 'url', 'unknown'] as const;
export type ScanCategory = (typeof SCAN_CATEGORIES)[number];

/** The parts of an enriched scan classification looks at. */
export interface ClassifyInput {
  text: string;
  symbology: string;
  gtin?: string;
  gs1?: Record<string, { raw: string }>;
}

export type CouponFormat = Coupon['format'];

export type Classification =
  | { category: 'payment-token'; scheme: string; schemeError?: RuleError }
  | { category: 'loyalty'; scheme: string; method: 'card' | 'app'; loyaltyId: string }
  | {
      category: 'coupon';
      format: CouponFormat;
      /** The coupon data as encoded (the AI's data, or the UPC-A digits). */
      raw: string;
      coupon: Result<Coupon, CouponError>;
    }
  | { category: 'product' }
  | { category: 'url' }
  /** `scheme`/`schemeError`: it had a loyalty rule's shape but failed its check. */
  | { category: 'unknown'; scheme?: string; schemeError?: RuleError };

const HTTP = /^https?:\/\//i;
/** A loyalty id that may be forwarded: 1–64 printable ASCII characters (as POS and offers take it). */
const LOYALTY_ID = /^[\x21-\x7e]{1,64}$/;
/** A coupon element string read without an AIM identifier: only taken when it decodes cleanly. */
const BARE_COUPON = /^(811[02])([0-9]{20,70})$/;

function coupon(scan: ClassifyInput, nowMs: number): Classification | null {
  const c8110 = scan.gs1?.['8110']?.raw;
  if (c8110 !== undefined)
    return { category: 'coupon', format: 'gs1-8110', raw: c8110, coupon: decodeCoupon8110(c8110, { nowMs }) };
  const c8112 = scan.gs1?.['8112']?.raw;
  if (c8112 !== undefined)
    return { category: 'coupon', format: 'gs1-8112', raw: c8112, coupon: decodeCoupon8112(c8112) };
  if (scan.symbology === 'unknown') {
    const m = BARE_COUPON.exec(scan.text);
    if (m) {
      const [, ai, raw = ''] = m;
      const decoded = ai === '8110' ? decodeCoupon8110(raw, { nowMs }) : decodeCoupon8112(raw);
      if (decoded.ok) return { category: 'coupon', format: decoded.value.format, raw, coupon: decoded };
    }
  }
  if (scan.gtin !== undefined && scan.gs1 === undefined) {
    const legacy = decodeUpcCoupon(scan.gtin);
    if (legacy)
      return {
        category: 'coupon',
        format: 'upc-a-5',
        raw: scan.gtin.slice(-12),
        coupon: { ok: true, value: legacy },
      };
  }
  return null;
}

/**
 * What a scan is. Pure: the rules are compiled (with their keys) beforehand, `nowMs` is the scan's
 * capture time (it places coupon dates in their century and ages rotating app tokens).
 *
 * Order: payment tokens first, so nothing else can claim one; a payment token's shape with a
 * failed check digit is still treated as one (a misread card number is still a card number).
 * Then coupons, loyalty rules, products (a GTIN), URLs; anything else is unknown.
 */
export function classifyScan(scan: ClassifyInput, rules: CompiledRules, nowMs: number): Classification {
  const payment = firstMatch(rules.payment, scan, nowMs);
  if (payment)
    return payment.ok
      ? { category: 'payment-token', scheme: payment.rule.name }
      : { category: 'payment-token', scheme: payment.rule.name, schemeError: payment.error };
  if (rules.coupons) {
    const c = coupon(scan, nowMs);
    if (c) return c;
  }
  const loyalty = firstMatch(rules.loyalty, scan, nowMs);
  if (loyalty?.ok && LOYALTY_ID.test(loyalty.id))
    return {
      category: 'loyalty',
      scheme: loyalty.rule.name,
      method: loyalty.rule.method,
      loyaltyId: loyalty.id,
    };
  if (loyalty)
    return loyalty.ok
      ? { category: 'unknown', scheme: loyalty.rule.name }
      : { category: 'unknown', scheme: loyalty.rule.name, schemeError: loyalty.error };
  if (scan.gtin !== undefined) return { category: 'product' };
  if (HTTP.test(scan.text)) return { category: 'url' };
  return { category: 'unknown' };
}
