import { Type } from '@sinclair/typebox';
import type { Clock } from '../clock.js';
import { Section } from '../config/types.js';
import type { EventData } from '../events/catalog.js';

type ScanData = EventData<'retail.scan.v1'>;

/**
 * The per-device `dedupe` config key, shared by every scanner kind:
 * `dedupe: { windowMs: integer ≥ 0, default 0 = off }`.
 */
export const DedupeConfig = Section(
  {
    windowMs: Type.Integer({
      minimum: 0,
      default: 0,
      description:
        'duplicate suppression: the same text within this many ms of its first read becomes one event with a count; 0 = off (POS lanes), e.g. 1500 for shelf scanners',
    }),
  },
  'duplicate suppression for this scanner (off by default)',
);

/** A merged read, ready to emit: the first read's data plus count and first/last capture time. */
export interface MergedScan {
  data: ScanData;
  /** Capture time of the first read: the event's `time`. */
  timeMs: number;
}

interface Pending {
  data: ScanData;
  firstMs: number;
  lastMs: number;
  count: number;
}

const keyOf = (d: ScanData) => `${d.aim ?? ''}\u0000${d.text}`;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Duplicate suppression for one device. Pure: times come in with each call, nothing reads a clock.
 *
 * A read opens a window of `windowMs` from its capture time; identical reads (same text and AIM
 * identifier) inside the window only raise its count. When the window closes the merged read comes
 * out once, so a scan is delayed by at most `windowMs`. The window is fixed, not sliding: a label
 * held in front of a presentation scanner gives one event per window, never an endless one.
 * Memory is bounded: at most `maxPending` windows are open; a further distinct read closes the oldest
 * at once.
 */
export class ScanDeduper {
  private readonly pending = new Map<string, Pending>();

  constructor(
    readonly windowMs: number,
    readonly maxPending = 32,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Takes one read; returns the merged reads that must go out now (closed windows, evictions). */
  offer(data: ScanData, timeMs: number): MergedScan[] {
    const out = this.due(timeMs);
    const key = keyOf(data);
    const open = this.pending.get(key);
    if (open) {
      open.count++;
      open.lastMs = Math.max(open.lastMs, timeMs);
      return out;
    }
    if (this.pending.size >= this.maxPending) {
      const [oldest] = this.pending.keys();
      if (oldest !== undefined) out.push(this.close(oldest));
    }
    this.pending.set(key, { data, firstMs: timeMs, lastMs: timeMs, count: 1 });
    return out;
  }

  /**
   * The windows closed at `nowMs`, oldest first. A window whose first read lies in the future
   * (the clock stepped back) is closed too, so nothing waits on a clock that went backwards.
   */
  due(nowMs: number): MergedScan[] {
    const out: MergedScan[] = [];
    for (const [key, p] of this.pending) {
      if (p.firstMs + this.windowMs <= nowMs || nowMs < p.firstMs) out.push(this.close(key));
    }
    return out;
  }

  /** When the oldest open window closes; `undefined` when none is open. */
  nextDueMs(): number | undefined {
    let next: number | undefined;
    for (const p of this.pending.values()) {
      const at = p.firstMs + this.windowMs;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /** Every open window, oldest first (on stop). */
  flush(): MergedScan[] {
    return [...this.pending.keys()].map((k) => this.close(k));
  }

  private close(key: string): MergedScan {
    const p = this.pending.get(key) as Pending;
    this.pending.delete(key);
    return {
      data: { ...p.data, count: p.count, firstTime: iso(p.firstMs), lastTime: iso(p.lastMs) },
      timeMs: p.firstMs,
    };
  }
}

/**
 * Runs a `ScanDeduper` on real timers: emits each merged read when its window closes. `flush()`
 * emits what is still open and stops the timer (the gateway calls it on stop, after the drivers).
 */
export class TimedDeduper {
  private readonly core: ScanDeduper;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    windowMs: number,
    private readonly clock: Clock,
    private readonly out: (merged: MergedScan) => void,
    maxPending?: number,
  ) {
    this.core = new ScanDeduper(windowMs, maxPending);
  }

  get pending(): number {
    return this.core.size;
  }

  push(data: ScanData, timeMs: number): void {
    if (this.closed) {
      this.out({ data: { ...data, count: 1, firstTime: iso(timeMs), lastTime: iso(timeMs) }, timeMs });
      return;
    }
    for (const m of this.core.offer(data, timeMs)) this.out(m);
    this.schedule();
  }

  flush(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const m of this.core.flush()) this.out(m);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.core.nextDueMs();
    if (next === undefined) return;
    // Never wait longer than one window, whatever the wall clock does meanwhile.
    const delay = Math.min(Math.max(0, next - this.clock.now()), this.core.windowMs);
    this.timer = setTimeout(() => this.fire(), delay);
  }

  private fire(): void {
    this.timer = undefined;
    for (const m of this.core.due(this.clock.now())) this.out(m);
    this.schedule();
  }
}
