import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withCheckDigit } from '../../simulators/barcodes.js';
import { silentLogger } from '../../src/logger.js';
import { gtinValid, type OfferMessage, parseOfferMessage } from '../../src/offers/schema.js';
import { OfferStore, TOMBSTONE_MS } from '../../src/offers/store.js';
import { tmpDir } from '../helpers/tmp.js';

const T0 = Date.parse('2031-03-01T10:00:00.000Z');
const HOUR = 3600_000;
const GTIN13 = withCheckDigit('400638133393');
const GTIN8 = withCheckDigit('9638507');

function offer(o: Partial<OfferMessage> = {}): OfferMessage {
  return {
    offerId: 'coffee-10',
    version: 1,
    loyaltyId: 'LOY-1',
    gtins: [GTIN13],
    discount: { kind: 'percent', value: 10 },
    validUntil: new Date(T0 + 24 * HOUR).toISOString(),
    ...o,
  };
}

describe('parseOfferMessage', () => {
  it('accepts an offer and a retraction', () => {
    expect(parseOfferMessage('coffee-10', offer())).toMatchObject({
      kind: 'offer',
      until: T0 + 24 * HOUR,
      from: 0,
    });
    expect(parseOfferMessage('coffee-10', { offerId: 'coffee-10', version: 2, retracted: true })).toEqual({
      kind: 'retraction',
      retraction: { offerId: 'coffee-10', version: 2, retracted: true },
    });
  });

  it('lists every problem by path', () => {
    const r = parseOfferMessage('other-id', {
      ...offer({
        segment: 'coffee',
        gtins: [withCheckDigit('400638133393').replace(/.$/, (d) => String((+d + 1) % 10))],
      }),
      discount: { kind: 'percent', value: 120 },
      validFrom: new Date(T0 + 48 * HOUR).toISOString(),
    });
    expect(r.kind).toBe('invalid');
    const paths = r.kind === 'invalid' ? r.issues.map((i) => i.path) : [];
    expect(paths).toEqual(['/offerId', '/', '/discount/value', '/gtins/0', '/validUntil']);
    const schema = parseOfferMessage('coffee-10', {
      offerId: 'coffee-10',
      version: 0,
      discount: {},
      extra: 1,
    });
    expect(schema.kind === 'invalid' && schema.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['/version', '/validUntil', '/discount/kind', '/discount/value', '/']),
    );
    expect(parseOfferMessage('x', { offerId: 'x', version: 1, retracted: false }).kind).toBe('invalid');
  });

  it('checks GS1 check digits', () => {
    expect(gtinValid(GTIN13)).toBe(true);
    expect(gtinValid(GTIN8)).toBe(true);
    expect(gtinValid('9501101531000')).toBe(true);
    expect(gtinValid('9501101531001')).toBe(false);
  });
});

