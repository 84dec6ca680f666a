import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRecordingLine } from '../../drivers/ble-beacons/recording.js';
import { iBeaconAd, plainDeviceAd } from '../../simulators/ble-frames.js';
import { merakiBody } from '../../simulators/meraki.js';
import {
  DEMO_STORE_MAP,
  LOYALTY_MAJOR,
  LOYALTY_UUID,
  registryConfig,
  zonesConfig,
} from '../../simulators/store-map.js';
import { configPath, testConfig, writeConfig } from '../helpers/config.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** The canary: one device address sent through every path that receives addresses. */
const CANARY = 'a4:83:e7:5c:0f:1d';
const FORMS = [
  CANARY,
  CANARY.toUpperCase(),
  CANARY.replace(/:/g, '-'),
  CANARY.replace(/:/g, '-').toUpperCase(),
  CANARY.replace(/:/g, ''),
  CANARY.replace(/:/g, '').toUpperCase(),
];
const RAW = Buffer.from(CANARY.replace(/:/g, ''), 'hex');
const SECRET = 'canary-secret';
const AP = DEMO_STORE_MAP.accessPoints.map((a) => a.mac);

/** Occurrences of the canary in any text form or as its 6 raw bytes. */
function occurrences(bytes: Buffer): number {
  let n = 0;
  for (const needle of [
    ...FORMS.map((f) => Buffer.from(f, 'latin1')),
    ...FORMS.map((f) => Buffer.from(f, 'utf16le')),
    RAW,
  ]) {
    for (let i = bytes.indexOf(needle); i >= 0; i = bytes.indexOf(needle, i + 1)) n++;
  }
  return n;
}

