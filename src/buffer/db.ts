import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../logger.js';

export type Db = Database.Database;

export const SCHEMA_VERSION = 1;
export const PAGE_SIZE = 4096;

export interface OpenOptions {
  path: string;
  synchronous: 'FULL' | 'NORMAL' | 'EXTRA';
  maxBytes: number;
}

export interface Quarantine {
  /** Where the corrupt file was moved. */
  movedTo: string;
  reason: string;
}

export interface OpenedBuffer {
  db: Db;
  quarantine?: Quarantine;
}

/**
 * Opens (or creates) the buffer file and proves it sound. A file SQLite cannot read, or one whose
 * quick_check fails, is renamed aside with its WAL and shared-memory files (kept for forensics) and
 * a fresh buffer is created in its place; the caller raises the alarm.
 */
export function openBufferDb(opts: OpenOptions, log: Logger, now: () => number = Date.now): OpenedBuffer {
  mkdirSync(dirname(opts.path), { recursive: true });
  try {
    // A clean close removes both the WAL and the shared-memory file; a crash leaves both. A
    // shared-memory file without its WAL means the WAL (with commits not yet checkpointed) was
    // lost: the file alone would silently miss those rows, so it is treated as damaged.
    if (existsSync(opts.path) && existsSync(`${opts.path}-shm`) && !existsSync(`${opts.path}-wal`))
      throw new CorruptBufferError('the WAL file is missing after an unclean stop');
    return { db: openChecked(opts) };
  } catch (err) {
    if (!isCorruption(err)) throw err;
    const reason = (err as Error).message;
    const movedTo = `${opts.path}.corrupt-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`;
    log.error(
      { err, path: opts.path, movedTo },
      'buffer file is corrupt; quarantining it and starting a fresh one',
    );
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(opts.path + suffix)) renameSync(opts.path + suffix, movedTo + suffix);
    }
    return { db: openChecked(opts), quarantine: { movedTo, reason } };
  }
}

class CorruptBufferError extends Error {}

/** Only damage is quarantined; a file we may not open (permissions, a newer schema) stops the start. */
function isCorruption(err: unknown): boolean {
  if (err instanceof CorruptBufferError) return true;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

function openChecked(opts: OpenOptions): Db {
  const db = new Database(opts.path);
  try {
    // Both must precede the first table of a new file; on an existing file they are no-ops.
    db.pragma(`page_size = ${PAGE_SIZE}`);
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_size_limit = 67108864');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new CorruptBufferError(`quick_check: ${String(check)}`);
    migrate(db);
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.pragma(`max_page_count = ${Math.max(256, Math.floor(opts.maxBytes / pageSize))}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY,
      cls TEXT NOT NULL,
      device TEXT NOT NULL,
      payload TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outbox_presence ON outbox (seq) WHERE cls = 'presence';
    CREATE TABLE IF NOT EXISTS dead_letter (
      seq INTEGER PRIMARY KEY,
      cls TEXT NOT NULL,
      device TEXT NOT NULL,
      payload TEXT NOT NULL,
      reason TEXT NOT NULL,
      at INTEGER NOT NULL
    );
  `);
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
    | { value: number }
    | undefined;
  if (row && row.value > SCHEMA_VERSION) {
    throw new Error(
      `buffer schema version ${row.value} is newer than this gateway understands (${SCHEMA_VERSION})`,
    );
  }
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)").run(SCHEMA_VERSION);
}
