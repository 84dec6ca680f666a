import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { buildGateway, type Gateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';
import { blockThread } from '../../src/systemd/freeze-hook.js';
import { DEFAULT_HEALTH, HealthChecks, type HealthReport, LoopLag } from '../../src/systemd/health.js';
import type { Notifier } from '../../src/systemd/notify.js';
import { Watchdog } from '../../src/systemd/watchdog.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

function config(dir: string, mqttUrl: string, extra?: Record<string, unknown>): Config {
  const r = validateConfig(testConfig({ dir, mqttUrl, extra: { api: { enabled: false }, ...extra } }));
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

/** A lag sampler that reports what the test sets (the real one is checked below). */
const fixedLag = (ms: number) => ({ ms, sample: () => ms });

describe('LoopLag', () => {
  it('sees a blocked event loop, then starts a new period', async () => {
    const lag = new LoopLag();
    try {
      await new Promise((r) => setTimeout(r, 50));
      lag.sample();
      await new Promise<void>((r) =>
        setTimeout(() => {
          blockThread(400);
          r();
        }, 10),
      );
      await new Promise((r) => setTimeout(r, 50));
      expect(lag.sample()).toBeGreaterThanOrEqual(350);
      await new Promise((r) => setTimeout(r, 100));
      expect(lag.sample()).toBeLessThan(350);
    } finally {
      lag.stop();
    }
  });
});

describe('HealthChecks on a real gateway', () => {
  let broker: Mosquitto;
  let dir: ReturnType<typeof tmpDir>;
  let gateway: Gateway | undefined;

  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await broker?.dispose();
  });
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
    dir?.cleanup();
  });

  async function started(mqttUrl: string, extra?: Record<string, unknown>): Promise<Gateway> {
    dir = tmpDir('sg-health-');
    gateway = buildGateway(config(dir.path, mqttUrl, extra), { log: silentLogger() });
    await gateway.start();
    return gateway;
  }

  it('passes when connected, with a summary for STATUS=', async () => {
    const gw = await started(broker.url);
    await waitFor(() => gw.uplink.isConnected, 'connected');
    const report = await new HealthChecks(() => gw, fixedLag(3)).run();
    expect(report).toEqual({
      ok: true,
      problems: [],
      summary: 'broker connected, 0/0 devices connected, 0 events waiting',
    });
  });

  it('fails on event-loop lag over the limit', async () => {
    const gw = await started(broker.url);
    const report = await new HealthChecks(() => gw, fixedLag(DEFAULT_HEALTH.maxLagMs + 1)).run();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([`event loop lag ${DEFAULT_HEALTH.maxLagMs + 1} ms (limit 5000 ms)`]);
  });

  it('passes while the uplink keeps trying an unreachable broker, fails once its attempts stop', async () => {
    const url = `mqtt://127.0.0.1:${await freePort()}`;
    const gw = await started(url, { mqtt: { reconnect: { minMs: 50, maxMs: 100 }, connectTimeoutMs: 500 } });
    let now = Date.now();
    const checks = new HealthChecks(
      () => gw,
      fixedLag(0),
      DEFAULT_HEALTH,
      () => now,
    );
    expect((await checks.run()).ok).toBe(true);
    // Real attempts move the birth counter, so the loop counts as alive however long it takes.
    const birth = gw.uplink.status().birth;
    await waitFor(() => gw.uplink.status().birth > birth + 1, 'two more connection attempts');
    now += 60_000;
    expect((await checks.run()).ok).toBe(true);
    // The reconnect loop ends (as if its timer were lost): no attempt for longer than the longest
    // backoff, the connect timeout and the slack together is a stalled uplink.
    await gw.uplink.stop();
    expect((await checks.run()).ok).toBe(true);
    now += 100 + 500 + DEFAULT_HEALTH.uplinkSlackMs + 1000;
    const report = await checks.run();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(['uplink stalled: disconnected and no connection attempt for 12 s']);
  });

  it('fails while commits fail (write errors and nothing committed), passes after a commit', async () => {
    const gw = await started(broker.url);
    const checks = new HealthChecks(() => gw, fixedLag(0));
    expect((await checks.run()).ok).toBe(true);
    // The outbox counts each event a failed commit refuses under reason "io".
    gw.metrics.refused.inc({ class: 'scan', reason: 'io' }, 3);
    const failing = await checks.run();
    expect(failing.problems).toEqual([
      'buffer commits are failing (write errors, nothing committed since the last check)',
    ]);
    gw.metrics.refused.inc({ class: 'scan', reason: 'io' });
    const data = { deviceId: 'lane-1', kind: 'serial-scanner', state: 'connected' as const };
    await gw.outbox.accept(gw.factory.create('retail.device.status.v1', 'lane-1', data, Date.now()));
    expect((await checks.run()).ok).toBe(true);
  });

  it('fails once the gateway stops; tolerates a restart gap only for a while', async () => {
    const gw = await started(broker.url);
    let current: Gateway | undefined = gw;
    let now = Date.now();
    const checks = new HealthChecks(
      () => current,
      fixedLag(0),
      DEFAULT_HEALTH,
      () => now,
    );
    await gw.stop();
    expect(await checks.run()).toMatchObject({ ok: false, problems: ['gateway stopped'] });
    current = undefined; // between two gateways
    expect(await checks.run()).toEqual({ ok: true, problems: [], summary: 'restarting the gateway' });
    now += DEFAULT_HEALTH.restartGraceMs + 1000;
    const late = await checks.run();
    expect(late.ok).toBe(false);
    expect(late.problems[0]).toMatch(/^no gateway running for \d+ s$/);
  });
});

