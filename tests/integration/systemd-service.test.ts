import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { FREEZE_ENV } from '../../src/systemd/freeze-hook.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { isWatchdogPing, NotifyReceiver } from '../helpers/notify-socket.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';

/*
 * The real CLI (`store-gateway run`) as systemd runs it: NOTIFY_SOCKET names a datagram socket this
 * test binds (with the same native module the gateway sends with), WATCHDOG_USEC asks for pings.
 * What systemd itself would do with the messages (start timeouts, killing on a missed ping) is not
 * exercised here: there is no systemd as PID 1 in this environment.
 */

const isPing = isWatchdogPing;

// Each test starts the CLI, which takes seconds on a loaded 2-core machine.
describe('store-gateway run under systemd (Type=notify, watchdog)', { timeout: 120_000 }, () => {
  let broker: Mosquitto;
  let dir: ReturnType<typeof tmpDir>;
  let receiver: NotifyReceiver;
  let gw: GatewayProcess | undefined;
  let scanner: SimulatedSerialScanner | undefined;

  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await broker?.dispose();
  });
  beforeEach(() => {
    dir = tmpDir('sg-systemd-');
    receiver = new NotifyReceiver(join(dir.path, 'notify.sock'), join(dir.path, 'buffer.db'));
  });
  afterEach(async () => {
    await gw?.kill('SIGKILL');
    gw = undefined;
    await scanner?.unplug();
    scanner = undefined;
    receiver.close();
    dir.cleanup();
  });

  function start(extraEnv: NodeJS.ProcessEnv = {}, extra?: Record<string, unknown>): GatewayProcess {
    const file = writeConfig(
      configPath(dir.path),
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        devices: scanner ? [{ id: 'lane-1', kind: 'serial-scanner', path: scanner.options.linkPath }] : [],
        extra,
      }),
    );
    gw = GatewayProcess.run(file, { NOTIFY_SOCKET: receiver.path, WATCHDOG_USEC: '2000000', ...extraEnv });
    return gw;
  }

  it('says READY=1 once buffer, devices and API run; pings the watchdog; STOPPING=1 on SIGTERM', async () => {
    scanner = new SimulatedSerialScanner({
      linkPath: join(dir.path, 'scanner'),
      framing: { suffix: '\r\n' },
    });
    await scanner.plug();
    const proc = start();
    const ready = await receiver.next((f) => f.READY === '1', 'READY=1');
    const readyMsg = receiver.at(ready);
    // Nothing before READY, and by then the buffer exists, the scanner is open and the API listens.
    expect(ready).toBe(0);
    expect(readyMsg.bufferExisted).toBe(true);
    expect(readyMsg.fields.STATUS).toMatch(/^running: broker (dis)?connected.*, 1\/1 devices connected, /);
    const api = /API (127\.0\.0\.1:\d+)$/.exec(readyMsg.fields.STATUS ?? '')?.[1];
    expect(api).toBeDefined();
    expect((await fetch(`http://${api}/readyz`)).status).toBe(200);

    const first = await receiver.next(isPing, 'a watchdog ping', ready + 1);
    await receiver.next(isPing, 'a second watchdog ping', first + 1);
    expect(
      proc.lines.some((l) => l.msg === 'systemd notified: ready; watchdog on' && l.watchdogPingMs === 1000),
    ).toBe(true);

    await proc.kill('SIGTERM');
    expect((await proc.exit).code).toBe(0);
    const stopping = await receiver.next((f) => f.STOPPING === '1', 'STOPPING=1');
    // The stop begins with STOPPING=1; no ping comes after it.
    expect(receiver.messages.slice(stopping + 1).filter((m) => isPing(m.fields))).toEqual([]);
    expect(receiver.messages.filter((m) => m.fields.READY === '1')).toHaveLength(1);
  });

  it('withholds the ping that falls due while the event loop is frozen, then pings again', async () => {
    const proc = start({ [FREEZE_ENV]: '3000' });
    const ready = await receiver.next((f) => f.READY === '1', 'READY=1');
    const ping = await receiver.next(isPing, 'a watchdog ping', ready + 1);
    expect(proc.lines.some((l) => l.msg.startsWith('test hook on: SIGUSR2 freezes the event loop'))).toBe(
      true,
    );

    process.kill(proc.pid, 'SIGUSR2'); // (GatewayProcess.kill waits for the exit)
    const frozen = await receiver.next(
      (f) => f.STATUS?.startsWith('freezing the event loop') ?? false,
      'the freeze',
      ping + 1,
    );
    // During the 3 s freeze two pings fell due (every 1 s). None of them comes late: the first
    // message after the freeze is the failed health check, and the next ping follows it.
    const after = await receiver.next(isPing, 'a ping after the freeze', frozen + 1);
    const between = receiver.messages.slice(frozen + 1, after).map((m) => m.fields);
    expect(between.length).toBeGreaterThanOrEqual(1);
    for (const f of between) expect(Object.keys(f)).toEqual(['STATUS']);
    expect(between[0]?.STATUS).toMatch(/^unhealthy: event loop lag \d+ ms \(limit 1000 ms\)$/);
    expect(Number(/lag (\d+) ms/.exec(between[0]?.STATUS ?? '')?.[1])).toBeGreaterThan(1000);
    expect(proc.alive).toBe(true);
    await proc.waitForLog(
      (l) => l.msg === 'health checks pass again: watchdog pings resumed',
      'recovery log',
      30_000,
    );
  });

  it('sends nothing for a config it refuses (exit 78 before it could be ready)', async () => {
    const file = join(dir.path, 'bad.yaml');
    writeFileSync(file, stringify({ store: { id: '' }, mqtt: { url: 'http://nope' } }));
    gw = GatewayProcess.run(file, { NOTIFY_SOCKET: receiver.path, WATCHDOG_USEC: '2000000' });
    expect((await gw.exit).code).toBe(78);
    expect(gw.stderr).toMatch(/store/);
    expect(receiver.messages).toEqual([]);
  });

  it('without NOTIFY_SOCKET runs as before and says once that notifications are off', async () => {
    const file = writeConfig(configPath(dir.path), testConfig({ dir: dir.path, mqttUrl: broker.url }));
    gw = GatewayProcess.run(file, { NOTIFY_SOCKET: '', WATCHDOG_USEC: '' });
    await gw.ready(60_000);
    const off = gw.lines.filter((l) => l.component === 'systemd');
    expect(off.map((l) => l.msg)).toEqual([
      'not started by systemd (no NOTIFY_SOCKET): readiness and watchdog notifications are off',
    ]);
    await gw.kill('SIGTERM');
    expect((await gw.exit).code).toBe(0);
    expect(receiver.messages).toEqual([]);
  });
});

