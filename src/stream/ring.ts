import type { OutboxRow } from '../buffer/outbox.js';

/** Bytes a row is counted for: its payload and device id, plus the array and string headers. */
export const rowBytes = (row: OutboxRow) => row[3].length + row[2].length + 64;

/**
 * The recent events, in seq order, bounded by a count and a byte total; the oldest go first. It
 * knows which seqs it covers without a hole: everything after `coveredAfter` up to `lastSeq`.
 */
export class Ring {
  private rows: OutboxRow[] = [];
  private head = 0;
  private bytesUsed = 0;
  /** Every committed row with seq > coveredAfter (and ≤ lastSeq) is in the ring. */
  coveredAfter: number;
  lastSeq: number;

  constructor(
    private readonly maxRows: number,
    private readonly maxBytes: number,
    startSeq: number,
  ) {
    this.coveredAfter = startSeq;
    this.lastSeq = startSeq;
  }

  get length(): number {
    return this.rows.length - this.head;
  }

  get bytes(): number {
    return this.bytesUsed;
  }

  push(rows: readonly OutboxRow[]): void {
    for (const row of rows) {
      this.rows.push(row);
      this.bytesUsed += rowBytes(row);
      this.lastSeq = row[0];
    }
    while (this.length > 0 && (this.length > this.maxRows || this.bytesUsed > this.maxBytes)) {
      const old = this.rows[this.head] as OutboxRow;
      this.head++;
      this.bytesUsed -= rowBytes(old);
      this.coveredAfter = old[0];
    }
    if (this.length === 0) this.coveredAfter = this.lastSeq;
    // Compact now and then, so the array does not keep evicted rows alive.
    if (this.head > 1024 && this.head * 2 > this.rows.length) {
      this.rows = this.rows.slice(this.head);
      this.head = 0;
    }
  }

  /** Whether every row after `seq` is here (a resume from `seq` misses nothing). */
  covers(seq: number): boolean {
    return seq >= this.coveredAfter && seq <= this.lastSeq;
  }

  /** Up to `limit` rows with seq > `afterSeq`, in order. */
  after(afterSeq: number, limit: number): OutboxRow[] {
    let lo = this.head;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.rows[mid] as OutboxRow)[0] <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    return this.rows.slice(lo, lo + limit);
  }
}
