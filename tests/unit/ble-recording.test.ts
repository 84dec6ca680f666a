import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { BleBeaconsConfig } from '../../drivers/ble-beacons/config.js';
import { BleBeaconsDriver } from '../../drivers/ble-beacons/driver.js';
import type { BleReading, BleSink } from '../../drivers/ble-beacons/reading.js';
import {
  formatRecordingLine,
  parseRecordingLine,
  type RecordedAdvertisement,
} from '../../drivers/ble-beacons/recording.js';
import { eddystoneAd, eddystoneTlmFrame, eddystoneUidFrame, iBeaconAd } from '../../simulators/ble-frames.js';
import { SimulatedBleRadio } from '../../simulators/ble-radio.js';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const dirs: { cleanup: () => void }[] = [];
const drivers: BleBeaconsDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.stop();
  for (const d of dirs.splice(0)) d.cleanup();
});

class Sink implements BleSink {
  readonly ignoreRandomized = false;
  readonly readings: BleReading[] = [];
  pseudonymize(_ns: string, value: string) {
    return { id: `p${value.slice(-4)}`, epoch: '2026-11-24' };
  }
  reading(r: BleReading) {
    this.readings.push(r);
  }
}

const base: BleBeaconsConfig = {
  id: 'ble-1',
  kind: 'ble-beacons',
  extended: false,
  zone: 'entrance',
  rssiOffsetDb: 0,
  minRssi: -100,
  unmatched: 'count',
  replaySpeed: 0,
  reopen: { minMs: 20, maxMs: 100 },
};

async function run(config: BleBeaconsConfig, transport: SimulatedBleRadio, sink: Sink) {
  const driver = new BleBeaconsDriver(config.id);
  drivers.push(driver);
  driver.attach(sink);
  await driver.start({
    config,
    log: silentLogger(),
    clock: systemClock,
    metrics: new Metrics(),
    signal: new AbortController().signal,
    emit: () => {},
    transport,
  });
  return driver;
}

const ADVS: Omit<RecordedAdvertisement, 't'>[] = [
  {
    address: 'c4:7c:8d:6a:11:22',
    addressType: 'public',
    rssi: -61,
    adv: iBeaconAd({
      uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0',
      major: 100,
      minor: 7,
      measuredPower: -59,
    }),
  },
  {
    address: 'd0:5e:ac:00:00:01',
    addressType: 'random',
    rssi: -75,
    adv: eddystoneAd(
      eddystoneUidFrame({ txPower: -20, namespace: '53746f72654265616331', instance: '000000000001' }),
    ),
  },
  {
    address: 'd0:5e:ac:00:00:01',
    addressType: 'random',
    rssi: -76,
    adv: eddystoneAd(eddystoneTlmFrame({ batteryMv: 2900, temperatureC: 20, advCount: 9, uptimeSec: 12.5 })),
  },
];

