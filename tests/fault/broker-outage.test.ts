import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { sleep } from '../../src/util/sleep.js';
import { Collector } from '../helpers/collector.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { FastTypist, missingScans, scanCode } from './helpers/typist.js';

const SCANS = 10_000;
/** Scans per second: a 20 s stream, so the 10 s outage falls well inside it. */
const RATE = 500;
const OUTAGE_MS = 10_000;

/*
 * The broker goes away with SIGTERM, not SIGKILL: a broker that has acknowledged a message is
 * responsible for it (its persistence keeps the sessions and what is queued for them). Killing it
 * hard would test Mosquitto's durability, not the gateway's. What this test holds the gateway to is
 * everything on its side of the PUBACK: keep accepting scans while the broker is down, keep them in
 * the buffer, and resend from the oldest unacknowledged one once the broker is back.
 */
describe('fault: broker outage during a 10,000-scan stream (MQTT 5, Mosquitto)', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
  });

  it('delivers every scan, in seq order, with no gap, and drains the buffer', {
    timeout: 120_000,
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
    const checked = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        devices: [{ id: 'lane-1', kind: 'serial-scanner', path: scanner.options.linkPath }],
      }),
    );
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    const running: Running = await startGateway(checked.config, { log: silentLogger() });
    cleanup.push(() => running.stop());
    const { gateway } = running;
    await collector.waitForUnique(1, 'retail.device.status.v1');

    const typist = new FastTypist({ scanner, rate: RATE, batch: 25, count: SCANS }).start();
    cleanup.push(() => typist.stop().then(() => undefined));
    await collector.waitForUnique(1000, 'retail.scan.v1', 30_000);

    await broker.stop();
    const typedAtStop = typist.typed;
    // The broker saved its sessions on the way down (if it cannot, the restart would void the test).
    expect(broker.log).not.toMatch(/Error saving/i);
    await waitFor(() => !gateway.status().uplink?.connected, 'the gateway to see the broker gone', 20_000);
    // The fault lasts a fixed time; nothing is asserted about timing.
    let backlog = 0;
    const outageEnd = performance.now() + OUTAGE_MS;
    while (performance.now() < outageEnd) {
      backlog = Math.max(backlog, gateway.status().buffer?.rows ?? 0);
      await sleep(100);
    }
    const typedAtRestart = typist.typed;
    await broker.restart();

    expect(await typist.done()).toBe(SCANS);
    await collector.waitForUnique(SCANS, 'retail.scan.v1', 60_000).catch((err: Error) => {
      const texts = collector.unique('retail.scan.v1').map((r) => r.event?.data.text);
      throw new Error(
        `${err.message}; missing scans: ${missingScans(texts, SCANS)}; consumer ${JSON.stringify(collector.consumer.counts)}; ` +
          `gateway ${JSON.stringify(gateway.status().uplink)}; broker log: ${broker.log}`,
      );
    });
    await waitFor(() => gateway.status().buffer?.rows === 0, 'the buffer to drain', 20_000);

    // The outage fell inside the stream, and the gateway buffered through it.
    expect(typedAtStop).toBeLessThan(typedAtRestart);
    expect(typedAtRestart).toBeLessThan(SCANS);
    expect(backlog).toBeGreaterThan(0);

    const unique = collector.unique();
    expect(unique.filter((r) => r.issues.length > 0)).toEqual([]);
    const scans = collector.unique('retail.scan.v1');
    expect(scans).toHaveLength(SCANS);
    const texts = new Set(scans.map((r) => r.event?.data.text));
    expect(texts.size).toBe(SCANS);
    for (let i = 0; i < SCANS; i++) if (!texts.has(scanCode(i))) expect.fail(`scan ${i} never arrived`);

    const seqs = unique.map((r) => r.event?.seq as number);
    const outOfOrder = seqs.findIndex((s, i) => i > 0 && s <= (seqs[i - 1] as number));
    expect(outOfOrder, `seq ${seqs[outOfOrder]} arrived after ${seqs[outOfOrder - 1]}`).toBe(-1);
    expect(collector.consumer.counts.gaps).toBe(0);
    expect(seqs[seqs.length - 1]).toBe(seqs.length);

    const status = gateway.status();
    expect(status.buffer?.rows).toBe(0);
    expect(status.uplink?.reconnects).toBeGreaterThanOrEqual(1);
    console.log(
      `broker outage: ${SCANS} scans typed (${typedAtStop} before the stop, ${typedAtRestart} before the restart), ` +
        `${unique.length} unique events, ${collector.consumer.counts.duplicates} duplicates, ` +
        `peak backlog ${backlog} rows, ${status.uplink?.reconnects} reconnect(s), ` +
        `${Math.round((performance.now() - t0) / 1000)} s`,
    );
  });
});
