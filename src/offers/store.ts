import type { Logger } from '../logger.js';
import { type Db, openLocalDb } from './local-db.js';
import { gtin14, type Parsed } from './schema.js';

/** What became of one message; also the `result` label of sg_offers_messages_total. */
export type ApplyResult =
  | 'stored'
  | 'replaced'
  | 'unchanged'
  | 'stale'
  | 'retracted'
  | 'expired'
  | 'full'
  | 'invalid';

export interface LookupQuery {
  loyaltyId?: string;
  segments?: readonly string[];
  gtin?: string;
}

const SCHEMA_VERSION = 1;
/** How long a retraction is remembered when the retracted offer's own expiry is unknown or sooner. */
export const TOMBSTONE_MS = 7 * 24 * 3600_000;
const MAX_RESULTS = 200;

interface Row {
  version: number;
  valid_until: number;
  live: number;
}

/**
 * The offers cache, in its own SQLite file (offers.db). Each offer id has one row: the live offer
 * (its JSON, served as published, with its target and validity), or a tombstone after a retraction
 * so that an older version arriving late cannot bring it back. The GTINs an offer applies to sit
 * in a side table, as GTIN-14, for the lookup by item.
 */
export class OfferStore {
  private readonly db: Db;
  private readonly stmt;
  private readonly write: (
    offerId: string,
    version: number,
    target: string,
    from: number,
    until: number,
    payload: string,
    gtins: readonly string[],
    now: number,
  ) => void;
  private readonly bury: (offerId: string, version: number, until: number) => void;
  private readonly purgeTx: (now: number) => number;
  private readonly batchTx: (items: readonly (readonly [string, Parsed | null])[]) => ApplyResult[];
  private live: number;

  constructor(
    path: string,
    private readonly opts: { maxOffers: number; log: Logger; now: () => number },
  ) {
    this.db = openLocalDb({
      path,
      what: 'offers cache',
      version: SCHEMA_VERSION,
      log: opts.log,
      now: opts.now,
      migrate: (db) =>
        db.exec(`
          CREATE TABLE IF NOT EXISTS offers (
            offer_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            target TEXT,
            valid_from INTEGER NOT NULL,
            valid_until INTEGER NOT NULL,
            payload TEXT,
            received_at INTEGER NOT NULL
          ) WITHOUT ROWID;
          CREATE INDEX IF NOT EXISTS offers_target ON offers (target, valid_until) WHERE target IS NOT NULL;
          CREATE INDEX IF NOT EXISTS offers_expiry ON offers (valid_until);
          CREATE TABLE IF NOT EXISTS offer_gtins (
            gtin TEXT NOT NULL,
            offer_id TEXT NOT NULL,
            PRIMARY KEY (gtin, offer_id)
          ) WITHOUT ROWID;
          CREATE INDEX IF NOT EXISTS offer_gtins_offer ON offer_gtins (offer_id);
        `),
    });
    const db = this.db;
    this.stmt = {
      get: db.prepare(
        'SELECT version, valid_until, payload IS NOT NULL AS live FROM offers WHERE offer_id = ?',
      ),
      upsert: db.prepare(
        `INSERT INTO offers (offer_id, version, target, valid_from, valid_until, payload, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (offer_id) DO UPDATE SET version = excluded.version, target = excluded.target,
           valid_from = excluded.valid_from, valid_until = excluded.valid_until,
           payload = excluded.payload, received_at = excluded.received_at`,
      ),
      tombstone: db.prepare(
        `INSERT INTO offers (offer_id, version, target, valid_from, valid_until, payload, received_at)
         VALUES (?, ?, NULL, 0, ?, NULL, 0)
         ON CONFLICT (offer_id) DO UPDATE SET version = excluded.version, target = NULL,
           valid_until = excluded.valid_until, payload = NULL`,
      ),
      addGtin: db.prepare('INSERT OR IGNORE INTO offer_gtins (gtin, offer_id) VALUES (?, ?)'),
      dropGtins: db.prepare('DELETE FROM offer_gtins WHERE offer_id = ?'),
      lookup: db
        .prepare(
          `SELECT payload FROM offers
           WHERE target IN (SELECT value FROM json_each(?)) AND valid_from <= ? AND valid_until > ?
           ORDER BY offer_id LIMIT ${MAX_RESULTS}`,
        )
        .pluck(),
      // Driven by the target (a shopper has few offers), then the GTIN checked by primary key.
      lookupGtin: db
        .prepare(
          `SELECT o.payload FROM offers o
           WHERE o.target IN (SELECT value FROM json_each(?)) AND o.valid_from <= ? AND o.valid_until > ?
             AND EXISTS (SELECT 1 FROM offer_gtins g WHERE g.gtin = ? AND g.offer_id = o.offer_id)
           ORDER BY o.offer_id LIMIT ${MAX_RESULTS}`,
        )
        .pluck(),
      expiredGtins: db.prepare(
        'DELETE FROM offer_gtins WHERE offer_id IN (SELECT offer_id FROM offers WHERE valid_until <= ?)',
      ),
      expired: db.prepare('DELETE FROM offers WHERE valid_until <= ?'),
      countLive: db.prepare('SELECT count(*) FROM offers WHERE payload IS NOT NULL').pluck(),
    };
    this.write = db.transaction((offerId, version, target, from, until, payload, gtins, now) => {
      this.stmt.upsert.run(offerId, version, target, from, until, payload, now);
      this.stmt.dropGtins.run(offerId);
      for (const g of gtins) this.stmt.addGtin.run(gtin14(g), offerId);
    });
    this.bury = db.transaction((offerId: string, version: number, until: number) => {
      this.stmt.tombstone.run(offerId, version, until);
      this.stmt.dropGtins.run(offerId);
    });
    this.purgeTx = db.transaction((now: number) => {
      this.stmt.expiredGtins.run(now);
      return this.stmt.expired.run(now).changes;
    });
    this.batchTx = db.transaction((items: readonly (readonly [string, Parsed | null])[]) =>
      items.map(([id, parsed]) => this.apply(id, parsed)),
    );
    this.live = this.stmt.countLive.get() as number;
  }

