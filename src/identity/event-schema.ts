import { Type } from '@sinclair/typebox';
import { TopicSafeId } from '../config/types.js';
import { SCAN_CATEGORIES, type ScanCategory } from './classify.js';

/*
 * Schemas of what identity adds to events: the classification fields of `retail.scan.v1` (spread
 * into ScanData in src/events/catalog.ts), `retail.loyalty.identified.v1`,
 * `retail.coupon.scanned.v1`, `retail.presence.identified.v1`, and the loyalty fields presence
 * events of a linked device carry.
 */

const RULE_ERRORS = ['check-digit', 'signature', 'expired'] as const;

export const LoyaltyId = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[\\x21-\\x7e]+$',
  description: 'the loyalty account id in clear (identity.loyaltyIds: clear)',
});

export const LoyaltyHash = Type.String({
  pattern: '^[0-9a-f]{16,64}$',
  description:
    'keyed hash of the loyalty id (identity.loyaltyIds: hashed): HMAC-SHA256 with the shared loyalty key, truncated (docs/IDENTITY.md)',
});

/** A loyalty id as it leaves the gateway: exactly one of the two, per identity.loyaltyIds. */
export const loyaltyFields = {
  loyaltyId: Type.Optional(LoyaltyId),
  loyaltyHash: Type.Optional(LoyaltyHash),
};

export const IdentityScanFields = {
  category: Type.Optional(
    Type.Unsafe<ScanCategory>({
      type: 'string',
      enum: [...SCAN_CATEGORIES],
      description:
        'what the scan is (identity.enabled): product, loyalty, payment-token, coupon, url, unknown',
    }),
  ),
  scheme: Type.Optional(
    Type.String({
      pattern: '^[a-z0-9][a-z0-9-]{0,31}$',
      description: 'the loyalty or payment rule that matched (identity.loyalty, identity.payment)',
    }),
  ),
  schemeError: Type.Optional(
    Type.Unsafe<(typeof RULE_ERRORS)[number]>({
      type: 'string',
      enum: [...RULE_ERRORS],
      description: 'the scan had the rule’s shape but failed its check digit, HMAC signature or age',
    }),
  ),
  sensitive: Type.Optional(
    Type.Unsafe<'payment-token' | 'loyalty-id'>({
      type: 'string',
      enum: ['payment-token', 'loyalty-id'],
      description:
        'the barcode content was withheld: `text` is a placeholder and nothing derived from it is sent',
    }),
  ),
  tokenRef: Type.Optional(
    Type.String({
      pattern: '^pt_[0-9a-f]{8,64}$',
      description:
        'payment tokens: keyed hash of the token with the day’s store key; equal within a key day, unlinkable after',
    }),
  ),
};

const Lane = TopicSafeId('POS lane (identity.lanes; the scanner’s own id when not mapped)');
const DeviceId = TopicSafeId('the scanner that read the code');

export const LoyaltyIdentifiedData = Type.Object(
  {
    deviceId: DeviceId,
    lane: Lane,
    method: Type.Unsafe<'card' | 'app'>({
      type: 'string',
      enum: ['card', 'app'],
      description: 'a loyalty card or the loyalty app’s code',
    }),
    scheme: Type.String({
      pattern: '^[a-z0-9][a-z0-9-]{0,31}$',
      description: 'the loyalty rule that matched',
    }),
    ...loyaltyFields,
  },
  { additionalProperties: false },
);

const Digits = (min: number, max: number, description: string) =>
  Type.String({ pattern: `^[0-9]{${min},${max}}$`, description });
const Day = (description: string) => Type.String({ format: 'date', description });
const Code = (max: number, description: string) => Type.Integer({ minimum: 0, maximum: max, description });

const CouponPurchaseSchema = Type.Object(
  {
    requirement: Type.Integer({
      minimum: 0,
      maximum: 99999,
      description: 'quantity, in the unit of requirementCode',
    }),
    requirementCode: Type.Integer({
      enum: [0, 1, 2, 3, 4, 9],
      description: 'purchase requirement code (docs/IDENTITY.md)',
    }),
    familyCode: Digits(3, 3, 'family code'),
    companyPrefix: Type.Optional(
      Digits(6, 12, 'GS1 Company Prefix of this purchase; absent = the primary one'),
    ),
  },
  { additionalProperties: false },
);

