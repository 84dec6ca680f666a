import { EventEmitter } from 'node:events';
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from '../clock.js';
import { type ErrorCode, GatewayError } from '../errors.js';
import { type EventClass, GATEWAY_DEVICE_ID } from '../events/catalog.js';
import type { EventFactory, PendingEvent } from '../events/envelope.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { type Db, type OpenOptions, openBufferDb, type Quarantine } from './db.js';
import { SeqReservation } from './seq-reservation.js';

export interface OutboxOptions extends OpenOptions {
  minFreeBytes: number;
  reserveBytes: number;
  commitIntervalMs: number;
  commitMaxRows: number;
}

export interface OutboxDeps {
  log: Logger;
  metrics: Metrics;
  factory: EventFactory;
  clock: Clock;
  /** Free bytes on the buffer's file system; injectable so tests can simulate a full disk. */
  freeDiskBytes?: (dir: string) => number;
}

/** [seq, class, device, payload] — a tuple, because the drain reads millions of them. */
export type OutboxRow = [seq: number, cls: EventClass, device: string, payload: string];

export interface OutboxStats {
  rows: number;
  bytes: number;
  fileBytes: number;
  maxBytes: number;
  oldestSeq: number | null;
  lastSeq: number;
  pending: number;
  deadLetters: number;
  refusing: boolean;
}

/** Acknowledged rows waiting to be deleted: inclusive seq ranges of rows published in order. */
interface Ack {
  ranges: readonly (readonly [number, number])[];
  deleted: number;
  done?: () => void;
}

interface Pending {
  ev: PendingEvent;
  bytes: number;
  seq: number;
  payload?: string;
  resolve?: (seq: number) => void;
  reject?: (err: GatewayError) => void;
}

/** Bytes a row takes beyond its data: envelope attributes, source, row header and B-tree slack. */
const ROW_OVERHEAD = 420;
const DISK_CHECK_MS = 1000;
const REFUSAL_LOG_MS = 1000;

const defaultFreeDisk = (dir: string): number => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

/**
 * The durable outbox. The only writer of the buffer file.
 *
 * Contract: an event is accepted when its row is committed. Rows are committed in groups (every
 * `commitIntervalMs`, or at once when `commitMaxRows` wait); `seq` is assigned inside the commit, so
 * a refused event never leaves a gap. When the byte budget or the free-disk floor is reached, scans,
 * POS and beacon events are refused with GW_ERR_BUFFER_FULL, presence events push out the oldest
 * presence rows, and device/alarm events may still use a small reserve. Rows leave only through
 * `acknowledge` (after PUBACK), `deadLetter`, or presence eviction; every such drop is counted.
 */
/** Emitted after each commit with the rows just written, so a caught-up reader need not read them back. */
export class Outbox extends EventEmitter<{ committed: [rows: readonly OutboxRow[]] }> {
  readonly quarantine: Quarantine | undefined;
  private readonly db: Db;
  private readonly reservation: SeqReservation;
  private readonly stmt: ReturnType<Outbox['prepare']>;
  private readonly commitBatch: (rows: Pending[], acks: Ack[]) => void;
  private readonly deleteBatch: (acks: Ack[]) => void;
  private acks: Ack[] = [];
  private readonly pageSize: number;
  private readonly freeDisk: (dir: string) => number;
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastSeq: number;
  private rowCount: number;
  private closed = false;
  private diskCheckedAt = 0;
  private diskCap = Number.POSITIVE_INFINITY;
  private refusing = false;
  private readonly refusedUnlogged = new Map<string, number>();
  private refusedLoggedAt = Number.NEGATIVE_INFINITY;
  private refusalLogTimer: NodeJS.Timeout | undefined;
  /** Set while commits fail with SQLITE_FULL: the disk-low alarm that could not be written yet. */
  private diskFullSince: number | undefined;

  static open(opts: OutboxOptions, deps: OutboxDeps): Outbox {
    const opened = openBufferDb(opts, deps.log, () => deps.clock.now());
    return new Outbox(opts, deps, opened.db, opened.quarantine);
  }