  /**
   * Applies many messages in one transaction (one fsync): a burst of offers from personalization
   * costs one commit, not one per offer.
   */
  applyAll(items: readonly (readonly [offerId: string, parsed: Parsed | null])[]): ApplyResult[] {
    try {
      return this.batchTx(items);
    } catch (err) {
      this.live = this.stmt.countLive.get() as number;
      throw err;
    }
  }

  /** Offers in the cache (not counting tombstones; expired ones count until the next purge). */
  get size(): number {
    return this.live;
  }

  /** Applies one checked message (`null` = an empty retained payload: remove the offer). */
  apply(offerId: string, parsed: Parsed | null): ApplyResult {
    const now = this.opts.now();
    const row = this.stmt.get.get(offerId) as Row | undefined;
    if (parsed === null) {
      if (!row?.live) return 'unchanged';
      return this.retract(offerId, row.version, row);
    }
    if (parsed.kind === 'invalid') return 'invalid';
    if (parsed.kind === 'retraction') {
      const { version } = parsed.retraction;
      if (row && row.version > version) return 'stale';
      if (row && row.version === version && !row.live) return 'unchanged';
      return this.retract(offerId, version, row);
    }
    const { offer, from, until } = parsed;
    if (row && row.version >= offer.version)
      return row.version === offer.version && row.live ? 'unchanged' : 'stale';
    if (until <= now) {
      // A newer version that is already over ends the offer.
      if (row?.live) this.retract(offerId, offer.version, row);
      return 'expired';
    }
    if (!row?.live && this.live >= this.opts.maxOffers) return 'full';
    const target = offer.loyaltyId !== undefined ? `l:${offer.loyaltyId}` : `s:${offer.segment}`;
    this.write(offerId, offer.version, target, from, until, JSON.stringify(offer), offer.gtins ?? [], now);
    if (!row?.live) this.live++;
    return row?.live ? 'replaced' : 'stored';
  }

  private retract(offerId: string, version: number, row: Row | undefined): ApplyResult {
    const until = Math.max(row?.valid_until ?? 0, this.opts.now() + TOMBSTONE_MS);
    this.bury(offerId, version, until);
    if (row?.live) this.live--;
    return 'retracted';
  }

  /**
   * Offers valid now for a loyalty id and/or segments, optionally only those that apply to one
   * GTIN; the offers' JSON as published, in offer id order.
   */
  lookup(q: LookupQuery): string[] {
    const targets = JSON.stringify([
      ...(q.loyaltyId !== undefined ? [`l:${q.loyaltyId}`] : []),
      ...(q.segments ?? []).map((s) => `s:${s}`),
    ]);
    const now = this.opts.now();
    return (
      q.gtin === undefined
        ? this.stmt.lookup.all(targets, now, now)
        : this.stmt.lookupGtin.all(targets, now, now, gtin14(q.gtin))
    ) as string[];
  }

  /** Deletes expired offers and old tombstones; returns how many rows went. */
  purge(): number {
    const n = this.purgeTx(this.opts.now());
    if (n > 0) this.live = this.stmt.countLive.get() as number;
    return n;
  }

  close(): void {
    this.db.close();
  }
}
