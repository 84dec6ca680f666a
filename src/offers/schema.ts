import { type Static, Type } from '@sinclair/typebox';
import { TopicSafeId } from '../config/types.js';
import { GTIN_PATTERN } from '../pos/schema.js';
import { createAjv, describeErrors, type SchemaIssue } from '../schema/ajv.js';

/*
 * What personalization publishes on `stores/{store}/offers/{offerId}` (docs/POS.md, docs/TOPICS.md):
 * an offer, or a retraction. docs/asyncapi.yaml carries the same schemas; a test compares them.
 */

const Enum = <T extends string>(values: readonly T[], description: string) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], description });

export const OfferId = TopicSafeId('offer id; also the last level of the topic');
const Version = Type.Integer({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'grows with every change of the offer; a higher version replaces a lower one',
});

export const Offer = Type.Object(
  {
    offerId: OfferId,
    version: Version,
    loyaltyId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'the one shopper the offer is for' }),
    ),
    segment: Type.Optional(TopicSafeId('the customer segment the offer is for (instead of loyaltyId)')),
    gtins: Type.Optional(
      Type.Array(Type.String({ pattern: GTIN_PATTERN }), {
        minItems: 1,
        maxItems: 1000,
        description: 'items the offer applies to (GTIN-8/12/13/14); absent: the whole basket',
      }),
    ),
    discount: Type.Object(
      {
        kind: Enum(['percent', 'amount', 'price'] as const, 'percent off, an amount off, or a fixed price'),
        value: Type.Number({ minimum: 0, maximum: 1e9, description: 'percent (0–100) or amount' }),
        currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217, for amounts' })),
      },
      { additionalProperties: false },
    ),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'text for the receipt' })),
    validFrom: Type.Optional(Type.String({ format: 'date-time', description: 'not before (default: now)' })),
    validUntil: Type.String({ format: 'date-time', description: 'expiry; the gateway drops the offer then' }),
  },
  { additionalProperties: false },
);

export const OfferRetraction = Type.Object(
  {
    offerId: OfferId,
    version: Version,
    retracted: Type.Literal(true, { description: 'the offer is withdrawn' }),
  },
  { additionalProperties: false },
);

export type OfferMessage = Static<typeof Offer>;
export type Retraction = Static<typeof OfferRetraction>;

const ajv = createAjv({ allErrors: true });
const validateOffer = ajv.compile(Offer);
const validateRetraction = ajv.compile(OfferRetraction);

/** GS1 mod-10 check of a GTIN of any length (the last digit is the check digit). */
export function gtinValid(gtin: string): boolean {
  let sum = 0;
  for (let i = gtin.length - 2, w = 3; i >= 0; i--, w = 4 - w) sum += (gtin.charCodeAt(i) - 48) * w;
  return (10 - (sum % 10)) % 10 === gtin.charCodeAt(gtin.length - 1) - 48;
}

/** GTINs compared as GTIN-14: a POS may send the EAN-13 of an item the offer lists as GTIN-14. */
export const gtin14 = (gtin: string) => gtin.padStart(14, '0');

export type Parsed =
  | { kind: 'offer'; offer: OfferMessage; from: number; until: number }
  | { kind: 'retraction'; retraction: Retraction }
  | { kind: 'invalid'; issues: SchemaIssue[] };

/** Checks one message published for `topicOfferId`. Pure: no clock, no I/O. */
export function parseOfferMessage(topicOfferId: string, value: unknown): Parsed {
  const isRetraction = typeof value === 'object' && value !== null && 'retracted' in value;
  const validate = isRetraction ? validateRetraction : validateOffer;
  if (!validate(value)) return { kind: 'invalid', issues: describeErrors(validate.errors) };
  const msg = value as OfferMessage | Retraction;
  const issues: SchemaIssue[] = [];
  if (msg.offerId !== topicOfferId)
    issues.push({ path: '/offerId', message: "must equal the topic's last level" });
  if ('retracted' in msg)
    return issues.length ? { kind: 'invalid', issues } : { kind: 'retraction', retraction: msg };
  if ((msg.loyaltyId === undefined) === (msg.segment === undefined)) {
    issues.push({ path: '/', message: 'must have exactly one of loyaltyId and segment' });
  }
  if (msg.discount.kind === 'percent' && msg.discount.value > 100) {
    issues.push({ path: '/discount/value', message: 'must be at most 100 for a percent discount' });
  }
  msg.gtins?.forEach((g, i) => {
    if (!gtinValid(g)) issues.push({ path: `/gtins/${i}`, message: 'has a wrong check digit' });
  });
  const from = msg.validFrom === undefined ? 0 : Date.parse(msg.validFrom);
  const until = Date.parse(msg.validUntil);
  if (from >= until) issues.push({ path: '/validUntil', message: 'must be after validFrom' });
  if (issues.length > 0) return { kind: 'invalid', issues };
  return { kind: 'offer', offer: msg, from, until };
}
