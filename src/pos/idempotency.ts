import type { PendingEvent } from '../events/envelope.js';
import type { Logger } from '../logger.js';
import { type Db, openLocalDb } from '../offers/local-db.js';

/** What is stored under one key: the body's hash, and the answer once there is one. */
export interface StoredAnswer {
  key: string;
  bodyHash: string;
  /** Null while the event is on its way into the buffer (or was when the process died). */
  status: number | null;
  answer: string | null;
  /** The event built for the first request, kept until its answer is stored. */
  event: PendingEvent | null;
}

const SCHEMA_VERSION = 1;

/**
 * The first answer to each POS transaction, by key (natural key and `Idempotency-Key`), in its own
 * SQLite file (pos.db). A row is written before the event goes to the outbox, holding the event
 * itself; the answer is added once the outbox has committed it. If the process dies in between, a
 * retry finds the row without an answer and hands the *same* event (same id) to the outbox again:
 * at worst central sees one duplicate by id, never a second transaction with a new id. Only 2xx
 * answers are kept; a refused event's rows are removed so that a retry can succeed.
 */
export class AnswerStore {
  private readonly db: Db;
  private readonly stmt;
  private readonly beginTx: (keys: string[], hash: string, event: string, now: number) => void;
  private readonly completeTx: (
    keys: string[],
    hash: string,
    status: number,
    answer: string,
    now: number,
  ) => void;
  private readonly abandonTx: (keys: string[]) => void;

  constructor(path: string, deps: { log: Logger; now: () => number }) {
    this.db = openLocalDb({
      path,
      what: 'POS answers',
      version: SCHEMA_VERSION,
      log: deps.log,
      now: deps.now,
      migrate: (db) =>
        db.exec(`
          CREATE TABLE IF NOT EXISTS answers (
            key TEXT PRIMARY KEY,
            body_hash TEXT NOT NULL,
            status INTEGER,
            answer TEXT,
            event TEXT,
            created_at INTEGER NOT NULL
          ) WITHOUT ROWID;
          CREATE INDEX IF NOT EXISTS answers_created ON answers (created_at);
        `),
    });
    const db = this.db;
    this.stmt = {
      find: db.prepare('SELECT key, body_hash, status, answer, event FROM answers WHERE key = ?'),
      insertPending: db.prepare(
        'INSERT OR IGNORE INTO answers (key, body_hash, event, created_at) VALUES (?, ?, ?, ?)',
      ),
      upsertAnswer: db.prepare(
        `INSERT INTO answers (key, body_hash, status, answer, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET status = excluded.status, answer = excluded.answer, event = NULL`,
      ),
      remove: db.prepare('DELETE FROM answers WHERE key = ? AND answer IS NULL'),
      purge: db.prepare('DELETE FROM answers WHERE created_at < ?'),
      count: db.prepare('SELECT count(*) AS n FROM answers'),
      syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
      syncFull: db.prepare('PRAGMA synchronous = FULL'),
    };
    this.beginTx = db.transaction((keys: string[], hash: string, event: string, now: number) => {
      for (const k of keys) this.stmt.insertPending.run(k, hash, event, now);
    });
    this.completeTx = db.transaction(
      (keys: string[], hash: string, status: number, answer: string, now: number) => {
        for (const k of keys) this.stmt.upsertAnswer.run(k, hash, status, answer, now);
      },
    );
    this.abandonTx = db.transaction((keys: string[]) => {
      for (const k of keys) this.stmt.remove.run(k);
    });
  }

  /** The first stored row among `keys`, in order. */
  find(keys: readonly string[]): StoredAnswer | undefined {
    for (const key of keys) {
      const row = this.stmt.find.get(key) as
        | {
            key: string;
            body_hash: string;
            status: number | null;
            answer: string | null;
            event: string | null;
          }
        | undefined;
      if (row) {
        return {
          key: row.key,
          bodyHash: row.body_hash,
          status: row.status,
          answer: row.answer,
          event: row.event === null ? null : (JSON.parse(row.event) as PendingEvent),
        };
      }
    }
    return undefined;
  }

  /** Records, durably, that `event` is about to be handed to the outbox for these keys. */
  begin(keys: readonly string[], bodyHash: string, event: PendingEvent, now: number): void {
    this.beginTx([...keys], bodyHash, JSON.stringify(event), now);
  }

  /**
   * Stores the answer under every key (the event is no longer needed). This write skips the fsync:
   * if a power cut takes it back, the pending row is still there and a retry resends the same
   * event id, which central drops; the next `begin` makes it durable anyway.
   */
  complete(keys: readonly string[], bodyHash: string, status: number, answer: string, now: number): void {
    this.stmt.syncNormal.run();
    try {
      this.completeTx([...keys], bodyHash, status, answer, now);
    } finally {
      this.stmt.syncFull.run();
    }
  }

  /** Forgets keys whose event was refused, so a retry may try again. */
  abandon(keys: readonly string[]): void {
    this.abandonTx([...keys]);
  }

  /** Deletes rows older than `before` (ms); returns how many. */
  purge(before: number): number {
    return this.stmt.purge.run(before).changes;
  }

  get count(): number {
    return (this.stmt.count.get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
