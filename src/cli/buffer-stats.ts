import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { EXIT } from '../errors.js';
import { fail } from './output.js';
import { readConfigOrReport } from './run.js';

/**
 * `store-gateway buffer stats`: what waits in the buffer, read-only (safe while the daemon runs:
 * WAL lets a reader in beside the writer).
 */
export function bufferStatsCommand(configPath: string, opts: { json?: boolean }): number {
  const config = readConfigOrReport(configPath);
  if (!config) return EXIT.CONFIG;
  const path = config.buffer.path;
  if (!existsSync(path)) {
    fail(`no buffer at ${path} (the gateway has not run yet)`);
    return EXIT.FAILURE;
  }
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const one = <T>(sql: string) => db.prepare(sql).get() as T;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const pages = db.pragma('page_count', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    const rows = one<{ n: number; lo: number | null; hi: number | null }>(
      'SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM outbox',
    );
    const perClass = db.prepare('SELECT cls, count(*) AS n FROM outbox GROUP BY cls ORDER BY cls').all() as {
      cls: string;
      n: number;
    }[];
    const meta = Object.fromEntries(
      (db.prepare('SELECT key, value FROM meta').all() as { key: string; value: number }[]).map((r) => [
        r.key,
        r.value,
      ]),
    );
    const dead = one<{ n: number }>('SELECT count(*) AS n FROM dead_letter').n;
    const oldest =
      rows.lo === null ? null : one<{ payload: string }>(`SELECT payload FROM outbox WHERE seq = ${rows.lo}`);
    const stats = {
      path,
      rows: rows.n,
      byClass: Object.fromEntries(perClass.map((r) => [r.cls, r.n])),
      oldestSeq: rows.lo,
      newestSeq: rows.hi,
      lastSeq: meta.last_seq ?? 0,
      oldestTime: oldest ? (JSON.parse(oldest.payload) as { time: string }).time : null,
      usedBytes: (pages - free) * pageSize,
      fileBytes: pages * pageSize,
      maxBytes: config.buffer.maxBytes,
      deadLetters: dead,
      births: meta.births ?? 0,
    };
    if (opts.json) process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
    else {
      const pct = ((100 * stats.usedBytes) / stats.maxBytes).toFixed(1);
      process.stdout.write(
        [
          `buffer       ${path}`,
          `waiting      ${stats.rows} events ${JSON.stringify(stats.byClass)}`,
          `seq          oldest ${stats.oldestSeq ?? '-'}, newest ${stats.newestSeq ?? '-'}, last assigned ${stats.lastSeq}`,
          `oldest event ${stats.oldestTime ?? '-'}`,
          `size         ${stats.usedBytes} bytes used of ${stats.maxBytes} (${pct}%), file ${stats.fileBytes} bytes`,
          `dead letters ${stats.deadLetters}`,
          `connection attempts ${stats.births}`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    db.close();
  }
  return EXIT.OK;
}
