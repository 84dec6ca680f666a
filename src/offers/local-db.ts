import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../logger.js';

export type Db = Database.Database;

export interface LocalDbOptions {
  path: string;
  /** What the file holds, for log lines ("offers cache"). */
  what: string;
  /** Schema version this code writes; a file with a newer one stops the start. */
  version: number;
  /** Creates the tables (idempotent). */
  migrate(db: Db): void;
  log: Logger;
  now(): number;
}

/**
 * Opens one of the small SQLite files a feature keeps beside the buffer (offers.db, pos.db). These
 * files are the feature's own: the outbox stays the only writer of the buffer. WAL mode, FULL
 * synchronous (an answer stored here is what a retry gets back), and a quick_check at every start:
 * a corrupt file is renamed to `<path>.corrupt-<stamp>` with its WAL and shared memory, and a
 * fresh one is started.
 */
export function openLocalDb(opts: LocalDbOptions): Db {
  mkdirSync(dirname(opts.path), { recursive: true });
  try {
    return openChecked(opts);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const corrupt =
      err instanceof CorruptFileError ||
      (typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB'));
    if (!corrupt) throw err;
    const movedTo = `${opts.path}.corrupt-${new Date(opts.now()).toISOString().replace(/[:.]/g, '-')}`;
    opts.log.error({ err, path: opts.path, movedTo }, `${opts.what} file is corrupt; starting a fresh one`);
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(opts.path + suffix)) renameSync(opts.path + suffix, movedTo + suffix);
    }
    return openChecked(opts);
  }
}

class CorruptFileError extends Error {}

function openChecked(opts: LocalDbOptions): Db {
  const db = new Database(opts.path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new CorruptFileError(`quick_check: ${String(check)}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > opts.version) {
      throw new Error(`${opts.path}: schema version ${version} is newer than this gateway understands`);
    }
    opts.migrate(db);
    db.pragma(`user_version = ${opts.version}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
