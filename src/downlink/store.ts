import type { Logger } from '../logger.js';
import { type Db, openLocalDb } from '../offers/local-db.js';

const SCHEMA_VERSION = 1;

export interface StoredReply {
  id: string;
  name: string;
  at: number;
  ok: boolean;
  /** The reply payload exactly as it was first sent. */
  reply: string;
}

/**
 * The replies to commands already run, by command id, in their own SQLite file (commands.db
 * beside the buffer; the outbox stays the only writer of the buffer file). A command id found
 * here gets its stored reply back and is not run again.
 */
export class CommandStore {
  private readonly db: Db;
  private readonly stmt;

  constructor(path: string, deps: { log: Logger; now: () => number }) {
    this.db = openLocalDb({
      path,
      what: 'command replies',
      version: SCHEMA_VERSION,
      log: deps.log,
      now: deps.now,
      migrate: (db) =>
        db.exec(`
          CREATE TABLE IF NOT EXISTS commands (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            at INTEGER NOT NULL,
            ok INTEGER NOT NULL,
            reply TEXT NOT NULL
          ) WITHOUT ROWID;
          CREATE INDEX IF NOT EXISTS commands_at ON commands (at);
        `),
    });
    this.stmt = {
      get: this.db.prepare('SELECT id, name, at, ok, reply FROM commands WHERE id = ? AND at >= ?'),
      put: this.db.prepare(
        'INSERT OR REPLACE INTO commands (id, name, at, ok, reply) VALUES (?, ?, ?, ?, ?)',
      ),
      purge: this.db.prepare('DELETE FROM commands WHERE at < ?'),
      count: this.db.prepare('SELECT count(*) AS n FROM commands'),
    };
  }

  /** The reply stored for `id` at or after `since` (ms), if any. */
  get(id: string, since: number): StoredReply | undefined {
    const row = this.stmt.get.get(id, since) as
      | { id: string; name: string; at: number; ok: number; reply: string }
      | undefined;
    return row && { ...row, ok: row.ok === 1 };
  }

  put(r: StoredReply): void {
    this.stmt.put.run(r.id, r.name, r.at, r.ok ? 1 : 0, r.reply);
  }

  /** Deletes replies older than `before` (ms); returns how many. */
  purge(before: number): number {
    return this.stmt.purge.run(before).changes;
  }

  get count(): number {
    return (this.stmt.count.get() as { n: number }).n;
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
