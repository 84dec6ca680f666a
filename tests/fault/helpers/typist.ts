import { withCheckDigit } from '../../../simulators/barcodes.js';
import type { SimulatedSerialScanner } from '../../../simulators/serial-scanner.js';
import { sleep } from '../../../src/util/sleep.js';

/**
 * The i-th barcode of a fault run: an EAN-13 from the in-store range (prefix 2) that carries the
 * counter, so a receiver can tell exactly which scans arrived.
 */
export const scanCode = (i: number): string => withCheckDigit(`2${String(i).padStart(11, '0')}`);

export interface FastTypistOptions {
  scanner: SimulatedSerialScanner;
  /** Scans per second, overall. */
  rate: number;
  /** Frames per write to the PTY; the driver has to split them. */
  batch: number;
  /** Stop after this many scans; unbounded when omitted (call `stop()`). */
  count?: number;
  /** Text of the i-th scan (0-based). */
  text?: (i: number) => string;
}

/**
 * Types scans far faster than a human: `batch` framed barcodes per write, paced to `rate`. The bytes
 * are exactly those of the same scans sent one by one (frame after frame), only written in one go,
 * as a busy USB scanner delivers them. Needs suffix or STX framing.
 */
export class FastTypist {
  /** Scans written (or being written) to the PTY so far. */
  typed = 0;
  private readonly abort = new AbortController();
  private run: Promise<number> | undefined;

  constructor(private readonly o: FastTypistOptions) {
    if (o.scanner.options.framing.idleMs !== undefined)
      throw new Error('FastTypist needs suffix or STX framing');
  }

  start(): this {
    this.run ??= this.loop();
    return this;
  }

  /** Resolves with the number of scans typed once the last write has been taken by the PTY. */
  done(): Promise<number> {
    return this.start().run as Promise<number>;
  }

  stop(): Promise<number> {
    this.abort.abort();
    return this.done();
  }

  /**
   * Types `n` scans at once, on top of the steady rate (a queue of shoppers at a self-checkout):
   * the gateway then has a backlog to forward.
   */
  async burst(n: number): Promise<void> {
    for (let left = n; left > 0; left -= 500) await this.write(Math.min(500, left));
  }

  /** Writes the next `n` scans as one chunk; their numbers are taken before the write, so writers never overlap. */
  private async write(n: number): Promise<void> {
    const text = this.o.text ?? scanCode;
    const from = this.typed;
    this.typed += n;
    await this.o.scanner.scanMany(
      Array.from({ length: n }, (_, k) => ({ text: text(from + k), aim: ']E0' })),
    );
  }

  private async loop(): Promise<number> {
    const { scanner, rate, batch, count } = this.o;
    const interval = (1000 * batch) / rate;
    let next = performance.now();
    while (!this.abort.signal.aborted && (count === undefined || this.typed < count)) {
      const n = count === undefined ? batch : Math.min(batch, count - this.typed);
      if (scanner.plugged) await this.write(n);
      next += interval;
      const wait = next - performance.now();
      // Behind schedule (a blocked PTY, a busy machine): carry on from now instead of bursting.
      if (wait < -interval) next = performance.now();
      else if (wait > 0 && !(await sleep(wait, this.abort.signal))) break;
    }
    return this.typed;
  }
}

/** Which of scans 0..count-1 are not among `texts`, as compact ranges ("12-40, 97"), for failure messages. */
export function missingScans(texts: Iterable<unknown>, count: number): string {
  const got = new Set(texts);
  const ranges: string[] = [];
  let from = -1;
  for (let i = 0; i <= count; i++) {
    const missing = i < count && !got.has(scanCode(i));
    if (missing && from < 0) from = i;
    if (!missing && from >= 0) {
      ranges.push(from === i - 1 ? `${from}` : `${from}-${i - 1}`);
      from = -1;
    }
  }
  return ranges.length === 0 ? 'none' : ranges.join(', ');
}
