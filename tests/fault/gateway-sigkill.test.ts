import { afterEach, describe, expect, it } from 'vitest';
import type { Received } from '../../src/consumer/consumer.js';
import { waitFor } from '../helpers/wait.js';
import { MqttProxy, Rig, SCAN } from './helpers/rig.js';

const KILLS = 5;
/** Small, so that "duplicates bounded by the window" says something. */
const WINDOW = 50;
/** Scans per second the scanner types, through the kills. */
const RATE = 500;
/** Scans central must have from an incarnation (its own boot id) before the PUBACKs are held. */
const SCANS_BEFORE_HOLD = 200;

/*
 * Row 2: the gateway is SIGKILLed while publishes wait for their PUBACK. The proxy holds back the
 * broker's PUBACKs: the broker has the publishes (central receives them), the gateway has not been
 * told. That is how the test knows each kill lands between publish and PUBACK: at the kill the
 * gateway's own /v1/status reports a full window in flight, and the proxy counts the PUBACKs it
 * kept. After the restart the gateway must resend exactly those rows: at most one window of
 * duplicates per kill, each a byte-identical copy (same id, same seq) of an event central had.
 */
describe('fault row 2: SIGKILL between publish and PUBACK (built CLI, MQTT 5)', () => {
  let rig: Rig | undefined;
  let gate: MqttProxy | undefined;
  afterEach(async () => {
    await rig?.dispose();
    await gate?.close();
    rig = gate = undefined;
  });

  it('duplicates per kill stay within the in-flight window and repeat the same event; nothing is lost', {
    timeout: 600_000,
  }, async () => {
    const t0 = performance.now();
    rig = await Rig.start({
      window: WINDOW,
      gatewayMqttUrl: async (broker) => {
        gate = await MqttProxy.start(broker.port);
        return gate.url;
      },
    });
    const r = rig;
    const g = gate as MqttProxy;
    const typist = r.typist({ rate: RATE, batch: 10 });

    /** Scans central has from one incarnation (by its boot id). */
    const scansFrom = (bootId: string) =>
      r.collector.unique(SCAN).filter((e) => e.event?.bootid === bootId).length;

    const restartMarks: number[] = [];
    /** Per kill: the seqs the proxy saw published whose PUBACK the gateway never got. */
    const unackedAtKill: Set<number>[] = [];
    const inflightAtKill: number[] = [];
    const heldAtKill: number[] = [];
    await r.startGateway(120_000);
    for (let k = 1; k <= KILLS; k++) {
      const gw = r.gateway;
      if (!gw) throw new Error('no gateway');
      const running = await gw.waitForLog((l) => l.msg === 'gateway running', 'gateway running', 60_000);
      const bootId = running.bootId as string;
      await waitFor(
        () => scansFrom(bootId) >= SCANS_BEFORE_HOLD,
        `${SCANS_BEFORE_HOLD} scans from ${bootId}`,
        60_000,
      );

      g.hold();
      // The gateway keeps publishing until its window is full, then waits for PUBACKs that never come.
      const status = (await waitFor(
        async () => {
          const s = await gw.status();
          const up = s.uplink as { inflight: number; window: number } | null;
          return up && up.inflight >= up.window - 1 && g.heldPubacks >= up.inflight - 1 ? up : null;
        },
        'a full window in flight',
        60_000,
        50,
      )) as { inflight: number; window: number };
      // The broker received those publishes: central has each of them.
      await waitFor(() => g.heldPubacks >= status.inflight - 1, 'the held PUBACKs', 30_000);
      inflightAtKill.push(status.inflight);
      heldAtKill.push(g.heldPubacks);
      const { signal } = await r.killGateway('SIGKILL');
      expect(signal).toBe('SIGKILL');
      unackedAtKill.push(new Set([...g.publishedSeqs].filter((q) => !g.ackedSeqs.has(q))));
      g.release();
      restartMarks.push(r.received.length);
      await r.startGateway(120_000);
    }

    // The last incarnation runs to the end: stop typing, let it drain, stop it cleanly.
    const typed = await typist.stop();
    await r.waitDrained(120_000);
    const last = r.gateway;
    await r.killGateway('SIGTERM');
    expect((await last?.exit)?.code).toBe(0);
    const d = await r.delivery({ timeoutMs: 60_000 });

    // Duplicates caused by kill k arrive between restart k and restart k+1.
    const bounds = [...restartMarks, r.received.length];
    const dupsAfter = restartMarks.map((from, k) =>
      r.received.slice(from, bounds[k + 1]).filter((e) => e.duplicate),
    );
    const dupsPerKill = dupsAfter.map((list) => list.length);
    console.log(
      `fault: row 2 SIGKILL between publish and PUBACK: ${KILLS} kills, window ${WINDOW}; at each kill the gateway ` +
        `reported [${inflightAtKill.join(', ')}] in flight and the proxy held [${heldAtKill.join(', ')}] PUBACKs; ` +
        `duplicates per kill [${dupsPerKill.join(', ')}], all same id and byte-identical: ${d.divergentDuplicates === 0}; ` +
        `${typed} scans typed, ${d.lastSeq} events accepted, lost ${d.lostSeqs.length}; ` +
        `${Math.round((performance.now() - t0) / 1000)} s`,
    );

    expect(d.lostSeqs.slice(0, 20), `${d.lostSeqs.length} accepted seqs lost`).toEqual([]);
    expect(d.invalid).toBe(0);
    expect(r.collector.consumer.counts.gaps).toBe(0);
    // No duplicate before the first kill.
    expect(r.received.slice(0, restartMarks[0]).filter((e) => e.duplicate)).toEqual([]);
    for (const [k, dups] of dupsAfter.entries()) {
      // The kill landed between publish and PUBACK: the window was full and its PUBACKs held.
      expect(inflightAtKill[k]).toBeGreaterThanOrEqual(WINDOW - 1);
      // Bounded by the window, and at least one (the held publishes had reached central).
      expect(dups.length, `duplicates after kill ${k + 1}`).toBeLessThanOrEqual(WINDOW);
      expect(dups.length, `duplicates after kill ${k + 1}`).toBeGreaterThan(0);
      // Each duplicate is one of the publishes whose PUBACK was held when the gateway was killed.
      const unacked = unackedAtKill[k] as Set<number>;
      const others = dups.map((e) => e.event?.seq as number).filter((q) => !unacked.has(q));
      expect(others, `duplicates after kill ${k + 1} that had been acknowledged`).toEqual([]);
    }
    // Same seq ⇒ same id and byte-identical envelope.
    expect(d.divergentDuplicates).toBe(0);
    const first = new Map<number, Received>();
    for (const e of r.received) {
      const seq = e.event?.seq as number;
      const f = first.get(seq);
      if (!f) first.set(seq, e);
      else expect(e.event?.id, `id of seq ${seq}`).toBe(f.event?.id);
    }
    // Unique events arrive in seq order (a resend never overtakes).
    const seqs = r.collector.unique().map((e) => e.event?.seq as number);
    const outOfOrder = seqs.findIndex((s, i) => i > 0 && s <= (seqs[i - 1] as number));
    expect(outOfOrder, `seq ${seqs[outOfOrder]} arrived after ${seqs[outOfOrder - 1]}`).toBe(-1);
  });
});
