import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../simulators/barcodes.js';
import {
  type Coupon8110,
  type CouponPurchase,
  decodeCoupon8110,
  decodeCoupon8112,
  encodeCoupon8110,
  encodeCoupon8112,
} from '../../src/barcode/coupon.js';
import { CouponScannedData } from '../../src/identity/event-schema.js';
import { createAjv } from '../../src/schema/ajv.js';

const NOW = Date.UTC(2026, 10, 24);
const ERRORS = new Set([
  'not-numeric',
  'too-long',
  'missing',
  'bad-vli',
  'truncated',
  'bad-code',
  'invalid-date',
  'start-after-expiry',
  'excess-data',
]);
const validateEvent = createAjv({ allErrors: true }).compile(CouponScannedData);

const SEEDS = [
  '10614141011111275110111',
  '106141416543213500110000310123196000',
  '106141410222223100110222111101231023456721104561045678991201',
  '106141411234562891101201212085010048000214025610048000310123191000',
  '01234561234561111012359123456789012345',
  '012345612345611110123671234567890123',
  '001234561234560123456',
  '061234567890121234569123456789012345',
];

function generators(random: () => number) {
  const int = (n: number) => Math.floor(random() * n);
  const digits = (n: number) => Array.from({ length: n }, () => String(int(10))).join('');
  const pick = <T>(xs: readonly T[]) => xs[int(xs.length)] as T;
  const day = () => {
    const y = 2000 + int(75);
    const m = 1 + int(12);
    const d = 1 + int(new Date(Date.UTC(y, m, 0)).getUTCDate());
    return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  };
  const purchase = (own: boolean): CouponPurchase => ({
    requirement: int(10 ** (1 + int(3))),
    requirementCode: pick([0, 1, 2, 3, 4, 9]),
    familyCode: digits(3),
    ...(own && random() < 0.5 ? { companyPrefix: digits(6 + int(3)) } : {}),
  });
  /** A random coupon that follows the layout (kept within 70 characters). */
  const coupon = (): Omit<Coupon8110, 'format'> => {
    const c: Omit<Coupon8110, 'format'> = {
      companyPrefix: digits(6 + int(4)),
      offerCode: digits(6),
      saveValue: int(10 ** (1 + int(4))),
      primaryPurchase: purchase(false),
    };
    if (random() < 0.4) {
      c.additionalPurchaseRules = int(4);
      c.secondPurchase = purchase(true);
    }
    if (random() < 0.2) c.thirdPurchase = purchase(true);
    if (random() < 0.5) c.expirationDate = day();
    if (random() < 0.3) {
      const start = day();
      if (!c.expirationDate || start <= c.expirationDate) c.startDate = start;
    }
    if (random() < 0.3) c.serialNumber = digits(6 + int(10));
    if (random() < 0.2) c.retailerId = digits(7 + int(7));
    if (random() < 0.4) {
      c.saveValueCode = pick([0, 1, 2, 5, 6]);
      c.saveValueAppliesTo = int(3);
      c.storeCouponFlag = int(10);
      c.dontMultiply = random() < 0.5;
    }
    return c;
  };
  const mutate = (s: string) => {
    const at = int(s.length + 1);
    switch (int(3)) {
      case 0:
        return s.slice(0, at) + digits(1) + s.slice(at + 1);
      case 1:
        return s.slice(0, at) + digits(1 + int(3)) + s.slice(at);
      default:
        return s.slice(0, at) + s.slice(at + 1 + int(3));
    }
  };
  const ascii = (n: number) => Array.from({ length: n }, () => String.fromCharCode(32 + int(95))).join('');
  return { int, digits, coupon, mutate, ascii, pick };
}

describe('coupon decoders under 100,000 generated inputs', () => {
  it('never throw; every result is a typed error or fields that fit the event schema and re-encode', () => {
    const g = generators(seededRandom(8110));
    const tally = { ok8110: 0, ok8112: 0, errors: 0, roundTrips: 0 };
    for (let n = 0; n < 100_000; n++) {
      let raw: string;
      let generated: Omit<Coupon8110, 'format'> | undefined;
      const kind = n % 10;
      if (kind < 4) raw = g.digits(g.int(76));
      else if (kind < 7) raw = g.mutate(g.mutate(g.pick(SEEDS)));
      else if (kind < 9) {
        generated = g.coupon();
        raw = encodeCoupon8110(generated);
      } else raw = g.ascii(g.int(80));

      const a = decodeCoupon8110(raw, { nowMs: NOW });
      const b = decodeCoupon8112(raw);
      for (const r of [a, b]) {
        if (!r.ok) {
          tally.errors++;
          if (!ERRORS.has(r.error)) throw new Error(`unknown error ${r.error} for ${JSON.stringify(raw)}`);
          continue;
        }
        const { format, ...fields } = r.value;
        const event = { deviceId: 'lane-1-scanner', lane: 'lane-1', format, raw, valid: true, ...fields };
        if (!validateEvent(event))
          throw new Error(`${JSON.stringify(raw)}: ${JSON.stringify(validateEvent.errors?.[0])}`);
      }
      if (a.ok) {
        tally.ok8110++;
        const again = decodeCoupon8110(encodeCoupon8110(a.value), { nowMs: NOW });
        if (JSON.stringify(again) !== JSON.stringify(a))
          throw new Error(`8110 does not re-encode: ${JSON.stringify(raw)}`);
        tally.roundTrips++;
      }
      if (b.ok) {
        tally.ok8112++;
        if (encodeCoupon8112(b.value) !== raw)
          throw new Error(`8112 does not re-encode: ${JSON.stringify(raw)}`);
      }
      if (generated && raw.length <= 70) {
        if (!a.ok)
          throw new Error(`a generated coupon failed: ${JSON.stringify(raw)} ${a.error} ${a.detail}`);
        expect(a.value).toEqual({ format: 'gs1-8110', ...generated });
      }
    }
    // The mix reached every branch: valid coupons of both kinds, and errors.
    expect(tally.ok8110).toBeGreaterThan(15_000);
    expect(tally.ok8112).toBeGreaterThan(10);
    expect(tally.errors).toBeGreaterThan(100_000);
  });
});
