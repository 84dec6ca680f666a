import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/uplink/backoff.js';

const take = (b: Backoff, n: number) => Array.from({ length: n }, () => b.next());

describe('Backoff', () => {
  it('with random 1, doubles from 2·min up to max and stays there', () => {
    const b = new Backoff(100, 1000, () => 1);
    expect(take(b, 7)).toEqual([200, 400, 800, 1000, 1000, 1000, 1000]);
  });

  it('with random 0, never waits less than min', () => {
    const b = new Backoff(100, 1000, () => 0);
    expect(take(b, 6)).toEqual([100, 100, 100, 100, 100, 100]);
  });

  it('draws between min and the doubling ceiling', () => {
    const b = new Backoff(100, 10_000, () => 0.5);
    expect(take(b, 6)).toEqual([150, 250, 450, 850, 1650, 3250]);
  });

  it('doubling(): min, 2·min, 4·min … max, without jitter', () => {
    expect(take(Backoff.doubling(100, 1000), 6)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('starts again from min after reset', () => {
    const b = new Backoff(100, 1000, () => 1);
    take(b, 5);
    expect(b.attempts).toBe(5);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(take(b, 3)).toEqual([200, 400, 800]);
  });

  it('stays finite and capped after very many attempts', () => {
    const b = new Backoff(500, 30_000, () => 1);
    const waits = take(b, 2000);
    expect(waits.at(-1)).toBe(30_000);
    expect(b.attempts).toBeLessThanOrEqual(30);
  });

  it('always waits between min and max, whatever the draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 50 }),
        (min, extra, draws) => {
          const max = min + extra;
          let i = 0;
          const b = new Backoff(min, max, () => draws[i++ % draws.length] as number);
          for (let n = 0; n < 60; n++) {
            const wait = b.next();
            expect(Number.isInteger(wait)).toBe(true);
            expect(wait).toBeGreaterThanOrEqual(min);
            expect(wait).toBeLessThanOrEqual(max);
          }
        },
      ),
    );
  });
});

describe('Backoff across a fleet', () => {
  /*
   * When a broker node fails, every gateway connected to it sees its connection close at the same
   * moment. Their first attempts must not all land on the broker at the same instant (the capacity
   * model of docs/RELIABILITY.md): with the default reconnect settings (500 ms to 30 s), the first
   * delays of 1,000 gateways must be spread, not one value shared by most of them.
   */
  it('spreads the first reconnect attempt of 1,000 gateways dropped at once', () => {
    const firstDelays = Array.from({ length: 1000 }, () => new Backoff(500, 30_000).next());
    const counts = new Map<number, number>();
    for (const d of firstDelays) counts.set(d, (counts.get(d) ?? 0) + 1);
    const mostShared = Math.max(...counts.values());
    expect(mostShared).toBeLessThan(50);
  });
});