describe('SIGHUP reloads the config file (as the reload-config command does)', { timeout: 120_000 }, () => {
  let broker: Mosquitto;
  let dir: ReturnType<typeof tmpDir>;
  let receiver: NotifyReceiver;
  let gw: GatewayProcess;
  let base: Record<string, unknown>;
  let file: string;

  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await broker?.dispose();
  });
  beforeEach(async () => {
    dir = tmpDir('sg-sighup-');
    receiver = new NotifyReceiver(join(dir.path, 'notify.sock'), join(dir.path, 'buffer.db'));
    base = testConfig({ dir: dir.path, mqttUrl: broker.url, extra: { commands: { confirmSec: 2 } } });
    file = writeConfig(configPath(dir.path), base);
    gw = GatewayProcess.run(file, { NOTIFY_SOCKET: receiver.path });
    await gw.ready(60_000);
    await receiver.next((f) => f.READY === '1', 'READY=1');
  }, 120_000);
  afterEach(async () => {
    await gw.kill('SIGKILL');
    receiver.close();
    dir.cleanup();
  });

  /** Sends SIGHUP and waits for the reload's outcome line. */
  async function hup(): Promise<Record<string, unknown>> {
    const from = gw.lines.length;
    const seen = receiver.messages.length;
    process.kill(gw.pid, 'SIGHUP');
    const outcome = await gw.waitForLog(
      (l) =>
        gw.lines.indexOf(l) >= from &&
        ['config reloaded', 'config unchanged: nothing to reload', 'config not reloaded'].includes(l.msg),
      'reload outcome',
      60_000,
    );
    // systemd sees the reload begin and end: RELOADING=1 (with the monotonic time), then READY=1.
    const reloading = await receiver.next((f) => f.RELOADING === '1', 'RELOADING=1', seen);
    expect(receiver.messages[reloading]?.fields.MONOTONIC_USEC).toMatch(/^\d+$/);
    await receiver.next((f) => f.READY === '1', 'READY=1 after the reload', reloading + 1);
    return outcome;
  }

  it('applies a new log level at runtime', async () => {
    expect(gw.lines.some((l) => l.level === 20)).toBe(false);
    writeConfig(file, { ...base, log: { level: 'debug' } });
    const outcome = await hup();
    expect(outcome).toMatchObject({ msg: 'config reloaded', restarted: true });
    // The restarted gateway logs at debug level (its modules say so as they start).
    await gw.waitForLog((l) => l.level === 20, 'a debug line', 60_000);
    expect(gw.alive).toBe(true);
    await gw.ready(60_000);
  });

  it('leaves an unchanged file alone', async () => {
    expect(await hup()).toMatchObject({ msg: 'config unchanged: nothing to reload', restarted: false });
    expect(gw.lines.some((l) => l.msg === 'restarting the gateway with a new config')).toBe(false);
  });

  it('refuses an invalid file with every problem by path, and keeps running', async () => {
    writeFileSync(file, stringify({ ...base, api: { port: 'eighty' }, buffer: { path: '' } }));
    const outcome = await hup();
    expect(outcome).toMatchObject({ msg: 'config not reloaded', code: 'GW_ERR_CONFIG_INVALID' });
    const paths = ((outcome.details as { issues: { path: string }[] }).issues ?? [])
      .map((i) => i.path)
      .sort();
    expect(paths).toEqual(['/api/port', '/buffer/path']);
    expect(receiver.messages.at(-1)?.fields.STATUS).toMatch(/\(last reload failed: GW_ERR_CONFIG_INVALID\)$/);
    await gw.ready(60_000);
  });

  it('rolls back a config that cannot reach its broker, as reload-config does', async () => {
    writeConfig(file, {
      ...base,
      mqtt: { ...(base.mqtt as object), url: `mqtt://127.0.0.1:${await freePort()}` },
    });
    const outcome = await hup();
    expect(outcome).toMatchObject({ msg: 'config not reloaded', code: 'GW_ERR_CONFIG_ROLLED_BACK' });
    expect(gw.lines.some((l) => l.msg === 'rolled back: the gateway runs with the previous config')).toBe(
      true,
    );
    await gw.ready(60_000);
    const status = await gw.status();
    expect((status.uplink as { broker: string }).broker).toBe(broker.url);
  });
});
