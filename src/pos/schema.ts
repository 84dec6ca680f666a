import { type Static, Type } from '@sinclair/typebox';
import { TopicSafeId } from '../config/types.js';

/*
 * A POS transaction: the essentials of an ARTS POSLog `Transaction` with its `RetailTransaction`
 * (docs/POS.md maps every field to its POSLog element). It is both the body of
 * `POST /v1/pos/transactions` and the `data` of `retail.pos.transaction.v1`, unchanged.
 *
 * Amounts are decimal numbers in the currency's major unit, as the POS printed them. Unknown keys
 * are refused, so nothing the schema does not name (card numbers, say) can ride along.
 */

const Amount = (description: string) => Type.Number({ minimum: 0, maximum: 1e9, description });
const Text = (max: number, description: string) => Type.String({ minLength: 1, maxLength: max, description });
const Enum = <T extends string>(values: readonly T[], description: string) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], description });
const DateTime = (description: string) => Type.String({ format: 'date-time', maxLength: 40, description });

export const GTIN_PATTERN = '^([0-9]{8}|[0-9]{12,14})$';

const Discount = Type.Object(
  {
    amount: Amount('discount given (POSLog RetailPriceModifier/Amount)'),
    offerId: Type.Optional(TopicSafeId('the offer applied, as served by GET /v1/offers')),
    reason: Type.Optional(Text(64, 'POS reason code, e.g. loyalty, coupon, markdown')),
  },
  { additionalProperties: false },
);

export const LineItem = Type.Object(
  {
    sequenceNumber: Type.Integer({
      minimum: 1,
      maximum: 100000,
      description: 'line number (LineItem/SequenceNumber)',
    }),
    type: Enum(
      ['sale', 'return', 'void'] as const,
      'sale (Sale), return (Return) or void (a line that cancels an earlier line: VoidFlag)',
    ),
    voidedLine: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100000,
        description: 'for a void line: the sequenceNumber it cancels',
      }),
    ),
    itemId: Text(64, 'POS item id: SKU, PLU or the scanned code (Sale/ItemID)'),
    gtin: Type.Optional(
      Type.String({ pattern: GTIN_PATTERN, description: 'GTIN-8/12/13/14 of the item (Sale/POSIdentity)' }),
    ),
    description: Type.Optional(Text(200, 'item description (Sale/Description)')),
    quantity: Type.Number({
      exclusiveMinimum: 0,
      maximum: 100000,
      description: 'units, or a weight for weighed items (Sale/Quantity)',
    }),
    unitOfMeasure: Type.Optional(Text(8, 'e.g. EA, KGM (Quantity/@UnitOfMeasureCode)')),
    unitPrice: Amount('regular unit price (Sale/RegularSalesUnitPrice)'),
    extendedAmount: Amount('quantity × unit price before discounts (Sale/ExtendedAmount)'),
    discounts: Type.Optional(Type.Array(Discount, { maxItems: 20, description: 'discounts on this line' })),
    entryMethod: Type.Optional(
      Enum(['scanned', 'keyed', 'weighed', 'other'] as const, 'LineItem/@EntryMethod'),
    ),
  },
  { additionalProperties: false },
);

const Tender = Type.Object(
  {
    type: Enum(
      ['cash', 'credit', 'debit', 'gift-card', 'voucher', 'mobile', 'loyalty-points', 'other'] as const,
      'Tender/@TenderType',
    ),
    amount: Amount('amount tendered (Tender/Amount)'),
    change: Type.Optional(Amount('change given (Tender/TenderChange)')),
    cardType: Type.Optional(Text(32, 'card scheme, never the card number (CreditDebit/@CardType)')),
    authorizationCode: Type.Optional(Text(32, 'Tender/Authorization/AuthorizationCode')),
  },
  { additionalProperties: false },
);

const Totals = Type.Object(
  {
    subtotal: Type.Optional(Amount('before transaction discounts and tax')),
    discount: Type.Optional(Amount('all discounts (Total[@TotalType=TransactionDiscountAmount])')),
    tax: Type.Optional(Amount('tax (Total[@TotalType=TransactionTaxAmount])')),
    grand: Amount('amount due (Total[@TotalType=TransactionGrandAmount])'),
  },
  { additionalProperties: false },
);

export const PosTransactionData = Type.Object(
  {
    storeId: TopicSafeId("store id, the gateway's own (RetailStoreID)"),
    workstationId: TopicSafeId("the lane or register (WorkstationID); the topic's device level"),
    sequenceNumber: Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'transaction number on the workstation (SequenceNumber)',
    }),
    businessDayDate: Type.String({
      format: 'date',
      description: 'business day, YYYY-MM-DD (BusinessDayDate)',
    }),
    beginDateTime: Type.Optional(DateTime('when the transaction began (BeginDateTime)')),
    endDateTime: DateTime('when the transaction ended (EndDateTime)'),
    operatorId: Type.Optional(Text(64, 'cashier (OperatorID)')),
    currencyCode: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code (CurrencyCode)' }),
    cancelled: Type.Optional(
      Type.Boolean({ description: 'the whole transaction was cancelled (@CancelFlag)' }),
    ),
    loyaltyAccountId: Type.Optional(Text(64, 'loyalty account (Customer/LoyaltyAccount/LoyaltyAccountID)')),
    lineItems: Type.Array(LineItem, { maxItems: 2000, description: 'sales, returns and voids' }),
    discounts: Type.Optional(
      Type.Array(Discount, { maxItems: 50, description: 'discounts on the whole transaction' }),
    ),
    tenders: Type.Array(Tender, { maxItems: 50, description: 'how it was paid' }),
    totals: Totals,
    itemCount: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, description: 'ItemCount' })),
  },
  { additionalProperties: false },
);

export type PosTransaction = Static<typeof PosTransactionData>;

/**
 * Rules the schema cannot express, each with the path it is about: the store is this gateway's,
 * line numbers are unique, and a void line names an earlier sale or return line.
 */
export function transactionIssues(tx: PosTransaction, storeId: string): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  if (tx.storeId !== storeId)
    issues.push({ path: '/storeId', message: `must be this gateway's store (${storeId})` });
  const lines = new Map<number, string>();
  tx.lineItems.forEach((item, i) => {
    if (lines.has(item.sequenceNumber)) {
      issues.push({ path: `/lineItems/${i}/sequenceNumber`, message: 'is used by an earlier line' });
    }
    if (item.type === 'void') {
      const target = item.voidedLine === undefined ? undefined : lines.get(item.voidedLine);
      if (item.voidedLine === undefined)
        issues.push({ path: `/lineItems/${i}/voidedLine`, message: 'is required on a void line' });
      else if (target === undefined || target === 'void') {
        issues.push({
          path: `/lineItems/${i}/voidedLine`,
          message: 'must name an earlier sale or return line',
        });
      }
    } else if (item.voidedLine !== undefined) {
      issues.push({ path: `/lineItems/${i}/voidedLine`, message: 'is allowed only on a void line' });
    }
    lines.set(item.sequenceNumber, item.type);
  });
  return issues;
}
