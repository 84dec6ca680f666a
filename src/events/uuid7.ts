import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL_SIZE = 16 * 256;

/**
 * UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 31-bit counter seeded at random each
 * millisecond and incremented within it ("method 1"), then random bits. Ids from one generator are
 * strictly increasing as strings, even if the wall clock steps back. Random bytes come from a pool
 * refilled 256 ids at a time: one getrandom call per id would cost more than the rest of the event.
 */
export class Uuid7 {
  private pool = Buffer.allocUnsafe(POOL_SIZE);
  private offset = POOL_SIZE;
  private lastMs = -1;
  private seq = 0;

  constructor(private readonly now: () => number = Date.now) {}

  next(): string {
    if (this.offset + 16 > POOL_SIZE) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const r = this.pool;
    const o = this.offset;
    this.offset += 16;
    let ms = this.now();
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.seq =
        ((r[o + 6] as number) & 0x7f) * 0x1000000 +
        (r[o + 7] as number) * 0x10000 +
        (r[o + 8] as number) * 0x100 +
        (r[o + 9] as number);
    } else {
      ms = this.lastMs;
      this.seq++;
      if (this.seq > 0x7fffffff) {
        // Counter overflow within one millisecond: borrow the next one (RFC 9562 §6.2).
        this.lastMs = ++ms;
        this.seq = 0;
      }
    }
    const seq = this.seq;
    const b6 = 0x70 | ((seq >>> 27) & 0x0f);
    const b7 = (seq >>> 19) & 0xff;
    const b8 = 0x80 | ((seq >>> 13) & 0x3f);
    const b9 = (seq >>> 5) & 0xff;
    const b10 = ((seq << 3) & 0xf8) | ((r[o + 10] as number) & 0x07);
    const hi = Math.floor(ms / 0x100000000);
    const lo = ms >>> 0;
    return (
      HEX[(hi >>> 8) & 0xff]! +
      HEX[hi & 0xff]! +
      HEX[lo >>> 24]! +
      HEX[(lo >>> 16) & 0xff]! +
      '-' +
      HEX[(lo >>> 8) & 0xff]! +
      HEX[lo & 0xff]! +
      '-' +
      HEX[b6]! +
      HEX[b7]! +
      '-' +
      HEX[b8]! +
      HEX[b9]! +
      '-' +
      HEX[b10]! +
      HEX[r[o + 11] as number]! +
      HEX[r[o + 12] as number]! +
      HEX[r[o + 13] as number]! +
      HEX[r[o + 14] as number]! +
      HEX[r[o + 15] as number]!
    );
  }
}
