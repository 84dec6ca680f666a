import { err, ok, type Result } from '../result.js';
import { fullYear } from './ai-values.js';
import { hasValidCheckDigit } from './check-digit.js';

/**
 * North American coupon codes, decoded into their fields. Pure and total: any text gives a result,
 * nothing throws.
 *
 * - AI (8110): the coupon data of the "North American Coupon Application Guideline Using GS1
 *   DataBar Expanded Symbols" (JICC / GS1 US, R2.0), carried in GS1 DataBar Expanded (Stacked) or
 *   GS1-128. Required fields, then optional fields each introduced by its one-digit number, in
 *   ascending order: 1 (second purchase and rules), 2 (third purchase), 3 (expiration date),
 *   4 (start date), 5 (serial number), 6 (retailer), 9 (miscellaneous).
 * - AI (8112): the "positive offer file" coupon (GS1 AI (8112) Coupon Data Specification): format
 *   code, funder id, offer code, serial number; the offer's terms live in the offer file, not the
 *   symbol.
 * - UPC-A number system 5: the legacy U.S. coupon (5, company prefix, family code, value code).
 *
 * The field layout and value ranges follow GS1's own linters (gs1-syntax-dictionary
 * lint_couponcode.c and lint_couponposoffer.c); docs/IDENTITY.md lists the sources and what could
 * not be confirmed.
 */

export type CouponError =
  | 'not-numeric'
  | 'too-long'
  | 'missing' // a required field (or an optional field's part) is absent
  | 'bad-vli' // a variable length indicator outside its range
  | 'truncated' // shorter than its length indicator says
  | 'bad-code' // a one-digit code outside its allowed values
  | 'invalid-date'
  | 'start-after-expiry'
  | 'excess-data'; // data after the last recognised field (unknown or out-of-order field)

/** One qualifying purchase of an 8110 coupon. */
export interface CouponPurchase {
  /** How many of the requirement code's unit (the digits as a number). */
  requirement: number;
  /** 0–4 or 9; docs/IDENTITY.md gives the meanings. */
  requirementCode: number;
  /** Three digits; "992" and trailing zeros have clearing-house meanings. */
  familyCode: string;
  /** The purchase's own GS1 Company Prefix; absent = the primary one (VLI 9). Primary purchase: never. */
  companyPrefix?: string;
}

export interface Coupon8110 {
  format: 'gs1-8110';
  /** GS1 Company Prefix of the offer's funder, 6–12 digits. */
  companyPrefix: string;
  /** Six digits, assigned by the funder. */
  offerCode: string;
  /** As encoded (1–5 digits); its unit depends on `saveValueCode` (cents unless told otherwise). */
  saveValue: number;
  primaryPurchase: CouponPurchase;
  /** Optional field 1 (with `additionalPurchaseRules`). */
  secondPurchase?: CouponPurchase;
  /** Optional field 2; the layout allows it without a second purchase. */
  thirdPurchase?: CouponPurchase;
  /** 0–3: how the purchases combine (optional field 1). */
  additionalPurchaseRules?: number;
  /** "YYYY-MM-DD" (optional fields 3 and 4). */
  expirationDate?: string;
  startDate?: string;
  /** 6–15 digits (optional field 5). */
  serialNumber?: string;
  /** Retailer GS1 Company Prefix or GLN, 7–13 digits (optional field 6). */
  retailerId?: string;
  /** Optional field 9: 0, 1, 2, 5 or 6. */
  saveValueCode?: number;
  /** Optional field 9: 0–2, the purchase the save value applies to (0 = primary). */
  saveValueAppliesTo?: number;
  /** Optional field 9: one digit, as encoded. */
  storeCouponFlag?: number;
  /** Optional field 9: true = do not multiply (double) the coupon. */
  dontMultiply?: boolean;
}

export interface Coupon8112 {
  format: 'gs1-8112';
  /** 0 or 1. */
  formatCode: number;
  /** The coupon funder's id, 6–12 digits. */
  funderId: string;
  offerCode: string;
  /** 6–15 digits. */
  serialNumber: string;
}

export interface CouponUpcA5 {
  format: 'upc-a-5';
  /** Five-digit U.P.C. company prefix. */
  companyPrefix: string;
  familyCode: string;
  /** Two-digit value code (the legacy value code table). */
  valueCode: string;
}

export type Coupon = Coupon8110 | Coupon8112 | CouponUpcA5;

/** The longest AI (8110) / (8112) data: X..70 in the GS1 Barcode Syntax Dictionary. */
export const COUPON_MAX_LENGTH = 70;

type Fail = { ok: false; error: CouponError; detail?: string };

/** Reads digits from left to right; every failure names the field and the position. */
class Reader {
  pos = 0;
  failure: Fail | undefined;

  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  fail(error: CouponError, field: string, at = this.pos): undefined {
    this.failure ??= err(error, `${field} at ${at}`);
    return undefined;
  }

