import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OfferMessage } from '../src/offers/schema.js';
import type { PosTransaction } from '../src/pos/schema.js';
import { sleep } from '../src/util/sleep.js';
import { pick, type SimBarcode, seededRandom } from './barcodes.js';
import { DEMO_GTIN_PRODUCTS, DEMO_LOYALTY_ID, PersonalizationService } from './personalization.js';

/** Shelf prices of the demo products, by GTIN. */
const PRICES = [0.89, 2.49, 4.99, 1.79, 0.99, 3.29];
const priceOf = (p: SimBarcode) => PRICES[DEMO_GTIN_PRODUCTS.indexOf(p) % PRICES.length] ?? 1;
const money = (n: number) => Math.round(n * 100) / 100;

export interface PosLaneOptions {
  /** Base URL of the gateway's local API, e.g. http://127.0.0.1:8080. */
  apiUrl: string;
  /** This lane's bearer token. */
  token: string;
  storeId: string;
  workstationId: string;
  currency?: string;
  operatorId?: string;
  seed?: number;
  /** First transaction number (POS numbering restarts each business day). */
  startSequence?: number;
}

export interface PostResult {
  status: number;
  body: string;
  replayed: boolean;
}

/**
 * A POS lane as the gateway sees it: it looks up the shopper's offers at the gateway
 * (`GET /v1/offers`), applies those that match the basket, and posts the transaction
 * (`POST /v1/pos/transactions`) with its lane token and an Idempotency-Key, retrying with the same
 * key on 503 or a lost connection, as a real lane must.
 */
export class SimulatedPosLane {
  private sequence: number;
  private readonly random: () => number;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  readonly posted: { tx: PosTransaction; result: PostResult }[] = [];

  constructor(readonly options: PosLaneOptions) {
    this.sequence = options.startSequence ?? 1;
    this.random = seededRandom(options.seed ?? 7);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.options.token}`, ...extra };
  }

  /** The offers the gateway has for a loyalty id (and optionally one item). */
  async fetchOffers(loyaltyId: string, gtin?: string): Promise<OfferMessage[]> {
    const q = new URLSearchParams({ loyaltyId, ...(gtin ? { gtin } : {}) });
    const res = await fetch(`${this.options.apiUrl}/v1/offers?${q}`, { headers: this.headers() });
    if (res.status !== 200) throw new Error(`GET /v1/offers: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { offers: OfferMessage[] }).offers;
  }

  /** A transaction for `basket`, with every matching offer applied to its lines. */
  buildTransaction(
    basket: readonly SimBarcode[],
    loyaltyId: string | undefined,
    offers: readonly OfferMessage[],
  ) {
    const now = new Date();
    const end = now.toISOString();
    const begin = new Date(now.getTime() - 20_000 - basket.length * 3000).toISOString();
    let gross = 0;
    let discountTotal = 0;
    const lineItems: PosTransaction['lineItems'] = basket.map((p, i) => {
      const unitPrice = priceOf(p);
      const quantity = 1 + Math.floor(this.random() * 2);
      const extendedAmount = money(unitPrice * quantity);
      gross += extendedAmount;
      const offer = offers.find((o) =>
        o.gtins?.some((g) => g.padStart(14, '0') === p.text.padStart(14, '0')),
      );
      const discounts: NonNullable<PosTransaction['lineItems'][number]['discounts']> = [];
      if (offer) {
        const d = offer.discount;
        const amount = money(
          d.kind === 'percent'
            ? (extendedAmount * d.value) / 100
            : d.kind === 'amount'
              ? Math.min(d.value, extendedAmount)
              : Math.max(0, extendedAmount - d.value * quantity),
        );
        discounts.push({ amount, offerId: offer.offerId, reason: 'loyalty' });
        discountTotal += amount;
      }
      return {
        sequenceNumber: i + 1,
        type: 'sale' as const,
        itemId: p.text,
        gtin: p.text,
        description: p.name,
        quantity,
        unitPrice,
        extendedAmount,
        entryMethod: 'scanned' as const,
        ...(discounts.length ? { discounts } : {}),
      };
    });
    const grand = money(gross - discountTotal);
    const tx: PosTransaction = {
      storeId: this.options.storeId,
      workstationId: this.options.workstationId,
      sequenceNumber: this.sequence++,
      businessDayDate: end.slice(0, 10),
      beginDateTime: begin,
      endDateTime: end,
      operatorId: this.options.operatorId ?? 'op-17',
      currencyCode: this.options.currency ?? 'EUR',
      ...(loyaltyId ? { loyaltyAccountId: loyaltyId } : {}),
      lineItems,
      tenders: [{ type: this.random() < 0.5 ? 'debit' : 'cash', amount: grand }],
      totals: { subtotal: money(gross), discount: money(discountTotal), grand },
      itemCount: lineItems.reduce((n, l) => n + l.quantity, 0),
    };
    return tx;
  }

  /** Posts a transaction; retries with the same Idempotency-Key on 503 and lost connections. */
  async post(
    tx: PosTransaction,
    opts: { idempotencyKey?: string; attempts?: number } = {},
  ): Promise<PostResult> {
    const key = opts.idempotencyKey ?? randomUUID();
    const attempts = opts.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(`${this.options.apiUrl}/v1/pos/transactions`, {
          method: 'POST',
          headers: this.headers({ 'content-type': 'application/json', 'idempotency-key': key }),
          body: JSON.stringify(tx),
        });
        const body = await res.text();
        const result = {
          status: res.status,
          body,
          replayed: res.headers.get('idempotent-replayed') === 'true',
        };
        if (res.status !== 503 || attempt >= attempts) return result;
        const retryAfter = Number(res.headers.get('retry-after') ?? '1');
        await sleep(Math.min(retryAfter, 5) * 1000, this.abort.signal);
      } catch (err) {
        if (attempt >= attempts) throw err;
        await sleep(500 * attempt, this.abort.signal);
      }
    }
  }

  /** One shopper at this lane: scan a basket, look up her offers, pay, post. */
  async checkout(loyaltyId?: string): Promise<{ tx: PosTransaction; result: PostResult }> {
    const size = 2 + Math.floor(this.random() * 3);
    const basket = Array.from({ length: size }, () => pick(DEMO_GTIN_PRODUCTS, this.random));
    const offers = loyaltyId ? await this.fetchOffers(loyaltyId) : [];
    // The loyalty shopper came for her offer: make sure the offered product is in the basket.
    const offered = offers.flatMap((o) => o.gtins ?? [])[0];
    const product = DEMO_GTIN_PRODUCTS.find((p) => p.text === offered);
    if (product && !basket.includes(product)) basket[0] = product;
    const tx = this.buildTransaction(basket, loyaltyId, offers);
    const result = await this.post(tx);
    this.posted.push({ tx, result });
    return { tx, result };
  }

  /** Checks out a shopper every `everyMs` (every other one with the loyalty card) until stopped. */
  run(opts: {
    everyMs: number;
    firstAfterMs?: number;
    loyaltyId?: string;
    onError?: (err: unknown) => void;
  }): void {
    const signal = this.abort.signal;
    this.loop = (async () => {
      if (!(await sleep(opts.firstAfterMs ?? opts.everyMs, signal))) return;
      for (let n = 0; !signal.aborted; n++) {
        await this.checkout(n % 2 === 0 ? (opts.loyaltyId ?? DEMO_LOYALTY_ID) : undefined).catch(
          (err: unknown) => opts.onError?.(err),
        );
        if (!(await sleep(opts.everyMs * (0.75 + this.random() / 2), signal))) return;
      }
    })();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}

