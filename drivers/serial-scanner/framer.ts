import type { Framing } from './config.js';

const STX = 0x02;
const ETX = 0x03;

/** Length of the longest tail of `data` that is a proper prefix of `suffix` (a suffix cut in two). */
function partialSuffixLength(data: Buffer, suffix: Buffer): number {
  for (let k = Math.min(suffix.length - 1, data.length); k > 0; k--) {
    if (data.subarray(data.length - k).equals(suffix.subarray(0, k))) return k;
  }
  return 0;
}

export type FrameError = 'too-long' | 'incomplete' | 'empty' | 'noise';
export type FrameResult = { ok: true; frame: Buffer } | { ok: false; error: FrameError; bytes: number };

/**
 * Cuts a serial byte stream into frames. Pure: bytes in, results out; the driver owns the timers and
 * calls `flush()` when the line has been idle (idle framing) or a partial frame is too old (others).
 *
 * Over-long input is discarded up to the next boundary and reported once, so one noisy burst never
 * corrupts the next barcode, and memory stays bounded by `maxFrameBytes`.
 */
export class Framer {
  private parts: Buffer[] = [];
  private size = 0;
  /** In STX mode: inside STX … ETX. */
  private open = false;
  /** After a too-long frame: drop bytes until the next boundary. */
  private skipping = false;
  private readonly suffix: Buffer | null;

  constructor(
    private readonly framing: Framing,
    private readonly maxFrameBytes: number,
  ) {
    this.suffix = framing.suffix === undefined ? null : Buffer.from(framing.suffix, 'latin1');
  }

  get hasPartial(): boolean {
    return this.size > 0 || this.open || this.skipping;
  }

  push(chunk: Buffer): FrameResult[] {
    if (this.framing.stx) return this.pushStx(chunk);
    if (this.suffix) return this.pushSuffix(chunk, this.suffix);
    return this.pushIdle(chunk);
  }

  /** The line went quiet: an idle frame is complete; any other partial frame is incomplete. */
  flush(): FrameResult[] {
    const skipped = this.skipping;
    const wasOpen = this.open;
    this.skipping = false;
    this.open = false;
    const data = this.size > 0 ? this.take() : null;
    // The rest of an over-long frame was already reported when it overflowed.
    if (skipped) return [];
    if (!data) return wasOpen ? [{ ok: false, error: 'incomplete', bytes: 0 }] : [];
    if (this.framing.idleMs !== undefined) return [this.result(data)];
    return [{ ok: false, error: 'incomplete', bytes: data.length }];
  }

  reset(): void {
    this.parts = [];
    this.size = 0;
    this.open = false;
    this.skipping = false;
  }

  private pushIdle(chunk: Buffer): FrameResult[] {
    if (this.skipping) return [];
    return this.append(chunk);
  }

  private pushSuffix(chunk: Buffer, suffix: Buffer): FrameResult[] {
    const out: FrameResult[] = [];
    // Look for the suffix across the boundary with what is already buffered.
    let data = this.size > 0 ? Buffer.concat([this.take(), chunk]) : chunk;
    for (;;) {
      const at = data.indexOf(suffix);
      if (at < 0) break;
      const frame = data.subarray(0, at);
      data = data.subarray(at + suffix.length);
      if (this.skipping) this.skipping = false;
      else out.push(this.result(frame));
    }
    // What is left holds no whole suffix, but its tail may be the start of one.
    const body = data.length - partialSuffixLength(data, suffix);
    if (!this.skipping && body > this.maxFrameBytes) {
      out.push({ ok: false, error: 'too-long', bytes: body });
      this.skipping = true;
    }
    if (this.skipping) {
      if (body < data.length) this.keep(data.subarray(body));
    } else if (data.length > 0) this.keep(data);
    return out;
  }

  private pushStx(chunk: Buffer): FrameResult[] {
    const out: FrameResult[] = [];
    let noise = 0;
    let start = 0;
    const reportNoise = () => {
      if (noise > 0) out.push({ ok: false, error: 'noise', bytes: noise });
      noise = 0;
    };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === STX) {
        reportNoise();
        if (this.open && !this.skipping && this.size + (i - start) > 0) {
          out.push({ ok: false, error: 'incomplete', bytes: this.size + (i - start) });
        }
        this.parts = [];
        this.size = 0;
        this.open = true;
        this.skipping = false;
        start = i + 1;
      } else if (b === ETX && this.open) {
        if (!this.skipping) {
          const frame =
            this.size > 0 ? Buffer.concat([this.take(), chunk.subarray(start, i)]) : chunk.subarray(start, i);
          if (frame.length > this.maxFrameBytes)
            out.push({ ok: false, error: 'too-long', bytes: frame.length });
          else out.push(this.result(frame));
        }
        this.parts = [];
        this.size = 0;
        this.open = false;
        this.skipping = false;
        start = i + 1;
      } else if (!this.open) {
        noise++;
        start = i + 1;
      }
    }
    reportNoise();
    if (this.open && !this.skipping && start < chunk.length) out.push(...this.append(chunk.subarray(start)));
    return out;
  }

  private append(data: Buffer): FrameResult[] {
    if (data.length === 0) return [];
    if (this.size + data.length > this.maxFrameBytes) {
      const bytes = this.size + data.length;
      this.parts = [];
      this.size = 0;
      this.skipping = true;
      return [{ ok: false, error: 'too-long', bytes }];
    }
    this.keep(data);
    return [];
  }

  private keep(data: Buffer): void {
    // Copy: serial chunks may be pooled buffers that get reused.
    this.parts.push(Buffer.from(data));
    this.size += data.length;
  }

  private take(): Buffer {
    const data = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    this.parts = [];
    this.size = 0;
    return data;
  }

  private result(frame: Buffer): FrameResult {
    if (frame.length === 0) return { ok: false, error: 'empty', bytes: 0 };
    if (frame.length > this.maxFrameBytes) return { ok: false, error: 'too-long', bytes: frame.length };
    return { ok: true, frame: Buffer.from(frame) };
  }
}
