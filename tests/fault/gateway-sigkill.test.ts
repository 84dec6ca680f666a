import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import type { Received } from '../../src/consumer/consumer.js';
import { Collector } from '../helpers/collector.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { FastTypist } from './helpers/typist.js';

const KILLS = 5;
/** Small, so that "duplicates bounded by the window" says something. */
const WINDOW = 50;
/** Scans per second the scanner types, through the kills. */
const RATE = 1000;
/** Scans central must have from an incarnation (its own boot id) before it is killed: it is mid-stream. */
const SCANS_BEFORE_KILL = 300;
/** Scans typed at once before every second kill, so that it falls in the middle of a backlog drain. */
const BURST = 5000;

function lastCommittedSeq(bufferPath: string): number {
  const db = new Database(bufferPath, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'last_seq'").get() as { value: number };
    return Number(row.value);
  } finally {
    db.close();
  }
}

/*
 * "Accepted" means committed in the SQLite buffer: the daemon may lose what it had read but not yet
 * committed when it is killed (no seq was given to it), never a committed event. Seq is assigned at
 * commit, so every seq from 1 to the buffer's last_seq is an accepted event and must reach central.
 */
describe('fault: gateway SIGKILLed mid-stream and restarted (built CLI, MQTT 5)', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
  });

  it('loses no accepted event; duplicates per kill stay within the in-flight window and repeat the same event', {
    timeout: 150_000,
  }, async () => {
    const t0 = performance.now();
    const broker = await Mosquitto.start();
    cleanup.push(() => broker.dispose());
    const dir = tmpDir();
    cleanup.push(() => dir.cleanup());
    const scanner = new SimulatedSerialScanner({
      linkPath: join(dir.path, 'scanner'),
      framing: { suffix: '\r\n' },
    });
    await scanner.plug();
    cleanup.push(() => scanner.unplug());
    const collector = await Collector.start(broker.url, { protocolVersion: 5 });
    cleanup.push(() => collector.stop());
    const bufferPath = join(dir.path, 'buffer.db');
    const file = writeConfig(
      configPath(dir.path),
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        devices: [
          {
            id: 'lane-1',
            kind: 'serial-scanner',
            path: scanner.options.linkPath,
            reopen: { minMs: 50, maxMs: 200 },
          },
        ],
        extra: { mqtt: { inflightWindow: WINDOW } },
      }),
    );

    let gw = GatewayProcess.run(file);
    cleanup.push(() => gw.kill('SIGKILL').then(() => undefined));

    const typist = new FastTypist({ scanner, rate: RATE, batch: 20 }).start();
    cleanup.push(() => typist.stop().then(() => undefined));

    /** Scans central has from one incarnation (by its boot id). */
    const scansFrom = (bootId: string) =>
      collector.unique('retail.scan.v1').filter((r) => r.event?.bootid === bootId).length;
    /** Waits until central has `n` scans read by this incarnation itself: it is mid-stream. */
    const ownScans = async (p: GatewayProcess, n: number) => {
      const running = await p.waitForLog((l) => l.msg === 'gateway running', 'gateway running', 30_000);
      const bootId = running.bootId as string;
      await waitFor(() => scansFrom(bootId) >= n, `${n} scans from boot ${bootId}`, 30_000);
      return bootId;
    };

    /** collector.received.length when each incarnation after a kill was started. */
    const restartMarks: number[] = [];
    const boots: string[] = [];
    for (let k = 1; k <= KILLS; k++) {
      const bootId = await ownScans(gw, SCANS_BEFORE_KILL);
      boots.push(bootId);
      if (k % 2 === 0) {
        // This kill lands while a backlog drains: the window is full, the worst case for duplicates.
        const before = scansFrom(bootId);
        await typist.burst(BURST);
        await waitFor(() => scansFrom(bootId) >= before + BURST / 5, 'the burst to be draining', 30_000);
      }
      const { signal } = await gw.kill('SIGKILL');
      expect(signal).toBe('SIGKILL');
      restartMarks.push(collector.received.length);
      gw = GatewayProcess.run(file);
    }
    // The last incarnation runs to the end: stop typing, let it drain, stop it cleanly.
    boots.push(await ownScans(gw, SCANS_BEFORE_KILL));
    const typed = await typist.stop();
    await gw.ready();
    await waitFor(
      async () => ((await gw.status()).buffer as { rows: number } | null)?.rows === 0,
      'the buffer to drain',
      30_000,
    );
    await gw.kill('SIGTERM');
    expect((await gw.exit).code).toBe(0);

    expect(existsSync(bufferPath)).toBe(true);
    const lastSeq = lastCommittedSeq(bufferPath);
    const uniqueSeqs = () => new Set(collector.unique().map((r) => r.event?.seq as number));
    await waitFor(() => uniqueSeqs().size >= lastSeq, `all ${lastSeq} accepted events at central`, 30_000);

    // No accepted event lost: every seq 1..last_seq arrived, and nothing beyond it.
    const seen = uniqueSeqs();
    const lost: number[] = [];
    for (let s = 1; s <= lastSeq; s++) if (!seen.has(s)) lost.push(s);
    expect(lost, `lost seqs: ${lost.slice(0, 20).join(', ')}`).toEqual([]);
    expect(Math.max(...seen)).toBe(lastSeq);
    expect(collector.consumer.counts.gaps).toBe(0);
    expect(collector.received.filter((r) => r.issues.length > 0)).toEqual([]);

    // Unique events arrive in seq order (a resend never overtakes).
    const seqs = collector.unique().map((r) => r.event?.seq as number);
    const outOfOrder = seqs.findIndex((s, i) => i > 0 && s <= (seqs[i - 1] as number));
    expect(outOfOrder, `seq ${seqs[outOfOrder]} arrived after ${seqs[outOfOrder - 1]}`).toBe(-1);

    // A duplicate is the same event: same seq ⇒ same id and byte-identical payload.
    const bySeq = new Map<number, Received[]>();
    for (const r of collector.received) {
      const seq = r.event?.seq as number;
      bySeq.set(seq, [...(bySeq.get(seq) ?? []), r]);
    }
    for (const [seq, copies] of bySeq) {
      if (copies.length < 2) continue;
      const first = JSON.stringify(copies[0]?.event);
      for (const c of copies) expect(JSON.stringify(c.event), `copies of seq ${seq}`).toBe(first);
    }

    // Duplicates caused by kill k are resent by the incarnation started after it: they arrive between
    // restart k and restart k+1. Each kill may repeat at most one window: rows published but not
    // acknowledged, or acknowledged with their delete not yet committed (both hold a window slot).
    const bounds = [...restartMarks, collector.received.length];
    const dupsPerKill = restartMarks.map(
      (from, k) => collector.received.slice(from, bounds[k + 1]).filter((r) => r.duplicate).length,
    );
    const earlyDups = collector.received.slice(0, restartMarks[0]).filter((r) => r.duplicate).length;
    expect(earlyDups).toBe(0);
    for (const [k, n] of dupsPerKill.entries()) {
      expect(n, `duplicates after kill ${k + 1}`).toBeLessThanOrEqual(WINDOW);
    }

    // Every incarnation opened the scanner and said so, once.
    const connected = collector
      .unique('retail.device.status.v1')
      .filter((r) => r.event?.data.state === 'connected')
      .map((r) => r.event?.bootid);
    expect(connected).toEqual(boots);

    const scans = collector.unique('retail.scan.v1').length;
    console.log(
      `gateway SIGKILL: ${KILLS} kills, ${typed} scans typed, ${lastSeq} events accepted (${scans} scans), ` +
        `all delivered; duplicates per kill [${dupsPerKill.join(', ')}] (window ${WINDOW}), ` +
        `${collector.consumer.counts.duplicates} in all; ${Math.round((performance.now() - t0) / 1000)} s`,
    );
  });
});