/** A token for the tokens file: 32 random bytes, hex. */
export const newToken = () => randomBytes(32).toString('hex');

/**
 * The POS side of the demo journey: a tokens file (one token per lane, scopes pos and offers), the
 * config sections that switch POS ingest, the offers cache and the live stream on, and once the
 * gateway runs, a personalization service pushing the loyalty shopper's offer and one POS lane per
 * checkout lane posting transactions that apply it.
 */
export function posJourney(opts: { dir: string; storeId: string; lanes: number; seed?: number }) {
  const lanes = Array.from({ length: opts.lanes }, (_, i) => ({ id: `lane-${i + 1}`, token: newToken() }));
  const tokensFile = join(opts.dir, 'api-tokens');
  writeFileSync(
    tokensFile,
    [
      '# token  name  scopes',
      ...lanes.map((l) => `${l.token} ${l.id} pos,offers`),
      `${newToken()} kiosk stream,offers`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  let personalization: PersonalizationService | undefined;
  let posLanes: SimulatedPosLane[] = [];
  return {
    tokensFile,
    lanes,
    /** The running lanes (after `start`), for inspection. */
    get posLanes(): readonly SimulatedPosLane[] {
      return posLanes;
    },
    sections: { pos: { enabled: true }, offers: { enabled: true }, stream: { enabled: true } },
    /** `offerOn: 'presence'`: personalization waits for the loyalty app to be seen in the store. */
    async start(
      apiUrl: string,
      brokerUrl: string,
      onError?: (err: unknown) => void,
      offerOn: 'timer' | 'presence' = 'timer',
    ): Promise<void> {
      personalization = new PersonalizationService({ url: brokerUrl, storeId: opts.storeId });
      await personalization.start();
      personalization.runDemo({ on: offerOn });
      posLanes = lanes.map(
        (l, i) =>
          new SimulatedPosLane({
            apiUrl,
            token: l.token,
            storeId: opts.storeId,
            workstationId: l.id,
            seed: (opts.seed ?? 42) + i,
          }),
      );
      // The lanes open once the gateway serves the shopper's offer (or after 10 s without it).
      const first = posLanes[0];
      for (let i = 0; first && i < 100; i++) {
        const offers = await first.fetchOffers(DEMO_LOYALTY_ID).catch(() => []);
        if (offers.length > 0 || !(await sleep(100))) break;
      }
      posLanes.forEach((lane, i) => {
        lane.run({ everyMs: 6000, firstAfterMs: 500 + i * 700, onError });
      });
    },
    async stop(): Promise<void> {
      await Promise.all(posLanes.map((l) => l.stop()));
      await personalization?.stop();
    },
  };
}