  private constructor(
    private readonly opts: OutboxOptions,
    private readonly deps: OutboxDeps,
    db: Db,
    quarantine: Quarantine | undefined,
  ) {
    super();
    this.db = db;
    this.quarantine = quarantine;
    this.pageSize = db.pragma('page_size', { simple: true }) as number;
    this.freeDisk = deps.freeDiskBytes ?? defaultFreeDisk;
    this.stmt = this.prepare();
    this.commitBatch = this.db.transaction((rows: Pending[], acks: Ack[]) => {
      this.deleteAcked(acks);
      this.insertBatch(rows);
    });
    this.deleteBatch = this.db.transaction((acks: Ack[]) => this.deleteAcked(acks));
    this.reservation = new SeqReservation(`${opts.path}.seq`);
    const metaSeq = this.stmt.getMeta.get('last_seq') as { value: number } | undefined;
    const maxRow = (this.db.prepare('SELECT max(seq) AS m FROM outbox').get() as { m: number | null }).m ?? 0;
    const maxDead =
      (this.db.prepare('SELECT max(seq) AS m FROM dead_letter').get() as { m: number | null }).m ?? 0;
    // A buffer without a last_seq is new: continue above every seq ever reserved (0 on a first start).
    this.lastSeq = metaSeq
      ? Math.max(metaSeq.value, maxRow, maxDead)
      : Math.max(this.reservation.reserved, maxRow);
    this.rowCount = (this.db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
    this.deps.metrics.bufferRows.set(this.rowCount);
    if (quarantine) {
      deps.metrics.bufferQuarantines.inc();
      this.raise(
        'buffer-quarantined',
        'critical',
        'the buffer file was corrupt; it was set aside and a new one started',
        {
          movedTo: quarantine.movedTo,
          reason: quarantine.reason,
        },
      );
    }
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare('INSERT INTO outbox (seq, cls, device, payload) VALUES (?, ?, ?, ?)'),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      read: db
        .prepare('SELECT seq, cls, device, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?')
        .raw(true),
      deleteRange: db.prepare('DELETE FROM outbox WHERE seq BETWEEN ? AND ?'),
      syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
      syncConfigured: db.prepare(`PRAGMA synchronous = ${this.opts.synchronous}`),
      oldestPresence: db
        .prepare(
          "SELECT seq, length(payload) + length(device) FROM outbox WHERE cls = 'presence' ORDER BY seq LIMIT ?",
        )
        .raw(true),
      deleteOne: db.prepare('DELETE FROM outbox WHERE seq = ?'),
      toDeadLetter: db.prepare(
        'INSERT OR REPLACE INTO dead_letter (seq, cls, device, payload, reason, at) SELECT seq, cls, device, payload, ?, ? FROM outbox WHERE seq = ?',
      ),
      oldest: db.prepare('SELECT min(seq) AS m FROM outbox'),
      deadCount: db.prepare('SELECT count(*) AS n FROM dead_letter'),
    };
  }

  /** Queues an event and resolves with its seq once committed; rejects with a GatewayError if refused. */
  accept(ev: PendingEvent): Promise<number> {
    return new Promise((resolve, reject) => this.enqueue(ev, resolve, reject));
  }

  /** Queues a driver reading. A refusal is counted and logged, never thrown. */
  offer(ev: PendingEvent): void {
    this.enqueue(ev);
  }

  private enqueue(
    ev: PendingEvent,
    resolve?: (seq: number) => void,
    reject?: (err: GatewayError) => void,
  ): void {
    if (this.closed) {
      this.refuse({ ev, bytes: 0, seq: 0, reject }, 'GW_ERR_BUFFER_CLOSED', 'closed');
      return;
    }
    this.pending.push({
      ev,
      bytes: ev.dataJson.length + ev.deviceId.length + ROW_OVERHEAD,
      seq: 0,
      resolve,
      reject,
    });
    if (this.pending.length >= this.opts.commitMaxRows) this.flush();
    else this.schedule();
  }

