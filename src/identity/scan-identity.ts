import type { Coupon } from '../barcode/coupon.js';
import type { EventData, EventType } from '../events/catalog.js';
import { type Classification, classifyScan } from './classify.js';
import type { CompiledRules } from './rules.js';

type ScanData = EventData<'retail.scan.v1'>;
type CouponData = EventData<'retail.coupon.scanned.v1'>;

/** An event to emit right after the scan event, for the same device. */
export type FollowUp = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

export interface ScanIdentityDeps {
  rules: CompiledRules;
  loyaltyIds: 'clear' | 'hashed';
  /** Keyed hash of a loyalty id (identity.loyaltyIds: hashed). */
  loyaltyHash(id: string): string;
  /** Keyed-hash reference of a payment token (the day's store key). */
  paymentRef(text: string, nowMs: number): string;
  /** The POS lane of a scanner. */
  laneOf(deviceId: string): string;
}

export interface ScanIdentityResult {
  /** The scan as it may leave the gateway. */
  data: ScanData;
  follow: FollowUp[];
  classification: Classification;
  lane: string;
  /** A loyalty scan: who was identified, in clear (kept in memory only, for the lane's lookup). */
  identified?: { loyaltyId: string; method: 'card' | 'app'; scheme: string };
}

/** What `text` becomes when the barcode content is withheld. */
export const WITHHELD_TEXT = {
  'payment-token': '[payment-token]',
  'loyalty-id': '[loyalty-id]',
} as const;

/** Fields derived from the text: they would leak it (a card number as a GTIN, say), so they go too. */
const DERIVED = ['gtin', 'gs1', 'variableMeasure', 'valid', 'reason', 'detail'] as const;

function withhold(data: ScanData, marker: keyof typeof WITHHELD_TEXT, extra: Partial<ScanData>): ScanData {
  const out: ScanData = { ...data, ...extra, text: WITHHELD_TEXT[marker], sensitive: marker };
  for (const key of DERIVED) delete out[key];
  return out;
}

function couponFields(c: Coupon): Partial<CouponData> {
  switch (c.format) {
    case 'gs1-8110': {
      const { format: _f, ...fields } = c;
      return fields;
    }
    case 'gs1-8112':
      return {
        formatCode: c.formatCode,
        funderId: c.funderId,
        offerCode: c.offerCode,
        serialNumber: c.serialNumber,
      };
    case 'upc-a-5':
      return { companyPrefix: c.companyPrefix, familyCode: c.familyCode, valueCode: c.valueCode };
  }
}

function couponEvent(
  c: Extract<Classification, { category: 'coupon' }>,
  deviceId: string,
  lane: string,
): CouponData {
  const base: CouponData = { deviceId, lane, format: c.format, raw: c.raw, valid: c.coupon.ok };
  if (c.coupon.ok) return { ...base, ...couponFields(c.coupon.value) };
  return {
    ...base,
    reason: c.coupon.error,
    ...(c.coupon.detail === undefined ? {} : { detail: c.coupon.detail }),
  };
}

/**
 * Classifies one enriched scan and decides what leaves the gateway: the scan (with `category`, and
 * with its content withheld for payment tokens, and for loyalty ids when they are hashed) and the
 * events that follow it (`retail.loyalty.identified.v1`, `retail.coupon.scanned.v1`). Pure: keys
 * live inside the hash functions of `deps`.
 */
export function identifyScan(data: ScanData, timeMs: number, deps: ScanIdentityDeps): ScanIdentityResult {
  const classification = classifyScan(data, deps.rules, timeMs);
  const lane = deps.laneOf(data.deviceId);
  const result = (scan: ScanData, follow: FollowUp[] = []): ScanIdentityResult => ({
    data: scan,
    follow,
    classification,
    lane,
  });
  switch (classification.category) {
    case 'payment-token':
      return result(
        withhold(data, 'payment-token', {
          category: 'payment-token',
          scheme: classification.scheme,
          ...(classification.schemeError ? { schemeError: classification.schemeError } : {}),
          tokenRef: deps.paymentRef(data.text, timeMs),
        }),
      );
    case 'loyalty': {
      const { scheme, method, loyaltyId } = classification;
      const hashed = deps.loyaltyIds === 'hashed';
      const scan = hashed
        ? withhold(data, 'loyalty-id', { category: 'loyalty', scheme })
        : { ...data, category: 'loyalty' as const, scheme };
      const who = hashed ? { loyaltyHash: deps.loyaltyHash(loyaltyId) } : { loyaltyId };
      return {
        ...result(scan, [
          {
            type: 'retail.loyalty.identified.v1',
            data: { deviceId: data.deviceId, lane, method, scheme, ...who },
          },
        ]),
        identified: { loyaltyId, method, scheme },
      };
    }
    case 'coupon':
      return result({ ...data, category: 'coupon' }, [
        { type: 'retail.coupon.scanned.v1', data: couponEvent(classification, data.deviceId, lane) },
      ]);
    case 'unknown': {
      const { scheme, schemeError } = classification;
      if (scheme === undefined) return result({ ...data, category: 'unknown' });
      const extra = { category: 'unknown' as const, scheme, ...(schemeError ? { schemeError } : {}) };
      // Shaped like a loyalty id but failing its check: still someone's id, perhaps mistyped.
      return result(
        deps.loyaltyIds === 'hashed' ? withhold(data, 'loyalty-id', extra) : { ...data, ...extra },
      );
    }
    default:
      return result({ ...data, category: classification.category });
  }
}
