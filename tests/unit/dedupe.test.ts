import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { Emit } from '../../src/drivers/contract.js';
import type { EventData, EventType } from '../../src/events/catalog.js';
import { ScanDeduper, TimedDeduper } from '../../src/pipeline/dedupe.js';
import { createScanPipeline, scanPipelineFor } from '../../src/pipeline/scan-enrich.js';

type ScanData = EventData<'retail.scan.v1'>;
const T0 = Date.UTC(2026, 10, 24, 8, 0, 0);
const scan = (text: string, aim?: string): ScanData => ({
  deviceId: 'shelf-1',
  text,
  ...(aim ? { aim } : {}),
  symbology: 'unknown',
});
const iso = (ms: number) => new Date(ms).toISOString();

describe('ScanDeduper (pure)', () => {
  it('merges the same text within the window into one read with count and first/last time', () => {
    const d = new ScanDeduper(1000);
    expect(d.offer(scan('A'), T0)).toEqual([]);
    expect(d.offer(scan('A'), T0 + 300)).toEqual([]);
    expect(d.offer(scan('A'), T0 + 999)).toEqual([]);
    expect(d.due(T0 + 999)).toEqual([]);
    expect(d.due(T0 + 1000)).toEqual([
      { data: { ...scan('A'), count: 3, firstTime: iso(T0), lastTime: iso(T0 + 999) }, timeMs: T0 },
    ]);
    expect(d.size).toBe(0);
  });

  it('the window is fixed from the first read: a read at its end starts a new one', () => {
    const d = new ScanDeduper(1000);
    d.offer(scan('A'), T0);
    const out = d.offer(scan('A'), T0 + 1000);
    expect(out.map((m) => m.data.count)).toEqual([1]);
    expect(d.flush()).toEqual([
      {
        data: { ...scan('A'), count: 1, firstTime: iso(T0 + 1000), lastTime: iso(T0 + 1000) },
        timeMs: T0 + 1000,
      },
    ]);
  });

  it('different texts, or the same text with another AIM identifier, are separate', () => {
    const d = new ScanDeduper(1000);
    d.offer(scan('A'), T0);
    d.offer(scan('B'), T0 + 10);
    d.offer(scan('A'), T0 + 20);
    d.offer(scan('A', ']C0'), T0 + 30);
    const out = d.flush();
    expect(out.map((m) => [m.data.text, m.data.aim, m.data.count])).toEqual([
      ['A', undefined, 2],
      ['B', undefined, 1],
      ['A', ']C0', 1],
    ]);
  });

  it('comes out oldest first, each at its first capture time', () => {
    const d = new ScanDeduper(500);
    d.offer(scan('A'), T0);
    d.offer(scan('B'), T0 + 100);
    d.offer(scan('C'), T0 + 400);
    expect(d.nextDueMs()).toBe(T0 + 500);
    expect(d.due(T0 + 700).map((m) => [m.data.text, m.timeMs])).toEqual([
      ['A', T0],
      ['B', T0 + 100],
    ]);
    expect(d.nextDueMs()).toBe(T0 + 900);
    // A read closes the windows that are due before it opens its own.
    expect(d.offer(scan('D'), T0 + 950).map((m) => m.data.text)).toEqual(['C']);
  });

  it('memory is bounded: a read beyond maxPending closes the oldest window at once', () => {
    const d = new ScanDeduper(60_000, 3);
    const early: string[] = [];
    for (let i = 0; i < 10; i++) early.push(...d.offer(scan(`T${i}`), T0 + i).map((m) => m.data.text));
    expect(d.size).toBe(3);
    expect(early).toEqual(['T0', 'T1', 'T2', 'T3', 'T4', 'T5', 'T6']);
    expect(d.flush().map((m) => m.data.text)).toEqual(['T7', 'T8', 'T9']);
  });

  it('a clock that stepped back closes the window instead of holding it', () => {
    const d = new ScanDeduper(1000);
    d.offer(scan('A'), T0);
    expect(d.due(T0 - 5000).map((m) => m.data.count)).toEqual([1]);
  });

  it('nothing open: nextDueMs undefined, flush empty', () => {
    const d = new ScanDeduper(1000);
    expect(d.nextDueMs()).toBeUndefined();
    expect(d.flush()).toEqual([]);
  });
});