export const CouponScannedData = Type.Object(
  {
    deviceId: DeviceId,
    lane: Lane,
    format: Type.Unsafe<'gs1-8110' | 'gs1-8112' | 'upc-a-5'>({
      type: 'string',
      enum: ['gs1-8110', 'gs1-8112', 'upc-a-5'],
      description: 'AI (8110) coupon, AI (8112) positive offer file coupon, or legacy UPC-A number system 5',
    }),
    raw: Type.String({
      maxLength: 70,
      pattern: '^[\\x20-\\x7e]*$',
      description: 'the coupon data as encoded',
    }),
    valid: Type.Boolean({ description: 'false: the data does not follow the coupon layout (see reason)' }),
    reason: Type.Optional(
      Type.Unsafe<string>({
        type: 'string',
        enum: [
          'not-numeric',
          'too-long',
          'missing',
          'bad-vli',
          'truncated',
          'bad-code',
          'invalid-date',
          'start-after-expiry',
          'excess-data',
        ],
        description: 'why valid is false',
      }),
    ),
    detail: Type.Optional(
      Type.String({ maxLength: 200, description: 'the field and position, e.g. "offer code at 8"' }),
    ),
    companyPrefix: Type.Optional(
      Digits(5, 12, 'GS1 Company Prefix of the funder (5 digits for UPC-A coupons)'),
    ),
    offerCode: Type.Optional(Digits(6, 6, 'offer code')),
    saveValue: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 99999,
        description: 'as encoded; unit per saveValueCode (cents by default)',
      }),
    ),
    primaryPurchase: Type.Optional(CouponPurchaseSchema),
    secondPurchase: Type.Optional(CouponPurchaseSchema),
    thirdPurchase: Type.Optional(CouponPurchaseSchema),
    additionalPurchaseRules: Type.Optional(Code(3, 'how the purchases combine (docs/IDENTITY.md)')),
    expirationDate: Type.Optional(Day('last day the coupon is valid')),
    startDate: Type.Optional(Day('first day the coupon is valid')),
    serialNumber: Type.Optional(Digits(6, 15, 'coupon serial number')),
    retailerId: Type.Optional(Digits(7, 13, 'retailer GS1 Company Prefix or GLN')),
    saveValueCode: Type.Optional(Type.Integer({ enum: [0, 1, 2, 5, 6], description: 'save value code' })),
    saveValueAppliesTo: Type.Optional(Code(2, 'the purchase the save value applies to (0 = primary)')),
    storeCouponFlag: Type.Optional(Code(9, 'store coupon flag as encoded')),
    dontMultiply: Type.Optional(Type.Boolean({ description: 'true: do not double or multiply the coupon' })),
    formatCode: Type.Optional(Code(1, 'AI (8112) format code')),
    funderId: Type.Optional(Digits(6, 12, 'AI (8112) coupon funder id')),
    familyCode: Type.Optional(Digits(3, 3, 'UPC-A coupon family code')),
    valueCode: Type.Optional(Digits(2, 2, 'UPC-A coupon value code')),
  },
  { additionalProperties: false },
);

export const PresenceIdentifiedData = Type.Object(
  {
    subject: Type.String({
      pattern: '^[0-9a-f]{8,64}$',
      description: 'the device’s presence pseudonym (source wifi), as in retail.presence.* events',
    }),
    epoch: Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'key period of the subject' }),
    source: Type.Unsafe<'wifi'>({
      type: 'string',
      enum: ['wifi'],
      description: 'the sign-in came from Wi-Fi',
    }),
    method: Type.Unsafe<'wifi-signin'>({ type: 'string', enum: ['wifi-signin'] }),
    randomized: Type.Boolean({
      description: 'the phone used a randomized MAC (the link lasts while it keeps it)',
    }),
    consentScopes: Type.Array(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' }), {
      maxItems: 16,
      description: 'what the shopper consented to',
    }),
    expiresAt: Type.String({ format: 'date-time', description: 'when the link ends at the latest' }),
    ...loyaltyFields,
  },
  { additionalProperties: false },
);
