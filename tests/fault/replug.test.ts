import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeSerialTransport } from '../../drivers/serial-scanner/transport.js';
import { seededRandom } from '../../simulators/barcodes.js';
import { PtyPort } from '../../simulators/pty/pty-port.js';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { sleep } from '../../src/util/sleep.js';
import { Collector } from '../helpers/collector.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { scanCode } from './helpers/typist.js';

const REPLUGS = 5;
/** Row 9 of docs/RELIABILITY.md. */
const MANY_REPLUGS = 200;
const SCANS_PER_CYCLE = 3;
/** The functional deadline: the driver has the device open again this soon after it reappears. */
const REOPEN_BOUND_MS = 2000;
/** Descriptors the gateway may hold beyond its count before the cycles (sockets come and go). */
const FD_SLACK = 8;

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
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

  it(`${MANY_REPLUGS} unplug/replug cycles of a gateway process: reopened within 2 s each time, no fd leak, no scan lost`, {
    timeout: 900_000,
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
    const config = testConfig({
      dir: dir.path,
      mqttUrl: broker.url,
      devices: [
        {
          id: 'lane-1',
          kind: 'serial-scanner',
          path: scanner.options.linkPath,
          // The shipped reopen backoff (250 ms doubling to 1 s): the bound holds for the defaults.
        },
      ],
    });
    const gw = GatewayProcess.run(writeConfig(configPath(dir.path), config));
    cleanup.push(async () => {
      await gw.kill('SIGKILL');
    });
    await gw.ready(60_000);

    const statuses = () =>
      collector.unique('retail.device.status.v1').map((r) => ({
        state: (r.event?.data as { state?: string } | undefined)?.state,
        timeMs: Date.parse(r.event?.time as string),
      }));
    const ofState = (state: string) => statuses().filter((s) => s.state === state);
    let sent = 0;
    const typeSession = async () => {
      for (let k = 0; k < SCANS_PER_CYCLE; k++) await scanner.scan({ text: scanCode(sent++), aim: '' });
      await collector.waitForUnique(sent, 'retail.scan.v1', 30_000);
    };

    await waitFor(() => ofState('connected').length === 1, 'the first connected status event', 30_000);
    await typeSession();
    const fdsBefore = openFds(gw.pid);
    const reopenMs: number[] = [];
    for (let i = 1; i <= MANY_REPLUGS; i++) {
      await scanner.unplug();
      await waitFor(() => ofState('disconnected').length === i, `disconnected status event #${i}`, 30_000);
      await scanner.plug();
      // The link is in place from here on: the reopen time runs until the driver reports it open.
      const pluggedAt = Date.now();
      const connected = await waitFor(
        () => ofState('connected')[i],
        `connected status event after replug #${i}`,
        30_000,
      );
      reopenMs.push(Math.max(0, (connected?.timeMs ?? Number.NaN) - pluggedAt));
      await typeSession();
      if (i % 50 === 0) console.log(`replug: ${i} cycles, ${Math.round((performance.now() - t0) / 1000)} s`);
    }
    const fdsAfter = openFds(gw.pid);

    const sorted = [...reopenMs].sort((a, b) => a - b);
    const status = await gw.status();
    const device = (status.devices as Record<string, unknown>[])[0];
    const scans = collector.unique('retail.scan.v1');
    console.log(
      `fault: row 9 replug x${MANY_REPLUGS}: reopen p50 ${pct(sorted, 50)} ms, p99 ${pct(sorted, 99)} ms, ` +
        `max ${sorted.at(-1)} ms (bound ${REOPEN_BOUND_MS} ms); gateway fds ${fdsBefore} before, ` +
        `${fdsAfter} after; scans typed while connected ${sent}, delivered ${scans.length}; ` +
        `reopens ${device?.reopens}; ${Math.round((performance.now() - t0) / 1000)} s`,
    );

    expect(reopenMs).toHaveLength(MANY_REPLUGS);
    for (const [i, ms] of reopenMs.entries()) {
      expect(ms, `reopen after replug #${i + 1}`).toBeLessThanOrEqual(REOPEN_BOUND_MS);
    }
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore + FD_SLACK);
    expect(scans.map((r) => r.event?.data.text)).toEqual(Array.from({ length: sent }, (_, i) => scanCode(i)));
    expect(device).toMatchObject({
      state: 'connected',
      reopens: MANY_REPLUGS,
      readings: sent,
      decodeErrors: 0,
    });
    expect(collector.unique().filter((r) => r.issues.length > 0)).toEqual([]);
    expect(collector.consumer.counts.gaps).toBe(0);
  });

  it('the serial port closes every time the tty hangs up, also right after bytes were read', {
    timeout: 300_000,
  }, async () => {
    // A hung-up tty reads EIO or, once the kernel has hung the file up, end of file. The binding
    // used to retry end of file forever: no 'close', so no reopen (7 of 100 hang-ups here read end of file).
    const HANGUPS = 60;
    const dir = tmpDir();
    cleanup.push(() => dir.cleanup());
    const linkPath = join(dir.path, 'hangup');
    const r = seededRandom(0x4a9);
    const reasons: Record<string, number> = {};
    for (let i = 0; i < HANGUPS; i++) {
      const pty = await PtyPort.open(linkPath);
      cleanup.push(() => pty.close());
      const port = await nodeSerialTransport.open({
        path: linkPath,
        baudRate: 9600,
        dataBits: 8,
        parity: 'none',
        stopBits: 1,
        rtscts: false,
      });
      cleanup.push(() => port.close());
      let closed: string | undefined;
      port.on('data', () => {});
      port.on('error', () => {});
      port.on('close', (err) => {
        closed = err?.message ?? 'closed';
      });
      for (let k = 0; k < 5; k++) await pty.write(`${scanCode(k)}\r\n`);
      await sleep(Math.floor(r() * 30));
      await pty.close();
      await waitFor(() => closed, `the port to close after hang-up #${i + 1}`, 10_000);
      const reason = (closed as string).replace(/^.*(EIO|end of file|bad file descriptor).*$/i, '$1');
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
    console.log(`replug: ${HANGUPS} hang-ups, port closed each time: ${JSON.stringify(reasons)}`);
    expect(Object.values(reasons).reduce((a, b) => a + b, 0)).toBe(HANGUPS);
  });
});
