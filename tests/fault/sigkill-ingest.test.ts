import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '../../src/util/sleep.js';
import { POS, Rig, SCAN } from './helpers/rig.js';

/** Row 1 of docs/RELIABILITY.md. FAULT_KILLS lowers the count for a quick local run; CI runs 200. */
const KILLS = Number(process.env.FAULT_KILLS ?? 200);
/** Each incarnation is killed at a uniformly random moment up to this long after it is ready. */
const MAX_DELAY_MS = 400;
/** Scans per second the scanner types, through every kill and restart. */
const RATE = 200;
/** Ready again (API answering /readyz 200) within this long of the restart: the row's criterion. */
const READY_MS = 5000;

/*
 * Row 1: the daemon is SIGKILLed at 200 random moments while a scanner types and a POS lane posts,
 * and restarted at once each time.
 *
 * "Accepted" has two faces. A scan is accepted once committed: seq is assigned in the commit and
 * the buffer's last_seq is written in the same transaction, so seqs 1..last_seq (read from the file
 * after the last, clean stop) are exactly the accepted events, and each must reach central. A POS
 * transaction is accepted when the lane got a 2xx: its event id must reach central. Scans typed
 * while no gateway runs, or read but not committed when the kill landed, were never accepted.
 */
describe('fault row 1: SIGKILL at random moments during scan and POS ingest (built CLI, MQTT 5)', () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.dispose();
    rig = undefined;
  });

  it(`loses no accepted event over ${KILLS} kills; the buffer stays sound; ready again within 5 s`, {
    timeout: 60_000 + KILLS * 20_000,
  }, async () => {
    const t0 = performance.now();
    rig = await Rig.start({ pos: true });
    const typist = rig.typist({ rate: RATE, batch: 10 });
    const lane = rig.posLane('pos-1');

    const readyMs: number[] = [];
    const delays: number[] = [];
    /** Incarnations that died before the test killed them (must be none). */
    const diedEarly: number[] = [];
    // Not timed: a start that takes longer than READY_MS still completes (and fails the row at the end).
    readyMs.push(await rig.startGateway(60_000));
    lane.start({ gapMs: 2 });
    for (let k = 1; k <= KILLS; k++) {
      const delay = Math.random() * MAX_DELAY_MS;
      delays.push(delay);
      await sleep(delay);
      if (!rig.gateway?.alive) diedEarly.push(k);
      const { signal } = await rig.killGateway('SIGKILL');
      expect(signal, `incarnation ${k} ended by ${signal}`).toBe('SIGKILL');
      readyMs.push(await rig.startGateway(60_000));
    }

    // The last incarnation runs to the end: stop the lane and the scanner, drain, stop cleanly.
    await lane.stop();
    const typed = await typist.stop();
    await rig.waitDrained(120_000);
    const gw = rig.gateway;
    await rig.killGateway('SIGTERM');
    expect((await gw?.exit)?.code).toBe(0);

    // Buffer integrity: SQLite finds the file sound, and no incarnation quarantined it.
    const integrity = rig.quickCheck();
    const quarantined = rig.incarnations.filter((p) =>
      p.lines.some((l) => /corrupt|quarantin/i.test(String(l.msg))),
    ).length;
    const posIds = lane.accepted.map((a) => a.eventId);
    const d = await rig.delivery({ posIds, timeoutMs: 120_000 });
    const scans = rig.collector.unique(SCAN).length;
    const maxReady = Math.max(...readyMs);
    const sorted = [...readyMs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    console.log(
      `fault: row 1 SIGKILL during ingest: ${KILLS} kills at random moments 0-${MAX_DELAY_MS} ms after ready ` +
        `(mean ${Math.round(delays.reduce((a, b) => a + b, 0) / delays.length)} ms); ` +
        `${typed} scans typed, ${d.lastSeq} events accepted (${scans} scans, ${lane.accepted.length} POS 2xx, ` +
        `${lane.accepted.filter((a) => a.replayed).length} of them replayed answers after a retry; ` +
        `${lane.retries} lane retries); lost ${d.lostSeqs.length} seqs and ${d.lostPos.length} POS; ` +
        `${d.duplicates} duplicates (${d.reissued} re-sent POS events under their first id); ` +
        `quick_check ${integrity}, ${quarantined} quarantines; ready after restart: median ` +
        `${Math.round(median)} ms, max ${Math.round(maxReady)} ms (criterion ${READY_MS} ms); ` +
        `${Math.round((performance.now() - t0) / 1000)} s`,
    );

    expect(integrity).toBe('ok');
    expect(quarantined).toBe(0);
    expect(diedEarly).toEqual([]);
    // No accepted event lost.
    expect(d.lostSeqs.slice(0, 20), `${d.lostSeqs.length} accepted seqs lost`).toEqual([]);
    expect(d.lostPos.slice(0, 20), `${d.lostPos.length} POS transactions answered 2xx lost`).toEqual([]);
    // Nothing delivered beyond what the buffer says it committed (no seq was reused or skipped).
    expect([...rig.seenSeqs()].reduce((a, b) => Math.max(a, b), 0)).toBe(d.lastSeq);
    expect(lane.accepted.every((a) => a.seq <= d.lastSeq)).toBe(true);
    expect(d.invalid).toBe(0);
    expect(d.divergentDuplicates).toBe(0);
    // A lane's retry never turns into a refusal (a 409 would mean the gateway lost track of it).
    expect(lane.refused).toEqual([]);
    // Each POS transaction reached central under one id, whatever the kills did to its answer.
    const keys = rig.collector
      .unique(POS)
      .map((r) => (r.event?.data as { sequenceNumber?: number } | undefined)?.sequenceNumber);
    expect(new Set(keys).size).toBe(keys.length);
    // The run did ingest: scans and transactions were accepted.
    expect(scans).toBeGreaterThan(KILLS);
    expect(lane.accepted.length).toBeGreaterThan(0);
    expect(maxReady, `slowest restart to ready: ${Math.round(maxReady)} ms`).toBeLessThanOrEqual(READY_MS);
  });
});
