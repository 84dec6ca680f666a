import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_PRODUCTS } from '../../simulators/barcodes.js';
import { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { VERSION } from '../../src/paths.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { CLI } from '../helpers/gateway-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The built CLI in a child process, its output collected as it arrives. */
class Cli {
  stdout = '';
  stderr = '';
  readonly done: Promise<Result>;
  private readonly proc: ChildProcess;

  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout?.on('data', (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.done = new Promise((resolve) =>
      this.proc.once('close', (code, signal) =>
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }),
      ),
    );
  }

  get lines(): string[] {
    return this.stdout.split('\n').filter((l) => l.trim() !== '');
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(sig);
  }
}

const cli = (...args: string[]) => new Cli(args).done;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo();
});

function dir(): string {
  const d = tmpDir();
  cleanups.push(() => d.cleanup());
  return d.path;
}

function checked(raw: Record<string, unknown>): Config {
  const r = validateConfig(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

async function scannerIn(d: string): Promise<SimulatedSerialScanner> {
  const s = new SimulatedSerialScanner({
    linkPath: join(d, 'scanner'),
    framing: { suffix: '\r\n' },
    aim: true,
  });
  await s.plug();
  cleanups.push(() => s.unplug());
  return s;
}

async function gateway(config: Config): Promise<Running> {
  const running = await startGateway(config, { log: silentLogger() });
  cleanups.push(() => running.stop());
  return running;
}

const scanDevice = (path: string) => ({ id: 'lane-1', kind: 'serial-scanner', path, aim: true });
const code = (i: number) => DEMO_PRODUCTS[i % 4] as (typeof DEMO_PRODUCTS)[number];

describe('store-gateway CLI', () => {
  it('--help lists the commands', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: store-gateway');
    for (const command of ['run', 'demo', 'config', 'devices', 'tail', 'buffer'])
      expect(r.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
  });

  it('--version prints the package version', async () => {
    const r = await cli('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('config check accepts a valid file', async () => {
    const d = dir();
    const file = writeConfig(
      configPath(d),
      testConfig({ dir: d, mqttUrl: 'mqtt://127.0.0.1:1883', devices: [scanDevice('/dev/ttyUSB0')] }),
    );
    const r = await cli('config', 'check', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${file}: ok (store 0421, gateway gw-test, 1 device)\n`);
    expect(r.stderr).toBe('');
  });

  const INVALID = [
    'store: { id: "04/21" }',
    'gateway: { id: gw-1 }',
    'mqtt: { url: "http://broker", protocolVersion: 3 }',
    'api: { port: 70000 }',
    'devices:',
    '  - id: lane-1',
    '    kind: serial-scanner',
    '    path: /dev/ttyUSB0',
    '    framing: { suffix: "\\r\\n", stx: true }',
    '    baudRate: 12',
    '  - id: lane-2',
    '    kind: laser-cannon',
    'bogus: 1',
    '',
  ].join('\n');

  it('config check lists every error with its path and exits 78', async () => {
    const d = dir();
    const file = join(d, 'bad.yaml');
    writeFileSync(file, INVALID);
    const r = await cli('config', 'check', file);
    expect(r.code).toBe(78);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`store-gateway: ${file} is invalid (8 errors):`);
    const paths = lines.slice(1).map((l) => l.trim().split(': ')[0]);
    expect(paths.sort()).toEqual(
      [
        '/',
        '/store/id',
        '/mqtt/url',
        '/mqtt/protocolVersion',
        '/api/port',
        '/devices/0/baudRate',
        '/devices/0/framing',
        '/devices/1/kind',
      ].sort(),
    );
    expect(r.stderr).toContain('  /: unknown key "bogus"');
    expect(r.stderr).toContain('  /mqtt/protocolVersion: must be one of 5, 4');
    expect(r.stderr).toContain('  /devices/1/kind: must be one of "serial-scanner"');
  });

  it('config check messages carry no placeholder text', async () => {
    // Limits come from ajv's `params`; its `schema` field is unset without `verbose` and used to
    // print "(limit undefined)" for /devices/0/framing.
    const d = dir();
    const file = join(d, 'bad.yaml');
    writeFileSync(file, INVALID);
    const r = await cli('config', 'check', file);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('/devices/0/framing: ');
    expect(r.stderr).not.toContain('undefined');
  });

  it('config check on a missing file says so and exits 78', async () => {
    const file = join(dir(), 'nope.yaml');
    const r = await cli('config', 'check', file);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(file);
  });

  it('devices --json prints a JSON array of serial ports', async () => {
    const r = await cli('devices', '--json');
    expect(r.code).toBe(0);
    const ports = JSON.parse(r.stdout) as { path: string }[];
    expect(Array.isArray(ports)).toBe(true);
    for (const p of ports) expect(p.path).toMatch(/^\/dev\//);
    // This machine has an on-board UART; a CI runner may have none.
    if (existsSync('/dev/ttyS0') && ports.length > 0)
      expect(ports.map((p) => p.path)).toContain('/dev/ttyS0');
    const table = await cli('devices');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(ports.length === 0 ? /^no serial ports found/ : /^PATH\s+VENDOR/);
  });

  it('buffer stats shows what a gateway buffered while the broker was down', async () => {
    const d = dir();
    const sc = await scannerIn(d);
    // Nothing listens on this port: every event stays in the buffer.
    const raw = testConfig({
      dir: d,
      mqttUrl: `mqtt://127.0.0.1:${await freePort()}`,
      devices: [scanDevice(sc.options.linkPath)],
    });
    const file = writeConfig(configPath(d), raw);
    const running = await gateway(checked(raw));
    const gw = running.gateway;
    for (let i = 0; i < 7; i++) await sc.scan(code(i));
    await waitFor(() => gw.status().buffer?.rows === 8, '7 scans and 1 status event buffered');
    expect(gw.status().uplink?.connected).toBe(false);
    await running.stop();

    const r = await cli('buffer', 'stats', '--config', file, '--json');
    expect(r.code).toBe(0);
    const stats = JSON.parse(r.stdout);
    expect(stats).toMatchObject({
      path: join(d, 'buffer.db'),
      rows: 8,
      byClass: { scan: 7, device: 1 },
      oldestSeq: 1,
      newestSeq: 8,
      lastSeq: 8,
      deadLetters: 0,
      maxBytes: 1024 ** 3,
    });
    expect(stats.births).toBeGreaterThanOrEqual(1);
    expect(stats.usedBytes).toBeGreaterThan(0);
    expect(Date.parse(stats.oldestTime)).not.toBeNaN();

    const text = await cli('buffer', 'stats', '--config', file);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^waiting\s+8 events \{"device":1,"scan":7\}$/m);
    expect(text.stdout).toMatch(/^seq\s+oldest 1, newest 8, last assigned 8$/m);
  });

  it('buffer stats without a buffer file says so and exits 1', async () => {
    const d = dir();
    const file = writeConfig(configPath(d), testConfig({ dir: d, mqttUrl: 'mqtt://127.0.0.1:1883' }));
    const buffer = join(d, 'buffer.db');
    const r = await cli('buffer', 'stats', '--config', file, '--json');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`store-gateway: no buffer at ${buffer} (the gateway has not run yet)\n`);
    expect(existsSync(buffer)).toBe(false);
  });

  it('tail --json prints what a gateway publishes; SIGINT prints a summary and exits 0', async () => {
    const mq = await Mosquitto.start();
    cleanups.push(() => mq.dispose());
    const d = dir();
    const sc = await scannerIn(d);
    const running = await gateway(
      checked(testConfig({ dir: d, mqttUrl: mq.url, devices: [scanDevice(sc.options.linkPath)] })),
    );
    await waitFor(() => running.gateway.status().uplink?.connected, 'uplink connected');

    const tail = new Cli(['tail', '--url', mq.url, '--json']);
    cleanups.push(async () => {
      tail.signal('SIGKILL');
      await tail.done;
    });
    const parsed = () => tail.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    // The retained birth message is the first thing a new subscriber gets: tail is listening.
    await waitFor(() => parsed().some((l) => 'state' in l), 'tail received the retained state', 15_000);
    expect(parsed()[0]).toMatchObject({
      topic: 'stores/0421/gateways/gw-test/state',
      state: { state: 'online', storeid: '0421', gatewayid: 'gw-test' },
    });

    const n = 5;
    for (let i = 0; i < n; i++) await sc.scan(code(i));
    const scans = () =>
      parsed().filter((l) => (l.event as { type?: string } | null)?.type === 'retail.scan.v1');
    await waitFor(() => scans().length >= n, `${n} scan lines from tail`, 15_000);
    tail.signal('SIGINT');
    const r = await tail.done;

    expect(r.code).toBe(0);
    const got = scans() as {
      topic: string;
      event: { seq: number; data: Record<string, unknown> };
      issues: unknown[];
      duplicate: boolean;
      gap: number;
    }[];
    expect(got).toHaveLength(n);
    got.forEach((line, i) => {
      expect(line.topic).toBe('stores/0421/gateways/gw-test/events/scan/lane-1');
      expect(line.issues).toEqual([]);
      expect(line.duplicate).toBe(false);
      expect(line.gap).toBe(0);
      expect(line.event.data).toMatchObject({ deviceId: 'lane-1', text: code(i).text, aim: code(i).aim });
    });
    const seqs = got.map((l) => l.event.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(r.stderr.trim().split('\n').at(-1)).toBe(`${n} events, 0 invalid, 0 duplicates, 0 missing`);
  });
});