describe('BLE recording line format', () => {
  it('{"t","address","addressType","rssi","adv","scanResponse"?} round-trips', () => {
    const line = formatRecordingLine({
      t: 12,
      ...(ADVS[0] as Omit<RecordedAdvertisement, 't'>),
      scanResponse: Buffer.from('0509414243', 'hex'),
    });
    expect(JSON.parse(line)).toEqual({
      t: 12,
      address: 'c4:7c:8d:6a:11:22',
      addressType: 'public',
      rssi: -61,
      adv: (ADVS[0] as Omit<RecordedAdvertisement, 't'>).adv.toString('hex'),
      scanResponse: '0509414243',
    });
    expect(parseRecordingLine(line)).toEqual({
      ok: true,
      value: { t: 12, ...(ADVS[0] as object), scanResponse: Buffer.from('0509414243', 'hex') },
    });
  });

  it('typed errors for bad lines', () => {
    expect(parseRecordingLine('{')).toEqual({ ok: false, error: 'json' });
    expect(parseRecordingLine('[]')).toEqual({ ok: false, error: 'json' });
    expect(parseRecordingLine('{"t":1,"address":"zz","addressType":"public","rssi":-1,"adv":""}')).toEqual({
      ok: false,
      error: 'field',
      detail: 'address',
    });
    expect(
      parseRecordingLine('{"t":1,"address":"00:11:22:33:44:55","addressType":"other","rssi":-1,"adv":""}'),
    ).toMatchObject({ detail: 'addressType' });
    expect(
      parseRecordingLine(
        '{"t":1,"address":"00:11:22:33:44:55","addressType":"public","rssi":-1,"adv":"abc"}',
      ),
    ).toMatchObject({ detail: 'adv' });
  });

  it('fuzz: 100,000 random lines, never a throw', () => {
    const line = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.json({ maxDepth: 2 }),
      fc
        .record({
          t: fc.anything(),
          address: fc.anything(),
          addressType: fc.constantFrom('public', 'random', 1),
          rssi: fc.anything(),
          adv: fc.anything(),
        })
        .map((o) => JSON.stringify(o) ?? ''),
    );
    fc.assert(
      fc.property(line, (l) => {
        expect(typeof parseRecordingLine(l).ok).toBe('boolean');
      }),
      { numRuns: 100_000 },
    );
  });
});

describe('record and replay through the real driver', () => {
  it('records live advertisements (file mode 0600) and replays them into the same readings', async () => {
    const dir = tmpDir('sg-ble-rec-');
    dirs.push(dir);
    const file = join(dir.path, 'store.jsonl');
    const radio = new SimulatedBleRadio();
    const live = new Sink();
    const recorder = await run({ ...base, record: file }, radio, live);
    for (const a of ADVS) radio.adapter(0).advertise(a);
    await waitFor(() => live.readings.length === ADVS.length, 'live readings');
    await recorder.stop();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      t: 0,
      address: 'c4:7c:8d:6a:11:22',
      addressType: 'public',
      rssi: -61,
    });

    const replayed = new Sink();
    const replayer = await run(
      { ...base, id: 'ble-replay', replay: file },
      new SimulatedBleRadio(),
      replayed,
    );
    await waitFor(() => replayed.readings.length === ADVS.length, 'replayed readings');
    const strip = (r: BleReading) => ({
      frame: r.frame,
      rssi: r.rssi,
      address: r.address,
      randomized: r.randomized,
      addressKind: r.addressKind,
    });
    expect(replayed.readings.map(strip)).toEqual(live.readings.map(strip));
    expect(replayer.health()).toMatchObject({ state: 'connected', path: `replay:${file}` });
  });

  it('a missing recording leaves the device unavailable with the reason', async () => {
    const dir = tmpDir('sg-ble-rec-');
    dirs.push(dir);
    const driver = await run(
      { ...base, replay: join(dir.path, 'none.jsonl') },
      new SimulatedBleRadio(),
      new Sink(),
    );
    expect(driver.health()).toMatchObject({
      state: 'unavailable',
      lastError: expect.stringContaining('ENOENT'),
    });
  });

  it('honours t at speed 1 and skips bad lines', async () => {
    const dir = tmpDir('sg-ble-rec-');
    dirs.push(dir);
    const file = join(dir.path, 'timed.jsonl');
    const a = ADVS[0] as Omit<RecordedAdvertisement, 't'>;
    writeFileSync(
      file,
      [
        formatRecordingLine({ t: 0, ...a }),
        'garbage',
        formatRecordingLine({ t: 300, ...a, rssi: -70 }),
        '',
      ].join('\n'),
    );
    const sink = new Sink();
    await run({ ...base, replay: file, replaySpeed: 1 }, new SimulatedBleRadio(), sink);
    await waitFor(() => sink.readings.length === 2, 'both good lines');
    expect(
      (sink.readings[1] as BleReading).time - (sink.readings[0] as BleReading).time,
    ).toBeGreaterThanOrEqual(250);
    expect(sink.readings.map((r) => r.rssi)).toEqual([-61, -70]);
  });
});
