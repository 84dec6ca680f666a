import { type Static, Type } from '@sinclair/typebox';
import { Section, StringEnum } from '../config/types.js';

/*
 * The `identity` config section: how scans are classified (loyalty cards, app tokens, payment
 * tokens, coupons), how loyalty ids leave the gateway, and the Wi-Fi sign-in receiver.
 * docs/IDENTITY.md explains every key.
 */

export const PAYMENT_PRESETS = ['emv-cpm', 'pan'] as const;
export type PaymentPreset = (typeof PAYMENT_PRESETS)[number];

const RuleName = Type.String({
  pattern: '^[a-z0-9][a-z0-9-]{0,31}$',
  description: 'reported as `scheme` in the scan event',
});

const HmacCheck = Type.Object(
  {
    keyFile: Type.String({
      minLength: 1,
      description: 'file holding the HMAC-SHA256 key (at least 16 bytes; e.g. a systemd credential)',
    }),
    encoding: StringEnum(['base64url', 'hex'] as const, 'base64url', 'how the tag is written in the token'),
    maxAgeSec: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 31_536_000,
        description:
          'refuse a token whose `ts` group (Unix seconds) is further than this from the scan time (rotating app codes)',
      }),
    ),
  },
  { additionalProperties: false },
);

/** One pattern a loyalty card, app token or payment token is recognised by; all given tests must pass. */
export const MatchRule = Type.Object(
  {
    name: RuleName,
    symbologies: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 32 }), {
        minItems: 1,
        uniqueItems: true,
        description: 'only scans of these symbologies (ean-13, qr, code-128, unknown, …); default any',
      }),
    ),
    prefixes: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 32 }), {
        minItems: 1,
        description: 'the text starts with one of these (quote digits: "29")',
      }),
    ),
    lengths: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1, maximum: 4096 }), {
        minItems: 1,
        uniqueItems: true,
        description: 'the text has one of these lengths',
      }),
    ),
    pattern: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        format: 'regex',
        description:
          'JavaScript regular expression the whole text must match (anchor it); named groups: id (the loyalty id), mac (HMAC tag), ts (Unix seconds)',
      }),
    ),
    check: StringEnum(
      ['none', 'gs1', 'luhn', 'hmac'] as const,
      'none',
      'gs1: GS1 mod-10 check digit; luhn: payment card check digit; hmac: the mac group verified with hmac.keyFile',
    ),
    hmac: Type.Optional(HmacCheck),
    method: StringEnum(['card', 'app'] as const, 'card', 'loyalty rules: a plastic card or an app code'),
  },
  { additionalProperties: false },
);
export type MatchRule = Static<typeof MatchRule>;

export const IdentityConfig = Section(
  {
    enabled: Type.Boolean({
      default: false,
      description:
        'classify scans (product, loyalty, payment token, coupon, URL) and emit loyalty and coupon events; without it payment tokens are not recognised',
    }),
    loyaltyIds: StringEnum(
      ['clear', 'hashed'] as const,
      'clear',
      'how loyalty ids leave the gateway: as scanned, or as a keyed hash (loyaltyHash) with identity.loyaltyKeyFile',
    ),
    loyaltyKeyFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'key for hashed loyalty ids, shared with central so CRM can match them (at least 16 bytes; e.g. a systemd credential)',
      }),
    ),
    loyaltyHashLength: Type.Integer({
      minimum: 16,
      maximum: 64,
      default: 32,
      description: 'hex digits of a hashed loyalty id kept (HMAC-SHA256 truncated)',
    }),
    lanes: Type.Record(
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
      {
        default: {},
        description: 'scanner device id → POS lane (workstationId); a scanner not listed is its own lane',
      },
    ),
    laneHoldSec: Type.Integer({
      minimum: 1,
      maximum: 86_400,
      default: 600,
      description: 'how long GET /v1/identity/lanes/{lane} answers with the shopper last identified there',
    }),
    loyalty: Type.Array(MatchRule, {
      default: [],
      maxItems: 32,
      description: 'loyalty cards and app tokens, tried in order after the payment rules',
    }),
    payment: Section(
      {
        presets: Type.Array(Type.Unsafe<PaymentPreset>({ type: 'string', enum: [...PAYMENT_PRESETS] }), {
          default: [...PAYMENT_PRESETS],
          uniqueItems: true,
          description: `built-in payment token patterns: ${PAYMENT_PRESETS.join(', ')}`,
        }),
        rules: Type.Array(MatchRule, {
          default: [],
          maxItems: 32,
          description: 'your own payment token patterns (wallet apps), tried before the presets',
        }),
      },
      'payment tokens: never forwarded; the scan carries a keyed-hash reference instead',
    ),
    coupons: Type.Boolean({
      default: true,
      description: 'decode coupons (AI 8110, 8112, UPC-A number system 5) and emit retail.coupon.scanned.v1',
    }),
    wifi: Section(
      {
        enabled: Type.Boolean({
          default: false,
          description: 'serve POST /v1/identity/wifi-signin for the captive portal (bearer scope identity)',
        }),
        requiredScopes: Type.Array(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' }), {
          default: ['presence'],
          uniqueItems: true,
          description: 'consent scopes a sign-in must carry for the device to be linked',
        }),
        ttlMin: Type.Integer({
          minimum: 1,
          maximum: 1440,
          default: 240,
          description: 'a link ends this long after the sign-in at the latest',
        }),
        idleMin: Type.Integer({
          minimum: 1,
          maximum: 1440,
          default: 30,
          description: 'a link ends when presence has not seen the device for this long',
        }),
        maxLinks: Type.Integer({
          minimum: 1,
          maximum: 1_000_000,
          default: 20_000,
          description: 'links kept at most (in memory only); the oldest ends first',
        }),
        bodyLimitBytes: Type.Integer({
          minimum: 256,
          maximum: 65_536,
          default: 4096,
          description: 'largest sign-in body accepted',
        }),
      },
      'Wi-Fi sign-in: link a consenting shopper’s phone to her account for the visit',
    ),
  },
  'shopper identity at the touchpoints: scan classification, coupons, Wi-Fi sign-in (docs/IDENTITY.md)',
);
export type IdentityConfig = Static<typeof IdentityConfig>;