describe('TimedDeduper', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const clock = { now: () => Date.now() };

  it('emits each merged read when its window closes', () => {
    const out: ScanData[] = [];
    const d = new TimedDeduper(1000, clock, (m) => out.push(m.data));
    d.push(scan('A'), Date.now());
    vi.advanceTimersByTime(200);
    d.push(scan('A'), Date.now());
    vi.advanceTimersByTime(200);
    d.push(scan('B'), Date.now());
    expect(out).toEqual([]);
    expect(d.pending).toBe(2);
    vi.advanceTimersByTime(600);
    expect(out.map((s) => [s.text, s.count])).toEqual([['A', 2]]);
    vi.advanceTimersByTime(400);
    expect(out.map((s) => [s.text, s.count])).toEqual([
      ['A', 2],
      ['B', 1],
    ]);
    expect(d.pending).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('flush emits what is open, stops the timer, and later reads pass at once', () => {
    const out: ScanData[] = [];
    const d = new TimedDeduper(1000, clock, (m) => out.push(m.data));
    d.push(scan('A'), Date.now());
    d.push(scan('A'), Date.now());
    d.flush();
    expect(out.map((s) => s.count)).toEqual([2]);
    expect(vi.getTimerCount()).toBe(0);
    d.push(scan('A'), Date.now());
    expect(out.map((s) => s.count)).toEqual([2, 1]);
  });
});

describe('scan pipeline', () => {
  type Call = { type: EventType; data: unknown; timeMs: number | undefined };
  const recorder = () => {
    const calls: Call[] = [];
    const emit: Emit = (type, data, timeMs) => {
      calls.push({ type, data, timeMs });
    };
    return { calls, emit };
  };
  const clock = { now: () => T0 };

  it('without dedupe: scans are enriched and go on at once with their capture time', () => {
    const { calls, emit } = recorder();
    const p = createScanPipeline(emit, { barcode: { variableMeasure: ['se-20'] }, clock });
    p.emit(
      'retail.scan.v1',
      { deviceId: 'lane-1', text: '2012345612501', aim: ']E0', symbology: 'ean-13' },
      T0 + 5,
    );
    expect(calls).toEqual([
      {
        type: 'retail.scan.v1',
        timeMs: T0 + 5,
        data: expect.objectContaining({
          gtin: '02012345600003',
          variableMeasure: expect.objectContaining({ value: 12.5 }),
        }),
      },
    ]);
    expect(p.pending).toBe(0);
  });

  it('other event types pass unchanged', () => {
    const { calls, emit } = recorder();
    const p = createScanPipeline(emit, { barcode: undefined, dedupeWindowMs: 1000, clock });
    const status = { deviceId: 'lane-1', kind: 'serial-scanner', state: 'connected' as const };
    p.emit('retail.device.status.v1', status, 7);
    expect(calls).toEqual([{ type: 'retail.device.status.v1', data: status, timeMs: 7 }]);
  });

  it('a missing or non-finite capture time is taken from the clock', () => {
    const { calls, emit } = recorder();
    const p = createScanPipeline(emit, { barcode: undefined, clock });
    p.emit('retail.scan.v1', scan('A'));
    p.emit('retail.scan.v1', scan('B'), Number.NaN);
    expect(calls.map((c) => c.timeMs)).toEqual([T0, T0]);
  });

  it('with dedupe: holds scans until flush (the gateway flushes on stop)', () => {
    const { calls, emit } = recorder();
    const p = createScanPipeline(emit, { barcode: undefined, dedupeWindowMs: 60_000, clock });
    p.emit('retail.scan.v1', { ...scan('4006381333931', ']E0'), symbology: 'ean-13' }, T0);
    p.emit('retail.scan.v1', { ...scan('4006381333931', ']E0'), symbology: 'ean-13' }, T0 + 50);
    expect(calls).toEqual([]);
    expect(p.pending).toBe(1);
    p.flush();
    expect(calls).toEqual([
      {
        type: 'retail.scan.v1',
        timeMs: T0,
        data: {
          deviceId: 'shelf-1',
          text: '4006381333931',
          aim: ']E0',
          symbology: 'ean-13',
          scanDataType: 104,
          gtin: '04006381333931',
          valid: true,
          count: 2,
          firstTime: iso(T0),
          lastTime: iso(T0 + 50),
        },
      },
    ]);
  });

  it('scanPipelineFor reads the barcode section and the device dedupe key from a validated config', () => {
    const r = validateConfig({
      store: { id: 's' },
      gateway: { id: 'g' },
      barcode: { variableMeasure: ['se-23'] },
      devices: [
        { id: 'lane-1', kind: 'serial-scanner', path: '/dev/null' },
        { id: 'shelf-1', kind: 'serial-scanner', path: '/dev/null', dedupe: { windowMs: 1500 } },
      ],
    });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect((r.config.devices[0] as { dedupe?: unknown }).dedupe).toEqual({ windowMs: 0 });
    const { calls, emit } = recorder();
    const lane = scanPipelineFor(r.config, 'lane-1', emit, { clock });
    const shelf = scanPipelineFor(r.config, 'shelf-1', emit, { clock });
    lane.emit('retail.scan.v1', { ...scan('2312345612502'), symbology: 'ean-13' }, T0);
    shelf.emit('retail.scan.v1', scan('X'), T0);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.data).toMatchObject({ variableMeasure: { scheme: 'se-23', value: 1.25, unit: 'kg' } });
    expect(shelf.pending).toBe(1);
    shelf.flush();
    expect(calls).toHaveLength(2);
  });

  it('rejects a negative window in the config', () => {
    const r = validateConfig({
      store: { id: 's' },
      gateway: { id: 'g' },
      devices: [{ id: 'shelf-1', kind: 'serial-scanner', path: '/dev/null', dedupe: { windowMs: -1 } }],
    });
    expect(r.ok ? [] : r.issues.map((i) => i.path)).toContain('/devices/0/dedupe/windowMs');
  });
});