  /** `n` digits, or a failure (`whenEmpty` when nothing is left at all). */
  take(n: number, field: string, whenEmpty: CouponError = 'missing'): string | undefined {
    if (this.failure) return undefined;
    if (this.done) return this.fail(whenEmpty, field);
    if (this.pos + n > this.text.length) return this.fail('truncated', field);
    const s = this.text.slice(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** One digit within `allowed`. */
  code(field: string, allowed: string): number | undefined {
    const at = this.pos;
    const d = this.take(1, field);
    if (d === undefined) return undefined;
    if (!allowed.includes(d)) return this.fail('bad-code', field, at);
    return Number(d);
  }

  /** A variable length indicator within `allowed`, then `vli + add` digits. */
  vli(field: string, allowed: string, add: number): string | undefined {
    const at = this.pos;
    const d = this.take(1, `${field} length`);
    if (d === undefined) return undefined;
    if (!allowed.includes(d)) return this.fail('bad-vli', field, at);
    return this.take(Number(d) + add, field, 'truncated');
  }

  /** An optional field introduced by `digit`: true (and consumed) when it comes next. */
  field(digit: string): boolean {
    if (this.failure || this.peek() !== digit) return false;
    this.pos++;
    return true;
  }
}

const DIGITS = /^[0-9]*$/;

function precheck(raw: string): Fail | undefined {
  if (!DIGITS.test(raw)) return err('not-numeric', `at ${raw.search(/[^0-9]/)}`);
  if (raw.length > COUPON_MAX_LENGTH) return err('too-long', `${raw.length} characters`);
  return undefined;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Coupon dates are YYMMDD with a real day (no "00"); the century as for GS1 dates (§7.12). */
function couponDate(r: Reader, field: string, nowMs: number): string | undefined {
  const at = r.pos;
  const raw = r.take(6, field);
  if (raw === undefined) return undefined;
  const [yy, mm, dd] = [Number(raw.slice(0, 2)), Number(raw.slice(2, 4)), Number(raw.slice(4, 6))];
  const year = fullYear(yy, nowMs);
  const last = new Date(Date.UTC(year, mm, 0)).getUTCDate();
  if (mm < 1 || mm > 12 || dd < 1 || dd > last) return r.fail('invalid-date', field, at);
  return `${year}-${pad2(mm)}-${pad2(dd)}`;
}

/** A purchase requirement: VLI 1–5 and its digits, the requirement code, the family code. */
function purchase(r: Reader, which: string): Omit<CouponPurchase, 'companyPrefix'> | undefined {
  const requirement = r.vli(`${which} purchase requirement`, '12345', 0);
  const requirementCode = r.code(`${which} purchase requirement code`, '012349');
  const familyCode = r.take(3, `${which} purchase family code`);
  if (requirement === undefined || requirementCode === undefined || familyCode === undefined)
    return undefined;
  return { requirement: Number(requirement), requirementCode, familyCode };
}

/** The GS1 Company Prefix of a second or third purchase: VLI 0–6 (+6 digits), or 9 = the primary one. */
function purchasePrefix(r: Reader, which: string): { prefix?: string } | undefined {
  if (r.peek() === '9') {
    r.pos++;
    return {};
  }
  const prefix = r.vli(`${which} purchase company prefix`, '0123456', 6);
  return prefix === undefined ? undefined : { prefix };
}

function additionalPurchase(r: Reader, which: string): CouponPurchase | undefined {
  const p = purchase(r, which);
  const prefix = p ? purchasePrefix(r, which) : undefined;
  if (!p || !prefix) return undefined;
  return prefix.prefix === undefined ? p : { ...p, companyPrefix: prefix.prefix };
}

function optionalFields(r: Reader, c: Coupon8110, nowMs: number): void {
  if (r.field('1')) {
    const rules = r.code('additional purchase rules code', '0123');
    if (rules !== undefined) c.additionalPurchaseRules = rules;
    c.secondPurchase = additionalPurchase(r, 'second');
  }
  if (r.field('2')) c.thirdPurchase = additionalPurchase(r, 'third');
  if (r.field('3')) c.expirationDate = couponDate(r, 'expiration date', nowMs);
  if (r.field('4')) {
    const at = r.pos - 1;
    c.startDate = couponDate(r, 'start date', nowMs);
    if (c.startDate && c.expirationDate && c.startDate > c.expirationDate)
      r.fail('start-after-expiry', 'start date', at);
  }
  if (r.field('5')) c.serialNumber = r.vli('serial number', '0123456789', 6);
  if (r.field('6')) c.retailerId = r.vli('retailer id', '1234567', 6);
  if (r.field('9')) {
    c.saveValueCode = r.code('save value code', '01256');
    c.saveValueAppliesTo = r.code('save value applies to item', '012');
    c.storeCouponFlag = r.code('store coupon flag', '0123456789');
    const dm = r.code("don't multiply flag", '01');
    if (dm !== undefined) c.dontMultiply = dm === 1;
  }
}

/** Drops the optional keys a failed read left undefined. */
function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/**
 * Decodes the data of AI (8110). `nowMs` (the scan's capture time) only places the two-digit
 * years of the dates in their century.
 */
export function decodeCoupon8110(raw: string, opts: { nowMs: number }): Result<Coupon8110, CouponError> {
  const bad = precheck(raw);
  if (bad) return bad;
  const r = new Reader(raw);
  const companyPrefix = r.vli('primary company prefix', '0123456', 6);
  const offerCode = r.take(6, 'offer code');
  const saveValue = r.vli('save value', '12345', 0);
  const primary = purchase(r, 'primary');
  if (r.failure) return r.failure;
  const coupon: Coupon8110 = {
    format: 'gs1-8110',
    companyPrefix: companyPrefix as string,
    offerCode: offerCode as string,
    saveValue: Number(saveValue),
    primaryPurchase: primary as CouponPurchase,
  };
  optionalFields(r, coupon, opts.nowMs);
  if (r.failure) return r.failure;
  if (!r.done) return err('excess-data', `field ${r.peek()} at ${r.pos}`);
  return ok(compact(coupon));
}

/** Decodes the data of AI (8112). */
export function decodeCoupon8112(raw: string): Result<Coupon8112, CouponError> {
  const bad = precheck(raw);
  if (bad) return bad;
  const r = new Reader(raw);
  const formatCode = r.code('format code', '01');
  const funderId = r.vli('funder id', '0123456', 6);
  const offerCode = r.take(6, 'offer code');
  const serialNumber = r.vli('serial number', '0123456789', 6);
  if (r.failure) return r.failure;
  if (!r.done) return err('excess-data', `at ${r.pos}`);
  return ok({
    format: 'gs1-8112',
    formatCode: formatCode as number,
    funderId: funderId as string,
    offerCode: offerCode as string,
    serialNumber: serialNumber as string,
  });
}

/**
 * A legacy U.S. coupon: UPC-A with number system 5 (12 digits, or the EAN-13/GTIN form with
 * leading zeros) and a right check digit; `null` for anything else.
 */
export function decodeUpcCoupon(digits: string): CouponUpcA5 | null {
  const upc = /^0*(5[0-9]{11})$/.exec(digits)?.[1];
  if (upc === undefined || digits.length > 14 || !hasValidCheckDigit(upc)) return null;
  return {
    format: 'upc-a-5',
    companyPrefix: upc.slice(1, 6),
    familyCode: upc.slice(6, 9),
    valueCode: upc.slice(9, 11),
  };
}

/** The AIs that carry coupon data. */
export const COUPON_AIS = ['8110', '8112'] as const;

/** Decodes the coupon AI `ai` (8110 or 8112). */
export function decodeCouponAi(
  ai: (typeof COUPON_AIS)[number],
  raw: string,
  opts: { nowMs: number },
): Result<Coupon8110 | Coupon8112, CouponError> {
  return ai === '8110' ? decodeCoupon8110(raw, opts) : decodeCoupon8112(raw);
}

const vli = (digits: string, add: number) => `${digits.length - add}${digits}`;
const yymmdd = (date: string) => date.slice(2, 4) + date.slice(5, 7) + date.slice(8, 10);

function encodePurchase(p: CouponPurchase): string {
  return `${vli(String(p.requirement), 0)}${p.requirementCode}${p.familyCode}`;
}

/**
 * The AI (8110) data for `c` (the inverse of decodeCoupon8110): for simulators and tests. The fields
 * must already fit the layout (6–12 digit prefixes, a 1–5 digit save value, …).
 */
export function encodeCoupon8110(c: Omit<Coupon8110, 'format'>): string {
  const { secondPurchase: second, thirdPurchase: third } = c;
  let out = `${vli(c.companyPrefix, 6)}${c.offerCode}${vli(String(c.saveValue), 0)}`;
  out += encodePurchase(c.primaryPurchase);
  const prefix = (p: CouponPurchase) => (p.companyPrefix === undefined ? '9' : vli(p.companyPrefix, 6));
  if (second) out += `1${c.additionalPurchaseRules ?? 0}${encodePurchase(second)}${prefix(second)}`;
  if (third) out += `2${encodePurchase(third)}${prefix(third)}`;
  if (c.expirationDate) out += `3${yymmdd(c.expirationDate)}`;
  if (c.startDate) out += `4${yymmdd(c.startDate)}`;
  if (c.serialNumber) out += `5${vli(c.serialNumber, 6)}`;
  if (c.retailerId) out += `6${vli(c.retailerId, 6)}`;
  if (c.saveValueCode !== undefined)
    out += `9${c.saveValueCode}${c.saveValueAppliesTo ?? 0}${c.storeCouponFlag ?? 0}${c.dontMultiply ? 1 : 0}`;
  return out;
}

/** The AI (8112) data for `c` (the inverse of decodeCoupon8112). */
export function encodeCoupon8112(c: Omit<Coupon8112, 'format'>): string {
  return `${c.formatCode}${vli(c.funderId, 6)}${c.offerCode}${vli(c.serialNumber, 6)}`;
}
