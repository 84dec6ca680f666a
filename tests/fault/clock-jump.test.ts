import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import type { Clock } from '../../src/clock.js';
import { validateConfig } from '../../src/config/load.js';
import { Uuid7 } from '../../src/events/uuid7.js';
import { silentLogger } from '../../src/logger.js';
import { Collector } from '../helpers/collector.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { scanCode } from './helpers/typist.js';

/*
 * Row 10 of docs/RELIABILITY.md. The wall clock the gateway sees (its injected clock) jumps an hour
 * forward and an hour back in the middle of a scan stream, as NTP stepping a badly set clock or a
 * manual `date -s` would; in two of the phases the broker also restarts, so the uplink's backoff
 * and the outbox drain run on the jumped clock. The scanner has duplicate suppression on (a 1 s
 * window) and a label held in front of it at the end of each phase, so the jump happens while
 * suppression windows are open. Checked: every scan arrives exactly once (after
 * dedupe by id), `seq` strictly grows in typing order whatever the event times do, the UUIDv7 ids
 * stay unique, event times follow the clock the gateway was given, and the buffer drains to empty.
 */

const HOUR = 3_600_000;
/** The clock offset of each phase, in order: forward an hour, back, back an hour more, forward. */
const PHASES = [0, +HOUR, 0, -HOUR, 0];
/** Phases in which the broker is restarted mid-phase. */
const RESTART_IN = new Set([1, 3]);
const SCANS_PER_PHASE = 60;
/** How far an event time may be from the jumped clock at typing time (a loaded machine is slow). */
const TIME_TOLERANCE_MS = 60_000;
const DEDUPE_WINDOW_MS = 1000;
/** The label held in front of the scanner at the end of phase `p`: read this many times. */
const HELD_READS = 3;
const heldCode = (p: number) => scanCode(900_000 + p);

describe('fault: wall clock jumps of plus and minus one hour mid-stream', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
  });

  it('loses nothing, duplicates nothing, and seq only grows', { timeout: 240_000 }, async () => {
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

    let offset = 0;
    const clock: Clock = { now: () => Date.now() + offset };
    const checked = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        devices: [
          {
            id: 'lane-1',
            kind: 'serial-scanner',
            path: scanner.options.linkPath,
            dedupe: { windowMs: DEDUPE_WINDOW_MS },
          },
        ],
      }),
    );
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    const running: Running = await startGateway(checked.config, { log: silentLogger(), clock });
    cleanup.push(() => running.stop());
    await waitFor(() => running.gateway.status().devices[0]?.state === 'connected', 'scanner open', 30_000);

    /** Real time at which each scan was typed, and the clock offset then. */
    const typed: { realMs: number; offset: number }[] = [];
    let restarts = 0;
    let reads = 0;
    // The envelope's id generator reads the system clock; this one reads the jumped clock, to show
    // ids stay unique and increasing when the wall clock steps back an hour.
    const idGen = new Uuid7(() => clock.now());
    const jumpedIds: string[] = [];
    const readings = () => running.gateway.status().devices[0]?.readings ?? 0;
    for (const [p, phaseOffset] of PHASES.entries()) {
      offset = phaseOffset;
      for (let k = 0; k < 1000; k++) jumpedIds.push(idGen.next());
      for (let k = 0; k < SCANS_PER_PHASE; k++) {
        if (RESTART_IN.has(p) && k === SCANS_PER_PHASE / 2) {
          await broker.restart();
          restarts++;
        }
        typed.push({ realMs: Date.now(), offset });
        await scanner.scan({ text: scanCode(typed.length - 1), aim: '' });
        reads++;
      }
      for (let k = 0; k < HELD_READS; k++) await scanner.scan({ text: heldCode(p), aim: '' });
      reads += HELD_READS;
      // The driver has read (and timed) every scan of this phase; its suppression windows are open.
      await waitFor(() => readings() === reads, `phase ${p} read`, 60_000);
    }
    await collector.waitForUnique(typed.length + PHASES.length, 'retail.scan.v1', 60_000);
    offset = 0;
    await waitFor(() => running.gateway.outbox.stats().rows === 0, 'the buffer drained', 60_000);

    const all = collector.unique('retail.scan.v1');
    const heldTexts = new Set(PHASES.map((_, p) => heldCode(p)));
    const held = all.filter((r) => heldTexts.has(r.event?.data.text as string));
    const scans = all.filter((r) => !heldTexts.has(r.event?.data.text as string));
    const texts = scans.map((r) => r.event?.data.text as string);
    const byText = new Map(scans.map((r) => [r.event?.data.text as string, r.event]));
    const seqs = typed.map((_, i) => byText.get(scanCode(i))?.seq as number);
    const ids = collector.unique().map((r) => r.event?.id as string);
    const skew = typed.map(
      (t, i) => Date.parse(byText.get(scanCode(i))?.time as string) - (t.realMs + t.offset),
    );
    const rawScans = collector.received.filter((r) => r.event?.type === 'retail.scan.v1').length;
    const seqGrows = seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number));
    console.log(
      `fault: row 10 clock jumps ${PHASES.map((o) => `${o >= 0 ? '+' : ''}${o / HOUR}h`).join(' → ')}, ` +
        `${restarts} broker restarts: ${typed.length} scans typed, ${scans.length} delivered ` +
        `(${rawScans - scans.length} QoS 1 redeliveries dropped by id), seq ${seqs[0]}..${seqs.at(-1)} ` +
        `strictly growing: ${seqGrows}, ${new Set(ids).size}/${ids.length} event ids unique, ` +
        `${new Set(jumpedIds).size}/${jumpedIds.length} UUIDv7 on the jumped clock unique and increasing, held labels ` +
        `${held.map((r) => r.event?.data.count).join('/')} reads in ${held.length} events, ` +
        `event time − jumped clock at typing: ${Math.min(...skew)}..${Math.max(...skew)} ms; ` +
        `${Math.round((performance.now() - t0) / 1000)} s`,
    );

    // No loss, no duplicate.
    expect(texts.length).toBe(typed.length);
    expect(new Set(texts).size).toBe(typed.length);
    expect([...texts].sort()).toEqual(typed.map((_, i) => scanCode(i)).sort());
    // seq only grows, in typing order, whatever the clock did; no gaps across everything delivered.
    expect(seqGrows).toBe(true);
    const allSeqs = collector.unique().map((r) => r.event?.seq as number);
    expect(new Set(allSeqs).size).toBe(allSeqs.length);
    expect(collector.consumer.counts.gaps).toBe(0);
    // UUIDv7 ids stay unique across the jumps.
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Event times follow the clock the gateway sees: each is within a minute of the jumped clock.
    for (const s of skew) expect(Math.abs(s)).toBeLessThan(TIME_TOLERANCE_MS);
    expect(collector.unique().filter((r) => r.issues.length > 0)).toEqual([]);
    // Suppression windows open across a jump still close: each held label is one event of its reads.
    expect(held.map((r) => [r.event?.data.text, r.event?.data.count])).toEqual(
      PHASES.map((_, p) => [heldCode(p), HELD_READS]),
    );
    expect(running.gateway.status().devices[0]).toMatchObject({ state: 'connected', readings: reads });
  });
});