  /**
   * Commits everything queued, now: acknowledged rows are deleted and new events inserted in one
   * transaction, so a busy gateway pays for one commit per group, not two.
   */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.closed || (this.pending.length === 0 && this.acks.length === 0)) return;
    const batch = this.pending;
    this.pending = [];
    const allowed = batch.length > 0 ? this.admit(batch) : [];
    const acks = this.acks;
    this.acks = [];
    if (allowed.length === 0 && acks.length === 0) return;
    const before = this.lastSeq;
    try {
      if (allowed.length > 0) {
        this.reservation.ensure(before + allowed.length);
        this.commitBatch(allowed, acks);
      } else this.commitDeletes(acks);
    } catch (err) {
      this.lastSeq = before;
      this.acks = acks.concat(this.acks);
      const full = (err as { code?: string }).code === 'SQLITE_FULL';
      this.deps.log.error({ err, rows: allowed.length }, 'buffer commit failed; events refused');
      for (const p of allowed)
        this.refuse(p, full ? 'GW_ERR_BUFFER_FULL' : 'GW_ERR_BUFFER_IO', full ? 'full' : 'io');
      // An alarm cannot be written while the disk is full: it is owed, and raised by the first
      // commit that succeeds again, saying since when events were refused.
      if (full && allowed.length > 0 && !this.atPageLimit()) this.diskFullSince ??= this.deps.clock.now();
      if (allowed.length === 0) this.schedule();
      return;
    }
    if (this.diskFullSince !== undefined && allowed.length > 0) {
      const since = this.diskFullSince;
      this.diskFullSince = undefined;
      this.deps.log.error({ since: new Date(since).toISOString() }, 'the disk was full: events were refused');
      this.raise('disk-low', 'critical', 'the disk was full: events were refused until now', {
        refusedSince: new Date(since).toISOString(),
        stats: this.stats(),
      });
    }
    let deleted = 0;
    for (const a of acks) deleted += a.deleted;
    this.rowCount += allowed.length - deleted;
    this.deps.metrics.bufferRows.set(this.rowCount);
    for (const a of acks) a.done?.();
    if (allowed.length === 0) return;
    const { accepted } = this.deps.metrics;
    for (const p of allowed) {
      accepted[p.ev.cls].inc();
      p.resolve?.(p.seq);
    }
    if (this.listenerCount('committed') > 0) {
      this.emit(
        'committed',
        allowed.map((p): OutboxRow => [p.seq, p.ev.cls, p.ev.deviceId, p.payload as string]),
      );
    }
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => this.flush(), this.opts.commitIntervalMs);
  }

  private deleteAcked(acks: Ack[]): void {
    const { deleteRange } = this.stmt;
    for (const a of acks) {
      a.deleted = 0;
      for (const [from, to] of a.ranges) a.deleted += deleteRange.run(from, to).changes;
    }
  }

  /**
   * Deletes alone skip the fsync: an acknowledged row that reappears after a power cut is only a
   * duplicate (consumers dedupe by id), never a loss, and the next insert commit makes them durable.
   */
  private commitDeletes(acks: Ack[]): void {
    this.stmt.syncNormal.run();
    try {
      this.deleteBatch(acks);
    } finally {
      this.stmt.syncConfigured.run();
    }
  }

  /** Inserts a batch in one transaction; seq numbers are assigned here, so refusals leave no gap. */
  private insertBatch(rows: Pending[]): void {
    const { insert, setMeta } = this.stmt;
    const factory = this.deps.factory;
    let seq = this.lastSeq;
    for (const p of rows) {
      seq += 1;
      p.seq = seq;
      p.payload = factory.serialize(p.ev, seq);
      insert.run(seq, p.ev.cls, p.ev.deviceId, p.payload);
    }
    setMeta.run('last_seq', seq);
    this.lastSeq = seq;
  }

  /**
   * Applies the per-class full-buffer policy to a batch: returns what may be inserted, refuses the
   * rest, and evicts the oldest presence rows where presence events need the room.
   */
  private admit(batch: Pending[]): Pending[] {
    const { intakeCap, deviceCap, used, diskLow } = this.capacity();
    let projected = used;
    let evictNeeded = 0;
    const verdict: ('in' | 'out' | 'evict')[] = [];
    let refusedAny = false;
    let intakeAdmitted = false;
    for (const p of batch) {
      const cap = p.ev.cls === 'device' ? deviceCap : intakeCap;
      if (projected + p.bytes <= cap) {
        projected += p.bytes;
        verdict.push('in');
        if (p.ev.cls !== 'device') intakeAdmitted = true;
      } else if (p.ev.cls === 'presence') {
        evictNeeded += p.bytes;
        verdict.push('evict');
      } else {
        refusedAny = true;
        verdict.push('out');
        this.refuse(p, 'GW_ERR_BUFFER_FULL', diskLow ? 'disk-low' : 'full');
      }
    }
    let room = evictNeeded > 0 ? this.evictPresence(evictNeeded) : 0;
    const allowed: Pending[] = [];
    batch.forEach((p, i) => {
      if (verdict[i] === 'in') allowed.push(p);
      else if (verdict[i] === 'evict') {
        if (p.bytes <= room) {
          room -= p.bytes;
          allowed.push(p);
        } else {
          // Nothing older is left to push out: the newest presence reading is the one dropped.
          this.deps.metrics.dropped.presence.inc();
          p.reject?.(new GatewayError('GW_ERR_BUFFER_FULL'));
        }
      }
    });
    // Refusing ends when intake is admitted again, not because a batch held only alarms.
    if (refusedAny) this.setRefusing(true, diskLow);
    else if (intakeAdmitted) this.setRefusing(false, diskLow);
    return allowed;
  }

  private setRefusing(refusing: boolean, diskLow: boolean): void {
    if (refusing === this.refusing) return;
    this.refusing = refusing;
    if (refusing) {
      const alarm = diskLow ? 'disk-low' : 'buffer-full';
      this.deps.log.error({ alarm }, 'buffer is full: scans and POS transactions are being refused');
      this.raise(
        alarm,
        'critical',
        diskLow ? 'free disk space is under the floor' : 'the buffer budget is used up',
        {
          stats: this.stats(),
        },
      );
    } else {
      this.deps.log.warn('buffer has room again: intake resumed');
    }
  }

  /** Whether the file has reached its budget (max_page_count): SQLITE_FULL then is the budget, not the disk. */
  private atPageLimit(): boolean {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const max = this.db.pragma('max_page_count', { simple: true }) as number;
    return pages >= max - 8;
  }

  /** Deletes the oldest presence rows until at least `bytes` are freed; returns what was freed. */
  private evictPresence(bytes: number): number {
    let freed = 0;
    const victims: number[] = [];
    const rows = this.stmt.oldestPresence.all(Math.max(16, Math.ceil(bytes / 200))) as [number, number][];
    for (const [seq, size] of rows) {
      if (freed >= bytes) break;
      victims.push(seq);
      freed += size + ROW_OVERHEAD;
    }
    if (victims.length === 0) return 0;
    this.db.transaction(() => {
      for (const seq of victims) this.stmt.deleteOne.run(seq);
    })();
    this.rowCount -= victims.length;
    this.deps.metrics.dropped.presence.inc(victims.length);
    this.deps.log.warn({ dropped: victims.length }, 'buffer full: dropped the oldest presence events');
    return freed;
  }

  /**
   * How many bytes the file may hold now. Intake (scans, POS, presence, beacons) stops at the budget
   * minus the reserve, or where the file would eat into the free-disk floor; device status and alarm
   * events may go `reserveBytes` further in both cases, so store IT learns why intake stopped.
   */
  private capacity(): { intakeCap: number; deviceCap: number; used: number; diskLow: boolean } {
    const pageCount = this.db.pragma('page_count', { simple: true }) as number;
    const freelist = this.db.pragma('freelist_count', { simple: true }) as number;
    const used = (pageCount - freelist) * this.pageSize;
    const now = this.deps.clock.now();
    if (now - this.diskCheckedAt >= DISK_CHECK_MS || now < this.diskCheckedAt) {
      this.diskCheckedAt = now;
      try {
        // The largest the file may grow to, fixed at check time: the file's own growth until the
        // next check comes out of the same free space.
        const free = this.freeDisk(dirname(this.opts.path));
        this.diskCap = pageCount * this.pageSize + Math.max(0, free - this.opts.minFreeBytes);
      } catch (err) {
        this.deps.log.warn({ err }, 'cannot read free disk space');
      }
    }
    const reserve = this.opts.reserveBytes;
    const diskCap = this.diskCap;
    const intakeCap = Math.min(this.opts.maxBytes - reserve, diskCap);
    return {
      intakeCap,
      deviceCap: Math.min(this.opts.maxBytes, diskCap + reserve),
      used,
      diskLow: diskCap < this.opts.maxBytes - reserve,
    };
  }

  private refuse(
    p: Pick<Pending, 'ev' | 'reject'> & Partial<Pending>,
    code: ErrorCode,
    reason: string,
  ): void {
    this.deps.metrics.refused.inc({ class: p.ev.cls, reason });
    p.reject?.(new GatewayError(code));
    // Every refusal reaches the log, summed per second so a flood cannot drown it.
    const key = `${p.ev.cls}/${reason}`;
    this.refusedUnlogged.set(key, (this.refusedUnlogged.get(key) ?? 0) + 1);
    const now = this.deps.clock.now();
    if (now - this.refusedLoggedAt >= REFUSAL_LOG_MS || now < this.refusedLoggedAt) this.logRefusals(now);
    else {
      this.refusalLogTimer ??= setTimeout(() => this.logRefusals(this.deps.clock.now()), REFUSAL_LOG_MS);
      this.refusalLogTimer.unref();
    }
  }

  private logRefusals(now: number): void {
    if (this.refusalLogTimer) clearTimeout(this.refusalLogTimer);
    this.refusalLogTimer = undefined;
    if (this.refusedUnlogged.size === 0) return;
    this.refusedLoggedAt = now;
    this.deps.log.warn(
      { refused: Object.fromEntries(this.refusedUnlogged) },
      'events refused (class/reason: count)',
    );
    this.refusedUnlogged.clear();
  }

  /** Queues an alarm event about the gateway itself (device class: it may use the reserve). */
  raise(
    alarm: 'buffer-quarantined' | 'buffer-full' | 'disk-low' | 'message-rejected',
    severity: 'critical' | 'warning' | 'info',
    message: string,
    details?: Record<string, unknown>,
  ): void {
    try {
      const ev = this.deps.factory.create(
        'retail.gateway.alarm.v1',
        GATEWAY_DEVICE_ID,
        { alarm, severity, message, ...(details ? { details } : {}) },
        this.deps.clock.now(),
      );
      this.offer(ev);
    } catch (err) {
      this.deps.log.error({ err, alarm }, 'cannot raise alarm event');
    }
  }

  /** Rows with seq greater than `afterSeq`, in seq order. */
  read(afterSeq: number, limit: number): OutboxRow[] {
    return this.stmt.read.all(afterSeq, limit) as OutboxRow[];
  }

  /**
   * Queues acknowledged rows for deletion in the next commit (within `commitIntervalMs`); `done`
   * runs once they are gone. Each range is inclusive and covers only rows published in order.
   */
  acknowledge(ranges: readonly (readonly [number, number])[], done?: () => void): void {
    if (ranges.length === 0 || this.closed) return;
    this.acks.push({ ranges, deleted: 0, done });
    this.schedule();
  }

  /** Deletes acknowledged rows now. */
  deleteRanges(ranges: readonly (readonly [number, number])[]): void {
    this.acknowledge(ranges);
    this.flush();
  }

  /** Moves a row the broker refused for good to dead_letter, where store IT can inspect it. */
  deadLetter(seq: number, reason: string): void {
    this.db.transaction(() => {
      this.stmt.toDeadLetter.run(reason, this.deps.clock.now(), seq);
      this.rowCount -= this.stmt.deleteOne.run(seq).changes;
    })();
    this.deps.metrics.bufferRows.set(this.rowCount);
  }

  /** Increments and returns a persisted counter (e.g. the birth counter of the state topic). */
  bump(key: string): number {
    const row = this.stmt.getMeta.get(key) as { value: number } | undefined;
    const next = (row?.value ?? 0) + 1;
    this.stmt.setMeta.run(key, next);
    return next;
  }

  get lastCommittedSeq(): number {
    return this.lastSeq;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  stats(): OutboxStats {
    const pageCount = this.db.pragma('page_count', { simple: true }) as number;
    const freelist = this.db.pragma('freelist_count', { simple: true }) as number;
    const bytes = (pageCount - freelist) * this.pageSize;
    this.deps.metrics.bufferBytes.set(bytes);
    return {
      rows: this.rowCount,
      bytes,
      fileBytes: pageCount * this.pageSize,
      maxBytes: this.opts.maxBytes,
      oldestSeq: (this.stmt.oldest.get() as { m: number | null }).m,
      lastSeq: this.lastSeq,
      pending: this.pending.length,
      deadLetters: (this.stmt.deadCount.get() as { n: number }).n,
      refusing: this.refusing,
    };
  }

  /** Commits what is queued, then closes the file. Later events are refused with GW_ERR_BUFFER_CLOSED. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.logRefusals(this.deps.clock.now());
    // The last flush may have queued an alarm; it cannot be written any more.
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const left = this.pending;
    this.pending = [];
    for (const p of left) this.refuse(p, 'GW_ERR_BUFFER_CLOSED', 'closed');
    this.db.close();
  }
}
