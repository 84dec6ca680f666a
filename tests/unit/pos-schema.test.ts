import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_GTIN_PRODUCTS } from '../../simulators/personalization.js';
import { SimulatedPosLane } from '../../simulators/pos-lane.js';
import { isGatewayError } from '../../src/errors.js';
import { EventFactory } from '../../src/events/envelope.js';
import { silentLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { AnswerStore } from '../../src/pos/idempotency.js';
import { PosIngest, transactionHash } from '../../src/pos/ingest.js';
import type { PosTransaction } from '../../src/pos/schema.js';
import { tmpDir } from '../helpers/tmp.js';

const lane = new SimulatedPosLane({
  apiUrl: 'http://unused',
  token: 'x',
  storeId: '0421',
  workstationId: 'lane-1',
});
const sample = (): PosTransaction => lane.buildTransaction(DEMO_GTIN_PRODUCTS.slice(0, 3), 'LOY-1', []);

function ingestWith(dir: string, accept: (seq: number) => Promise<number>) {
  const store = new AnswerStore(join(dir, 'pos.db'), { log: silentLogger(), now: Date.now });
  let seq = 0;
  const ingest = new PosIngest({
    storeId: '0421',
    factory: new EventFactory({ storeId: '0421', gatewayId: 'gw' }),
    accept: () => accept(++seq),
    store,
    clock: { now: Date.now },
    metrics: new Metrics(),
    log: silentLogger(),
  });
  return { ingest, store };
}

const issuesOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (isGatewayError(err, 'GW_ERR_REQUEST_INVALID'))
      return (err.details as { path: string }[]).map((d) => d.path);
    throw err;
  }
  return [];
};

describe('POS transaction schema', () => {
  let dir: ReturnType<typeof tmpDir>;
  let ingest: PosIngest;
  let store: AnswerStore;
  beforeEach(() => {
    dir = tmpDir('sg-pos-');
    ({ ingest, store } = ingestWith(dir.path, async (s) => s));
  });
  afterEach(() => {
    store.close();
    dir.cleanup();
  });

  it('accepts a sale with a return, a void line, discounts and several tenders', () => {
    const tx = sample();
    const full: PosTransaction = {
      ...tx,
      cancelled: false,
      lineItems: [
        ...tx.lineItems,
        {
          sequenceNumber: 10,
          type: 'return',
          itemId: 'PLU-4011',
          quantity: 0.532,
          unitOfMeasure: 'KGM',
          unitPrice: 1.99,
          extendedAmount: 1.06,
        },
        {
          sequenceNumber: 11,
          type: 'void',
          voidedLine: 10,
          itemId: 'PLU-4011',
          quantity: 0.532,
          unitPrice: 1.99,
          extendedAmount: 1.06,
        },
      ],
      discounts: [{ amount: 1, reason: 'coupon' }],
      tenders: [
        { type: 'credit', amount: 5, cardType: 'VISA', authorizationCode: 'A1B2C3' },
        { type: 'cash', amount: 10, change: 2.5 },
      ],
    };
    expect(ingest.check(full)).toBe(full);
  });

  it('refuses unknown keys (no card numbers can ride along) and lists every path', () => {
    const tx = sample();
    const bad = {
      ...tx,
      businessDayDate: '24.11.2026',
      tenders: [{ type: 'credit', amount: 5, pan: '4111111111111111' }],
      lineItems: [{ ...tx.lineItems[0], gtin: '12345', unitPrice: -1 }],
    };
    expect(issuesOf(() => ingest.check(bad))).toEqual(
      expect.arrayContaining([
        '/businessDayDate',
        '/tenders/0',
        '/lineItems/0/gtin',
        '/lineItems/0/unitPrice',
      ]),
    );
  });

  it('checks what the schema cannot: store, unique line numbers, void lines', () => {
    const tx = sample();
    const l = tx.lineItems[0] as PosTransaction['lineItems'][number];
    const lines: PosTransaction['lineItems'] = [
      l,
      { ...l, sequenceNumber: 2, type: 'void' },
      { ...l, sequenceNumber: 3, type: 'void', voidedLine: 9 },
      { ...l, sequenceNumber: 4, voidedLine: 1 },
      { ...l, sequenceNumber: 5, type: 'void', voidedLine: 1 },
    ];
    expect(issuesOf(() => ingest.check({ ...tx, storeId: '0001', lineItems: lines }))).toEqual([
      '/storeId',
      '/lineItems/1/voidedLine',
      '/lineItems/2/voidedLine',
      '/lineItems/3/voidedLine',
    ]);
  });

  it('hashes a transaction the same whatever the order of its keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.integer(), fc.string(), fc.boolean())), (obj) => {
        const shuffled = Object.fromEntries(Object.entries(obj).reverse());
        expect(transactionHash({ a: obj, b: [obj] })).toBe(transactionHash({ b: [shuffled], a: shuffled }));
      }),
    );
    expect(transactionHash({ a: 1 })).not.toBe(transactionHash({ a: 2 }));
  });
});

describe('PosIngest and its answer store', () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeEach(() => {
    dir = tmpDir('sg-pos-');
  });
  afterEach(() => dir.cleanup());

  it('concurrent duplicates wait for the first and share its answer', async () => {
    let release: (seq: number) => void = () => {};
    let calls = 0;
    const { ingest, store } = ingestWith(dir.path, () => {
      calls++;
      return new Promise((r) => {
        release = r;
      });
    });
    const tx = sample();
    const who = { name: 'lane-1', scopes: null };
    const all = Array.from({ length: 20 }, (_, i) => ingest.post(who, tx, i % 2 ? undefined : 'k'));
    // Every duplicate found the first in flight: the outbox was asked once.
    expect(calls).toBe(1);
    release(41);
    const answers = await Promise.all(all);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
    expect(JSON.parse(answers[0]?.body ?? '{}')).toMatchObject({ seq: 41, status: 'accepted' });
    expect(store.count).toBe(2); // the natural key and the Idempotency-Key
    store.close();
  });

  it('a refused event leaves no answer behind, so the retry goes through', async () => {
    let refuse = true;
    const { ingest, store } = ingestWith(dir.path, async (seq) => {
      if (refuse) throw new (await import('../../src/errors.js')).GatewayError('GW_ERR_BUFFER_FULL');
      return seq;
    });
    const tx = sample();
    const who = { name: 'lane-1', scopes: null };
    await expect(ingest.post(who, tx, 'k')).rejects.toThrow(/buffer is full/);
    expect(store.count).toBe(0);
    refuse = false;
    const ok = await ingest.post(who, tx, 'k');
    expect(ok).toMatchObject({ status: 202, replayed: false });
    store.close();
  });

  it('purges answers older than the retention window', () => {
    const store = new AnswerStore(join(dir.path, 'pos.db'), { log: silentLogger(), now: Date.now });
    const factory = new EventFactory({ storeId: '0421', gatewayId: 'gw' });
    const ev = factory.create('retail.pos.transaction.v1', 'lane-1', sample(), 0);
    store.begin(['old'], 'h', ev, 1000);
    store.complete(['old'], 'h', 202, '{}', 1000);
    store.complete(['new'], 'h', 202, '{}', 5000);
    expect(store.find(['old'])).toMatchObject({ status: 202, answer: '{}', event: null });
    expect(store.purge(2000)).toBe(1);
    expect(store.find(['old'])).toBeUndefined();
    expect(store.find(['missing', 'new'])?.key).toBe('new');
    store.close();
  });
});
