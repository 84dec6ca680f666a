import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Seq numbers are reserved in blocks in a small file beside the buffer. A normal restart continues
 * exactly from the last committed seq (kept in the buffer itself); the reservation matters only when
 * the buffer is lost (quarantined or deleted): the fresh one starts above every seq ever used, so seq
 * stays strictly increasing and the jump tells consumers that events were lost.
 */
export class SeqReservation {
  static readonly BLOCK = 1_000_000;
  private reservedUpTo: number;

  constructor(private readonly file: string) {
    this.reservedUpTo = SeqReservation.read(file);
  }

  static read(file: string): number {
    try {
      const n = Number(readFileSync(file, 'utf8').trim());
      return Number.isSafeInteger(n) && n > 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  get reserved(): number {
    return this.reservedUpTo;
  }

  /** Makes sure every seq up to `seq` is covered by a durable reservation. */
  ensure(seq: number): void {
    if (seq <= this.reservedUpTo) return;
    const next = seq + SeqReservation.BLOCK;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${next}\n`);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    const dir = openSync(dirname(this.file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    this.reservedUpTo = next;
  }
}