describe('Watchdog', () => {
  class Recorder implements Notifier {
    readonly enabled = true;
    readonly sent: Record<string, string | number>[] = [];
    notify(fields: Record<string, string | number>): boolean {
      this.sent.push(fields);
      return true;
    }
  }

  const ok = (summary = 'broker connected'): HealthReport => ({ ok: true, problems: [], summary });
  const bad = (problem: string): HealthReport => ({ ok: false, problems: [problem], summary: 'x' });

  it('pings only while healthy; STATUS= only when it changes', async () => {
    const notifier = new Recorder();
    const reports = [
      ok(),
      ok(),
      bad('event loop lag 9000 ms (limit 5000 ms)'),
      bad('event loop lag 9000 ms (limit 5000 ms)'),
      ok('broker disconnected'),
    ];
    const wd = new Watchdog({
      notifier,
      log: silentLogger(),
      pingMs: 15_000,
      check: async () => reports.shift() as HealthReport,
    });
    for (let i = 0; i < 5; i++) await wd.tickNow();
    expect(notifier.sent).toEqual([
      { WATCHDOG: '1', STATUS: 'running: broker connected' },
      { WATCHDOG: '1' },
      { STATUS: 'unhealthy: event loop lag 9000 ms (limit 5000 ms)' },
      { WATCHDOG: '1', STATUS: 'running: broker disconnected' },
    ]);
  });

  it('without a systemd watchdog, keeps STATUS= up to date and never pings', async () => {
    const notifier = new Recorder();
    const reports = [ok('a'), ok('a'), ok('b')];
    const wd = new Watchdog({
      notifier,
      log: silentLogger(),
      pingMs: null,
      check: async () => reports.shift() as HealthReport,
    });
    for (let i = 0; i < 3; i++) await wd.tickNow();
    expect(notifier.sent).toEqual([{ STATUS: 'running: a' }, { STATUS: 'running: b' }]);
  });

  it('counts a health check that throws as a failure', async () => {
    const notifier = new Recorder();
    const wd = new Watchdog({
      notifier,
      log: silentLogger(),
      pingMs: 1000,
      check: async () => {
        throw new Error('boom');
      },
    });
    await wd.tickNow();
    expect(notifier.sent).toEqual([{ STATUS: 'unhealthy: health check failed: boom' }]);
  });

  it('checks again soon after a failure, so a short stall delays the ping only a little', async () => {
    const notifier = new Recorder();
    const reports = [bad('stall'), ok()];
    const wd = new Watchdog({
      notifier,
      log: silentLogger(),
      pingMs: 60_000,
      check: async () => reports.shift() ?? ok(),
    });
    wd.start();
    try {
      // The first check is due in 60 s; the retry after a failure in 1 s at most.
      await wd.tickNow();
      await waitFor(() => notifier.sent.some((f) => f.WATCHDOG === '1'), 'the retry to ping', 10_000);
    } finally {
      wd.stop();
    }
    expect(notifier.sent[0]).toEqual({ STATUS: 'unhealthy: stall' });
  });
});