describe('privacy canary: a known MAC through BLE and Wi-Fi is found 0 times in logs, buffer and MQTT', () => {
  const dir = tmpDir('sg-canary-');
  let broker: Mosquitto;
  let gw: GatewayProcess;
  let sniffer: mqtt.MqttClient;
  const traffic: Buffer[] = [];
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const recording = join(dir.path, 'canary.jsonl');

  beforeAll(async () => {
    broker = await Mosquitto.start();
    sniffer = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'canary-sniffer' });
    sniffer.on('message', (topic, payload) => {
      traffic.push(Buffer.from(topic), Buffer.from(payload));
      try {
        const ev = JSON.parse(payload.toString()) as { type?: string; data?: Record<string, unknown> };
        if (ev.type && ev.data) events.push({ type: ev.type, data: ev.data });
      } catch {
        // the state topic and anything else: kept as bytes above
      }
    });
    await sniffer.subscribeAsync('#', { qos: 1 });
    // 8 s of advertisements from the canary: the loyalty app (iBeacon) and, interleaved, a plain device.
    const lines: string[] = [];
    for (let t = 0; t <= 8000; t += 100) {
      const loyalty = iBeaconAd({
        uuid: LOYALTY_UUID,
        major: LOYALTY_MAJOR,
        minor: 9001,
        measuredPower: -59,
      });
      lines.push(
        formatRecordingLine({
          t,
          address: CANARY,
          addressType: 'public',
          rssi: -58,
          adv: t % 200 ? plainDeviceAd('Canary') : loyalty,
        }),
      );
    }
    writeFileSync(recording, `${lines.join('\n')}\n`);
    writeFileSync(join(dir.path, 'validator'), 'v');
    writeFileSync(join(dir.path, 'secret'), SECRET);
    const config = testConfig({
      dir: dir.path,
      mqttUrl: broker.url,
      devices: [
        { id: 'ble-a', kind: 'ble-beacons', zone: 'produce', replay: recording, unmatched: 'track' },
        { id: 'ble-b', kind: 'ble-beacons', zone: 'dairy', replay: recording, rssiOffsetDb: -25 },
      ],
      extra: {
        log: { level: 'trace' },
        zones: zonesConfig(DEMO_STORE_MAP),
        registry: registryConfig(DEMO_STORE_MAP),
        presence: { ble: { minDwellSec: 1 }, tickMs: 200 },
        wifi: {
          meraki: {
            enabled: true,
            validatorFile: join(dir.path, 'validator'),
            secretFile: join(dir.path, 'secret'),
          },
        },
      },
    });
    gw = GatewayProcess.run(writeConfig(configPath(dir.path), config));
    await gw.ready();
    const post = (body: unknown) =>
      fetch(`${gw.apiUrl}/v1/wifi/meraki`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const client = {
      mac: CANARY,
      position: [15, 12] as [number, number],
      rssi: { [AP[3] as string]: 45 },
      time: Date.now(),
    };
    const raw = iBeaconAd({
      uuid: LOYALTY_UUID,
      major: LOYALTY_MAJOR,
      minor: 9002,
      measuredPower: -59,
    }).toString('hex');
    expect((await post(merakiBody([client], { secret: SECRET, type: 'WiFi' }))).status).toBe(200);
    expect(
      (await post(merakiBody([{ ...client, bleRawData: raw }], { secret: SECRET, type: 'Bluetooth' })))
        .status,
    ).toBe(200);
    expect((await post(merakiBody([client], { secret: 'wrong', type: 'WiFi' }))).status).toBe(403);
    const malformed = merakiBody([{ ...client, mac: `${CANARY}:00` }], { secret: SECRET, type: 'WiFi' });
    const bad = await post(malformed);
    expect(bad.status).toBe(400);
    expect(occurrences(Buffer.from(await bad.text()))).toBe(0);
    await waitFor(
      () =>
        ['ble', 'wifi', 'meraki-ble'].every((s) =>
          events.some((e) => e.type === 'retail.presence.enter.v1' && e.data.source === s),
        ) && events.some((e) => e.data.subjectType === 'device' && e.data.source === 'ble'),
      'presence events from every path',
      30_000,
    );
    // The broker goes away: what comes now stays in the buffer file, which the test then reads.
    await broker.stop();
    expect(
      (await post(merakiBody([{ ...client, time: Date.now() }], { secret: SECRET, type: 'WiFi' }))).status,
    ).toBe(200);
    expect(
      (await post(merakiBody([{ ...client, bleRawData: raw }], { secret: SECRET, type: 'Bluetooth' })))
        .status,
    ).toBe(200);
    await gw.kill('SIGTERM');
  });

  afterAll(async () => {
    if (gw?.alive) await gw.kill();
    await sniffer?.endAsync();
    await broker?.dispose();
    dir.cleanup();
  });

  it('the canary search finds the address where it is expected: the recording (positive control)', () => {
    expect(occurrences(readFileSync(recording))).toBeGreaterThan(80);
    expect(occurrences(Buffer.from(`x${CANARY.toUpperCase()}y`))).toBe(1);
  });

  it('logs: 0 occurrences (stdout JSON at trace level, stderr)', () => {
    expect(gw.lines.length).toBeGreaterThan(10);
    expect(occurrences(Buffer.from(gw.lines.map((l) => JSON.stringify(l)).join('\n')))).toBe(0);
    expect(occurrences(Buffer.from(gw.stderr))).toBe(0);
  });

  it('buffer: 0 occurrences in the SQLite file bytes (with -wal, -shm and .seq)', () => {
    const files = ['buffer.db', 'buffer.db-wal', 'buffer.db-shm', 'buffer.db.seq'].map((f) =>
      join(dir.path, f),
    );
    const present = files.filter((f) => existsSync(f));
    expect(present).toContain(join(dir.path, 'buffer.db'));
    // The shutdown exits were written while the broker was down: the buffer holds presence events.
    const all = Buffer.concat(present.map((f) => readFileSync(f)));
    expect(all.includes(Buffer.from('retail.presence.exit.v1'))).toBe(true);
    for (const f of present) expect(occurrences(readFileSync(f)), f).toBe(0);
  });

  it('MQTT: 0 occurrences in every topic and payload seen on #', () => {
    expect(events.filter((e) => e.type.startsWith('retail.presence.')).length).toBeGreaterThanOrEqual(4);
    expect(occurrences(Buffer.concat(traffic))).toBe(0);
  });

  it('the pseudonymization key file is private (0600)', () => {
    expect(statSync(join(dir.path, 'presence-key.json')).mode & 0o777).toBe(0o600);
  });
});
