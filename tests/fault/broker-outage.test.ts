import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '../../src/util/sleep.js';
import { waitFor } from '../helpers/wait.js';
import { Rig, SCAN } from './helpers/rig.js';

/** Scans per second, steady, before, through and after the outage. */
const RATE = 250;
/** The outage, scaled to CI: 45 s at 250 scans/s leaves a backlog of about 11,000 events. */
const OUTAGE_MS = 45_000;
/** Drain at least this many times faster than the backlog filled: the row's criterion. */
const SPEEDUP = 5;

interface Sample {
  t: number;
  rows: number;
  connected: boolean;
}

/*
 * Row 3: the broker is down for a long outage while the scanner goes on typing at a steady rate.
 * The backlog fills at the ingest rate; once the broker is back it must drain at least 5x faster
 * than it filled (net of the ingest that continues meanwhile), lose nothing, and arrive in seq
 * order. With a backlog deeper than mqtt.batch.threshold the gateway drains it in CloudEvents
 * batches and sends newer events alongside on the live lane (docs/ARCHITECTURE.md), so "in seq
 * order" holds per lane: the backlog (seq <= the drain's untilSeq) in order, the live events after
 * it in order.
 *
 * The broker goes away with SIGTERM: Mosquitto saves the sessions and what is queued for central,
 * so what this row measures is the gateway's side of the PUBACK (row 4 kills the broker hard).
 * Fill and drain are measured from the gateway's /v1/status (buffer rows), sampled every 100 ms:
 * fill = rows gained during the outage / outage length; drain = rows shed / time from the broker's
 * restart to the buffer being back at its level before the outage.
 */
describe('fault row 3: broker down for a long outage while ingest continues (built CLI, MQTT 5)', () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.dispose();
    rig = undefined;
  });

  it(`loses nothing; the backlog drains at least ${SPEEDUP}x faster than it filled, in seq order`, {
    timeout: 300_000,
  }, async () => {
    const t0 = performance.now();
    rig = await Rig.start({});
    const r = rig;
    await r.startGateway(120_000);
    const typist = r.typist({ rate: RATE, batch: 10 });
    await r.collector.waitForUnique(2000, SCAN, 60_000);

    const samples: Sample[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const res = await fetch(`${r.apiUrl}/v1/status`).catch(() => null);
        if (res?.ok) {
          const s = (await res.json()) as {
            buffer?: { rows: number } | null;
            uplink?: { connected: boolean } | null;
          };
          samples.push({
            t: performance.now(),
            rows: s.buffer?.rows ?? 0,
            connected: s.uplink?.connected ?? false,
          });
        }
        await sleep(100);
      }
    })();
    await sleep(2000);
    // The buffer's level in steady state: rows waiting for PUBACK and delete.
    const steady = Math.max(...samples.map((s) => s.rows));

    const stopAt = performance.now();
    await r.broker.stop();
    expect(r.broker.log).not.toMatch(/Error saving/i);
    await sleep(OUTAGE_MS);
    const typedAtRestart = typist.typed;
    const restartAt = performance.now();
    await r.broker.restart();
    const peak = samples.filter((s) => s.t <= restartAt).reduce((m, s) => Math.max(m, s.rows), 0);
    const fillStart = samples.filter((s) => s.t <= stopAt).at(-1)?.rows ?? 0;
    // Drained: back at (or under) the level before the outage, the scanner still typing.
    const drainedAt = (await waitFor(
      () => samples.find((s) => s.t > restartAt && s.rows <= Math.max(steady, RATE / 10))?.t,
      'the backlog to drain',
      180_000,
      100,
    )) as number;
    const drainedRows = samples.find((s) => s.t === drainedAt)?.rows ?? 0;
    const reconnectedAt = samples.find((s) => s.t > restartAt && s.connected)?.t ?? drainedAt;
    await sleep(2000);
    const typed = await typist.stop();
    sampling = false;
    await sampler;
    await r.waitDrained(60_000);
    const gw = r.gateway;
    await r.killGateway('SIGTERM');
    expect((await gw?.exit)?.code).toBe(0);
    const d = await r.delivery({ timeoutMs: 120_000 });

    const outageS = (restartAt - stopAt) / 1000;
    const drainS = (drainedAt - restartAt) / 1000;
    const fillRate = (peak - fillStart) / outageS;
    const drainRate = (peak - drainedRows) / drainS;
    const drains = (gw?.lines ?? []).filter((l) => l.msg === 'draining the backlog in batches');
    const untilSeqs = drains.map((l) => Number(l.untilSeq)).sort((a, b) => a - b);
    /** Per lane (the backlog of each drain, then what came after it), seqs must arrive in order. */
    const laneOf = (seq: number) => untilSeqs.filter((u) => seq > u).length;
    const lastInLane = new Map<number, number>();
    const outOfOrder: string[] = [];
    for (const e of r.collector.unique()) {
      const seq = e.event?.seq as number;
      const lane = laneOf(seq);
      const prev = lastInLane.get(lane) ?? 0;
      if (seq <= prev) outOfOrder.push(`${seq} after ${prev}`);
      lastInLane.set(lane, seq);
    }
    console.log(
      `fault: row 3 broker outage: ${Math.round(outageS)} s outage at ${RATE} scans/s; backlog ${fillStart} -> ${peak} ` +
        `rows (fill ${Math.round(fillRate)} rows/s); drained to ${drainedRows} in ${drainS.toFixed(1)} s after the broker's ` +
        `restart (reconnected after ${((reconnectedAt - restartAt) / 1000).toFixed(1)} s), net drain ` +
        `${Math.round(drainRate)} rows/s = ${(drainRate / fillRate).toFixed(1)}x fill (criterion ${SPEEDUP}x); ` +
        `${drains.length} batched drain(s); ${typed} scans typed, ${d.lastSeq} events accepted, lost ${d.lostSeqs.length}, ` +
        `${d.duplicates} duplicates, ${outOfOrder.length} out of order; ${Math.round((performance.now() - t0) / 1000)} s`,
    );

    // The outage fell inside the stream and the gateway buffered through it.
    expect(typedAtRestart).toBeLessThan(typed);
    expect(peak - fillStart).toBeGreaterThan((RATE * OUTAGE_MS) / 1000 / 2);
    expect(d.lostSeqs.slice(0, 20), `${d.lostSeqs.length} accepted seqs lost`).toEqual([]);
    expect(d.invalid).toBe(0);
    expect(d.divergentDuplicates).toBe(0);
    expect(r.collector.consumer.counts.gaps).toBe(0);
    expect(outOfOrder.slice(0, 10)).toEqual([]);
    expect(drainRate / fillRate).toBeGreaterThanOrEqual(SPEEDUP);
  });
});
