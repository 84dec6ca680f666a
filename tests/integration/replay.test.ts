import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedHidScanner } from '../../simulators/hid-scanner.js';
import { profileDevice, profileScanner } from '../../simulators/profiles.js';
import type { SimulatedSerialScanner } from '../../simulators/serial-scanner.js';
import { recordDevice } from '../../src/cli/record.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { rootPath } from '../../src/paths.js';
import { parseRecording } from '../../src/replay/format.js';
import { Collector } from '../helpers/collector.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const GS = '\x1d';
const fixture = (name: string) => rootPath('tests', 'fixtures', 'replay', name);

interface Scan {
  text: string;
  aim?: string;
  symbology: string;
}

describe('record & replay through the running gateway → Mosquitto', () => {
  let broker: Mosquitto;
  let collector: Collector;
  const dir = tmpDir();
  let runs = 0;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    collector = await Collector.start(broker.url);
  });

  afterAll(async () => {
    await collector?.stop();
    await broker?.dispose();
    dir.cleanup();
  });

  function config(devices: Record<string, unknown>[]): Config {
    const run = join(dir.path, `run-${runs++}`);
    const checked = validateConfig(testConfig({ dir: run, mqttUrl: broker.url, devices }));
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    return checked.config;
  }

  /** The driver's part of each scan event from `device` (the pipeline adds GS1 fields beside it). */
  const scansOf = (device: string): Scan[] =>
    collector
      .unique('retail.scan.v1')
      .map((r) => r.event?.data as Record<string, unknown>)
      .filter((d) => d.deviceId === device)
      .map(({ text, aim, symbology }) => ({ text, ...(aim ? { aim } : {}), symbology }) as Scan);

  /** Runs a gateway over `devices` until `expected` scans per device have reached the broker. */
  async function replay(
    devices: Record<string, unknown>[],
    expected: Record<string, number>,
  ): Promise<Running> {
    const running = await startGateway(config(devices), { log: silentLogger() });
    try {
      for (const [device, n] of Object.entries(expected)) {
        await waitFor(() => scansOf(device).length >= n, `${n} scans from ${device}`, 20_000);
      }
    } finally {
      await running.stop();
    }
    return running;
  }

  it('replays a file of each mode through the real drivers', async () => {
    const running = await replay(
      [
        {
          id: 'replay-serial',
          kind: 'serial-scanner',
          replay: fixture('serial-suffix.jsonl'),
          replaySpeed: 0,
          framing: { suffix: '\r\n' },
          aim: true,
        },
        {
          id: 'replay-ssi',
          kind: 'serial-scanner',
          replay: fixture('serial-ssi.jsonl'),
          replaySpeed: 0,
          protocol: 'ssi',
        },
        {
          id: 'replay-wedge',
          kind: 'hid-scanner',
          mode: 'keyboard-wedge',
          wedge: { layout: 'fr' },
          replay: fixture('hid-wedge.jsonl'),
          replaySpeed: 1,
        },
        {
          id: 'replay-pos',
          kind: 'hid-scanner',
          mode: 'hid-pos',
          replay: fixture('hid-pos.jsonl'),
          replaySpeed: 0,
        },
      ],
      { 'replay-serial': 4, 'replay-ssi': 4, 'replay-wedge': 3, 'replay-pos': 3 },
    );
    expect(scansOf('replay-serial')).toEqual([
      { text: '4006381333931', aim: ']E0', symbology: 'ean-13' },
      { text: `01095011015300031725123110ABC123${GS}21XYZ`, aim: ']C1', symbology: 'gs1-128' },
      { text: 'https://example.com/p/1', aim: ']Q1', symbology: 'qr' },
      { text: '96385074', aim: ']E4', symbology: 'ean-8' },
    ]);
    expect(scansOf('replay-ssi')).toEqual([
      { text: '4006381333931', symbology: 'ean-13' },
      { text: '0123456789', symbology: 'code-128' },
      { text: '96385074', symbology: 'ean-8' },
      { text: `https://id.gs1.org/01/09506000134352/10/${'A1B2'.repeat(70)}`, symbology: 'qr' },
    ]);
    expect(scansOf('replay-wedge')).toEqual([
      { text: '3760123456789', symbology: 'unknown' },
      { text: `0103760123456781${GS}10LOT-42${GS}21A1`, symbology: 'unknown' },
      { text: 'azerty/Qwerty@2024', symbology: 'unknown' },
    ]);
    expect(scansOf('replay-pos')).toEqual([
      { text: '4006381333931', aim: ']E0', symbology: 'ean-13' },
      {
        text: `0109501101530003172512311012345678901234567890${GS}21SERIAL-0001-ABCDEFGHIJ`,
        aim: ']d2',
        symbology: 'gs1-datamatrix',
      },
      { text: `https://example.com/${'p'.repeat(110)}`, aim: ']Q1', symbology: 'qr' },
    ]);
    // The SSI file's bad frame and its retransmitted duplicate were discarded and counted, not emitted.
    const ssi = running.gateway.status().devices.find((d) => d.id === 'replay-ssi');
    expect(ssi).toMatchObject({ readings: 4, decodeErrors: 2, path: fixture('serial-ssi.jsonl') });
    const status = collector
      .unique('retail.device.status.v1')
      .map((r) => r.event?.data as Record<string, unknown>)
      .find((d) => d.deviceId === 'replay-pos');
    expect(status).toMatchObject({ kind: 'hid-scanner', state: 'connected', path: fixture('hid-pos.jsonl') });
  });

  it('records a serial scanner on a PTY with `store-gateway record`, then replays the capture', async () => {
    const scanner = profileScanner('honeywell-crlf', join(dir.path, 'honeywell')) as SimulatedSerialScanner;
    await scanner.plug();
    const out = join(dir.path, 'honeywell.jsonl');
    const file = writeConfig(
      configPath(dir.path),
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        devices: [profileDevice('honeywell-crlf', 'lane-9', scanner.options.linkPath)],
      }),
    );
    const proc = new GatewayProcess(['record', '--config', file, '--device', 'lane-9', '--out', out]);
    const sent = [
      { text: '4006381333931', aim: ']E0' },
      { text: `0109501101530003${GS}10LOT7`, aim: ']C1' },
      { text: '96385074', aim: ']E4' },
    ];
    try {
      await proc.waitForLog((l) => l.msg === 'scanner connected', 'recorder connected', 15_000);
      for (const s of sent) await scanner.scan(s);
      await waitFor(() => {
        const rec = parseRecording(readFileSync(out, 'utf8'));
        const bytes = rec.ok ? Buffer.concat(rec.value.entries.map((e) => e.data)).toString('latin1') : '';
        return bytes.split('\r\n').length - 1 === sent.length;
      }, 'three frames recorded');
      await proc.kill('SIGINT');
      expect((await proc.exit).code).toBe(0);
      expect(proc.stderr).toMatch(/recorded \d+ chunks \(\d+ bytes, 3 scans decoded\)/);
    } finally {
      await proc.kill();
      await scanner.unplug();
    }
    const { path: _unused, ...device } = profileDevice('honeywell-crlf', 'lane-9-replay', '');
    await replay([{ ...device, replay: out, replaySpeed: 0 }], { 'lane-9-replay': 3 });
    expect(scansOf('lane-9-replay').map((s) => [s.aim, s.text])).toEqual(sent.map((s) => [s.aim, s.text]));
  });

  it('records a (simulated) HID POS scanner with its descriptor first, then replays the capture', async () => {
    const pos = new SimulatedHidScanner({ mode: 'hid-pos' });
    const out = join(dir.path, 'pos.jsonl');
    const cfg = config([{ id: 'pos-1', kind: 'hid-scanner', mode: 'hid-pos', match: { usagePage: '008c' } }]);
    const abort = new AbortController();
    const recording = recordDevice({
      config: cfg,
      deviceId: 'pos-1',
      out,
      signal: abort.signal,
      transports: { 'hid-scanner': pos },
      log: silentLogger(),
    });
    const long = `01095011015300031725123110${'B'.repeat(70)}${GS}21S1`;
    await waitFor(() => pos.isOpen, 'recorder opened the device');
    await pos.scan({ text: long, aim: ']d2', codeId: 'w' });
    await pos.scan({ text: '4006381333931', aim: ']E0', codeId: 'd' });
    await waitFor(
      () => readFileSync(out, 'utf8').trim().split('\n').length === pos.sent.length + 1,
      'reports recorded',
    );
    abort.abort();
    expect(await recording).toMatchObject({ chunks: pos.sent.length, scans: 2 });
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0] as string)).toEqual({ descriptor: pos.descriptor?.toString('hex') });
    expect(lines.slice(1).map((l) => JSON.parse(l).hex)).toEqual(pos.sent.map((r) => r.toString('hex')));

    await replay(
      [{ id: 'pos-1-replay', kind: 'hid-scanner', mode: 'hid-pos', replay: out, replaySpeed: 0 }],
      {
        'pos-1-replay': 2,
      },
    );
    expect(scansOf('pos-1-replay')).toEqual([
      { text: long, aim: ']d2', symbology: 'gs1-datamatrix' },
      { text: '4006381333931', aim: ']E0', symbology: 'ean-13' },
    ]);
  });
});
