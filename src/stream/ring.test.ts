import { describe, expect, it } from 'vitest';
import type { OutboxRow } from '../buffer/outbox.js';
import { Ring, rowBytes } from './ring.js';

const row = (seq: number, payload = 'x'.repeat(100)): OutboxRow => [seq, 'scan', 'lane-1', payload];
const rows = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => row(from + i));

describe('Ring (recent events for Last-Event-ID)', () => {
  it('covers every seq after its start until it has to evict', () => {
    const ring = new Ring(10, 1 << 20, 100);
    expect(ring.covers(100)).toBe(true);
    expect(ring.covers(99)).toBe(false);
    ring.push(rows(101, 105));
    expect(ring.covers(100)).toBe(true);
    expect(ring.after(102, 100).map((r) => r[0])).toEqual([103, 104, 105]);
    expect(ring.after(105, 100)).toEqual([]);
    expect(ring.covers(106)).toBe(false);
  });

  it('evicts the oldest by count and by bytes, and moves its coverage with them', () => {
    const byCount = new Ring(3, 1 << 20, 0);
    byCount.push(rows(1, 5));
    expect(byCount.length).toBe(3);
    expect(byCount.coveredAfter).toBe(2);
    expect(byCount.covers(1)).toBe(false);
    expect(byCount.after(0, 10).map((r) => r[0])).toEqual([3, 4, 5]);

    const size = rowBytes(row(1));
    const byBytes = new Ring(1000, size * 4, 0);
    byBytes.push(rows(1, 10));
    expect(byBytes.length).toBe(4);
    expect(byBytes.bytes).toBeLessThanOrEqual(size * 4);
    expect(byBytes.after(0, 10).map((r) => r[0])).toEqual([7, 8, 9, 10]);
  });

  it('with no room keeps nothing but still knows the last seq', () => {
    const ring = new Ring(0, 1 << 20, 7);
    ring.push(rows(8, 9));
    expect(ring.length).toBe(0);
    expect(ring.covers(9)).toBe(true);
    expect(ring.covers(8)).toBe(false);
  });

  it('stays bounded over many pushes (the array is compacted)', () => {
    const ring = new Ring(100, 1 << 20, 0);
    for (let i = 0; i < 200; i++) ring.push(rows(i * 50 + 1, i * 50 + 50));
    expect(ring.length).toBe(100);
    expect(ring.after(9900, 1000).map((r) => r[0])).toEqual(rows(9901, 10000).map((r) => r[0]));
    expect((ring as unknown as { rows: unknown[] }).rows.length).toBeLessThan(2200);
  });
});
