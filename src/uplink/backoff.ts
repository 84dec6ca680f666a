/**
 * Exponential backoff with jitter: attempt n (from 0) waits a uniform random time in
 * [min, min(max, min * 2^(n+1))]. Never less than `min`, so a flapping link cannot spin, and the
 * first attempt is spread too (over [min, 2·min]), so gateways that lost one broker node together
 * do not all come back in the same millisecond.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Without jitter: min, 2·min, 4·min … up to max (a device reopen, where only one party retries). */
  static doubling(minMs: number, maxMs: number): Backoff {
    const b = new Backoff(minMs, maxMs);
    b.jitter = false;
    return b;
  }

  private jitter = true;

  next(): number {
    if (!this.jitter) {
      const wait = Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
      this.attempt = Math.min(this.attempt + 1, 30);
      return wait;
    }
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** (this.attempt + 1));
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.min(ceiling, this.minMs + Math.round((ceiling - this.minMs) * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