describe('OfferStore (SQLite file)', () => {
  let dir: ReturnType<typeof tmpDir>;
  let now: number;
  let store: OfferStore;
  const open = (maxOffers = 100) =>
    new OfferStore(join(dir.path, 'offers.db'), { maxOffers, log: silentLogger(), now: () => now });
  const apply = (o: unknown, id = 'coffee-10') => store.apply(id, parseOfferMessage(id, o));
  const ids = (q: Parameters<OfferStore['lookup']>[0]) =>
    store.lookup(q).map((p) => {
      const o = JSON.parse(p) as OfferMessage;
      return `${o.offerId}@${o.version}`;
    });

  beforeEach(() => {
    dir = tmpDir('sg-offers-');
    now = T0;
    store = open();
  });
  afterEach(() => {
    store.close();
    dir.cleanup();
  });

  it('stores an offer and finds it by loyalty id, by GTIN in any length, not for others', () => {
    expect(apply(offer())).toBe('stored');
    expect(store.size).toBe(1);
    expect(ids({ loyaltyId: 'LOY-1' })).toEqual(['coffee-10@1']);
    expect(ids({ loyaltyId: 'LOY-1', gtin: GTIN13 })).toEqual(['coffee-10@1']);
    expect(ids({ loyaltyId: 'LOY-1', gtin: `0${GTIN13}` })).toEqual(['coffee-10@1']);
    expect(ids({ loyaltyId: 'LOY-1', gtin: GTIN8 })).toEqual([]);
    expect(ids({ loyaltyId: 'LOY-2' })).toEqual([]);
    expect(JSON.parse(store.lookup({ loyaltyId: 'LOY-1' })[0] ?? '')).toEqual(offer());
  });

  it('finds segment offers for the segments asked, together with personal ones', () => {
    apply(offer());
    apply(
      offer({ offerId: 'seg-a', loyaltyId: undefined, segment: 'coffee-lovers', gtins: undefined }),
      'seg-a',
    );
    apply(offer({ offerId: 'seg-b', loyaltyId: undefined, segment: 'students' }), 'seg-b');
    expect(ids({ loyaltyId: 'LOY-1', segments: ['coffee-lovers'] })).toEqual(['coffee-10@1', 'seg-a@1']);
    expect(ids({ segments: ['students', 'coffee-lovers'] })).toEqual(['seg-a@1', 'seg-b@1']);
    // A basket-wide offer (no gtins) is not an offer for one item.
    expect(ids({ segments: ['coffee-lovers'], gtin: GTIN13 })).toEqual([]);
  });

  it('a later version replaces an earlier one; an older or equal one changes nothing', () => {
    apply(offer({ version: 2, gtins: [GTIN8] }));
    expect(
      apply(
        offer({ version: 3, gtins: [GTIN13], discount: { kind: 'amount', value: 0.5, currency: 'EUR' } }),
      ),
    ).toBe('replaced');
    expect(apply(offer({ version: 1 }))).toBe('stale');
    expect(
      apply(
        offer({ version: 3, gtins: [GTIN13], discount: { kind: 'amount', value: 0.5, currency: 'EUR' } }),
      ),
    ).toBe('unchanged');
    expect(ids({ loyaltyId: 'LOY-1' })).toEqual(['coffee-10@3']);
    expect(ids({ loyaltyId: 'LOY-1', gtin: GTIN8 })).toEqual([]);
    expect(ids({ loyaltyId: 'LOY-1', gtin: GTIN13 })).toEqual(['coffee-10@3']);
    expect(store.size).toBe(1);
  });

  it('a retraction removes the offer, and an older version cannot bring it back', () => {
    apply(offer({ version: 4 }));
    expect(apply({ offerId: 'coffee-10', version: 3, retracted: true })).toBe('stale');
    expect(apply({ offerId: 'coffee-10', version: 5, retracted: true })).toBe('retracted');
    expect(ids({ loyaltyId: 'LOY-1' })).toEqual([]);
    expect(store.size).toBe(0);
    expect(apply(offer({ version: 4 }))).toBe('stale');
    expect(apply(offer({ version: 5 }))).toBe('stale');
    expect(apply(offer({ version: 6 }))).toBe('stored');
    expect(ids({ loyaltyId: 'LOY-1' })).toEqual(['coffee-10@6']);
  });

  it('an empty retained payload removes the offer whatever its version', () => {
    apply(offer({ version: 9 }));
    expect(store.apply('coffee-10', null)).toBe('retracted');
    expect(store.apply('coffee-10', null)).toBe('unchanged');
    expect(ids({ loyaltyId: 'LOY-1' })).toEqual([]);
    expect(apply(offer({ version: 9 }))).toBe('stale');
    expect(apply(offer({ version: 10 }))).toBe('stored');
  });

  it('serves an offer only inside its validity window and purges it after', () => {
    apply(
      offer({
        validFrom: new Date(T0 + HOUR).toISOString(),
        validUntil: new Date(T0 + 2 * HOUR).toISOString(),
      }),
    );
    expect(ids({ loyaltyId: 'LOY-1' })).toEqual([]);
    now = T0 + HOUR;
    expect(ids({ loyaltyId: 'LOY-1' })).toEqual(['coffee-10@1']);
    now = T0 + 2 * HOUR;
    expect(ids({ loyaltyId: 'LOY-1' })).toEqual([]);
    expect(store.purge()).toBe(1);
    expect(store.size).toBe(0);
    // An offer that arrives already over is not stored.
    expect(apply(offer({ version: 2, validUntil: new Date(T0).toISOString() }))).toBe('expired');
    expect(store.size).toBe(0);
  });

  it('a newer version that is already over ends the live offer', () => {
    apply(offer({ version: 1 }));
    expect(apply(offer({ version: 2, validUntil: new Date(T0 - 1).toISOString() }))).toBe('expired');
    expect(ids({ loyaltyId: 'LOY-1' })).toEqual([]);
  });

  it('forgets a retraction once its tombstone has aged out', () => {
    apply(offer({ version: 1 }));
    apply({ offerId: 'coffee-10', version: 1, retracted: true });
    now = T0 + TOMBSTONE_MS + 25 * HOUR;
    expect(store.purge()).toBe(1);
    expect(apply(offer({ version: 1, validUntil: new Date(now + HOUR).toISOString() }))).toBe('stored');
  });

  it('refuses new offers beyond maxOffers, still accepts new versions of cached ones', () => {
    store.close();
    store = open(2);
    apply(offer({ offerId: 'a' }), 'a');
    apply(offer({ offerId: 'b' }), 'b');
    expect(apply(offer({ offerId: 'c' }), 'c')).toBe('full');
    expect(apply(offer({ offerId: 'a', version: 2 }), 'a')).toBe('replaced');
    store.apply('b', null);
    expect(apply(offer({ offerId: 'c' }), 'c')).toBe('stored');
  });

  it('applies a burst in one transaction, in order, with the same results one by one would give', () => {
    const msgs = [
      ['a', parseOfferMessage('a', offer({ offerId: 'a' }))],
      ['a', parseOfferMessage('a', offer({ offerId: 'a', version: 2 }))],
      ['b', parseOfferMessage('b', offer({ offerId: 'b', loyaltyId: 'LOY-2' }))],
      ['a', null],
      ['c', parseOfferMessage('c', { offerId: 'c' })],
    ] as const;
    expect(store.applyAll(msgs)).toEqual(['stored', 'replaced', 'stored', 'retracted', 'invalid']);
    expect(store.size).toBe(1);
    expect(ids({ loyaltyId: 'LOY-2' })).toEqual(['b@1']);
  });

  it('counts invalid messages without storing them', () => {
    expect(store.apply('coffee-10', { kind: 'invalid', issues: [] })).toBe('invalid');
    expect(store.size).toBe(0);
  });

  it('keeps offers across a reopen, and starts afresh from a corrupt file (kept aside)', () => {
    apply(offer());
    store.close();
    store = open();
    expect(store.size).toBe(1);
    expect(ids({ loyaltyId: 'LOY-1' })).toEqual(['coffee-10@1']);
    store.close();
    writeFileSync(join(dir.path, 'offers.db'), Buffer.alloc(8192, 0x5a));
    store = open();
    expect(store.size).toBe(0);
    expect(readdirSync(dir.path).some((f) => f.startsWith('offers.db.corrupt-'))).toBe(true);
    expect(existsSync(join(dir.path, 'offers.db'))).toBe(true);
  });
});
