import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { Collector } from '../helpers/collector.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { scanCode } from './helpers/typist.js';

const REPLUGS = 5;
const SCANS_PER_SESSION = 20;

describe('fault: scanner unplugged and plugged back in (real PTY)', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
  });

  it('reopens by itself each time, says so in status events, and delivers the scans typed after', {
    timeout: 90_000,
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
        devices: [
          {
            id: 'lane-1',
            kind: 'serial-scanner',
            path: scanner.options.linkPath,
            reopen: { minMs: 50, maxMs: 200 },
          },
        ],
      }),
    );
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    const running: Running = await startGateway(checked.config, { log: silentLogger() });
    cleanup.push(() => running.stop());
    const device = () => running.gateway.status().devices[0];

    const statuses = () =>
      collector.unique('retail.device.status.v1').map((r) => r.event?.data as Record<string, unknown>);
    const stateCount = (state: string) => statuses().filter((s) => s.state === state).length;
    let sent = 0;
    const typeSession = async () => {
      for (let k = 0; k < SCANS_PER_SESSION; k++) await scanner.scan({ text: scanCode(sent++), aim: '' });
      await collector.waitForUnique(sent, 'retail.scan.v1');
    };

    await waitFor(() => stateCount('connected') === 1, 'the first connected status event');
    await typeSession();
    for (let i = 1; i <= REPLUGS; i++) {
      await scanner.unplug();
      await waitFor(() => stateCount('disconnected') === i, `disconnected status event #${i}`);
      // Unplugged, the driver keeps trying and fails: the link is gone.
      await waitFor(() => device()?.state === 'unavailable', `driver unavailable after unplug #${i}`);
      await waitFor(() => stateCount('unavailable') === i, `unavailable status event #${i}`);
      await scanner.plug();
      await waitFor(() => stateCount('connected') === i + 1, `connected status event after replug #${i}`);
      await typeSession();
    }

    const states = statuses().map((s) => s.state);
    expect(states).toEqual([
      'connected',
      ...Array.from({ length: REPLUGS }, () => ['disconnected', 'unavailable', 'connected']).flat(),
    ]);
    for (const s of statuses()) {
      expect(s).toMatchObject({ deviceId: 'lane-1', kind: 'serial-scanner', path: scanner.options.linkPath });
      if (s.state !== 'connected') expect(s.reason).toEqual(expect.any(String));
    }

    const scans = collector.unique('retail.scan.v1');
    expect(scans.map((r) => r.event?.data.text)).toEqual(Array.from({ length: sent }, (_, i) => scanCode(i)));
    const unique = collector.unique();
    expect(unique.filter((r) => r.issues.length > 0)).toEqual([]);
    const seqs = unique.map((r) => r.event?.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(collector.consumer.counts.gaps).toBe(0);

    const health = device();
    expect(health).toMatchObject({ state: 'connected', reopens: REPLUGS, readings: sent, decodeErrors: 0 });
    console.log(
      `replug: ${REPLUGS} unplug/replug cycles, ${health?.reopens} reopens, ${sent} scans delivered, ` +
        `${statuses().length} status events (${states.join(' → ')}), ` +
        `${Math.round((performance.now() - t0) / 1000)} s`,
    );
  });
});
