import { afterEach, describe, expect, it } from 'vitest';
import type { BleBeaconsConfig } from '../../drivers/ble-beacons/config.js';
import { BleBeaconsDriver } from '../../drivers/ble-beacons/driver.js';
import type { BleReading, BleSink } from '../../drivers/ble-beacons/reading.js';
import { eddystoneAd, eddystoneTlmFrame, iBeaconAd, plainDeviceAd } from '../../simulators/ble-frames.js';
import { SimulatedBleRadio } from '../../simulators/ble-radio.js';
import { systemClock } from '../../src/clock.js';
import type { Emit } from '../../src/drivers/contract.js';
import { silentLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import type { SubjectNamespace } from '../../src/privacy/pseudonymizer.js';
import { waitFor } from '../helpers/wait.js';

const UUID = 'f7826da6-4fa2-4e98-8024-bc5b71e0893e';

function config(extra: Partial<BleBeaconsConfig> = {}): BleBeaconsConfig {
  return {
    id: 'ble-1',
    kind: 'ble-beacons',
    extended: false,
    zone: 'entrance',
    rssiOffsetDb: 0,
    minRssi: -100,
    unmatched: 'count',
    replaySpeed: 1,
    reopen: { minMs: 20, maxMs: 100 },
    ...extra,
  };
}

class RecordingSink implements BleSink {
  readonly readings: BleReading[] = [];
  readonly seen: { namespace: SubjectNamespace; value: string }[] = [];
  constructor(readonly ignoreRandomized = false) {}
  pseudonymize(namespace: SubjectNamespace, value: string) {
    this.seen.push({ namespace, value });
    return { id: `h(${value.length})`, epoch: '2026-11-24' };
  }
  reading(r: BleReading) {
    this.readings.push(r);
  }
}

const running: { driver: BleBeaconsDriver; abort: AbortController }[] = [];

async function start(radio: SimulatedBleRadio, cfg: BleBeaconsConfig, sink?: BleSink) {
  const driver = new BleBeaconsDriver(cfg.id);
  const statuses: Record<string, unknown>[] = [];
  const emit: Emit = (type, data) => {
    if (type === 'retail.device.status.v1') statuses.push(data as Record<string, unknown>);
  };
  const abort = new AbortController();
  if (sink) driver.attach(sink);
  running.push({ driver, abort });
  await driver.start({
    config: cfg,
    log: silentLogger(),
    clock: systemClock,
    metrics: new Metrics(),
    signal: abort.signal,
    emit,
    transport: radio,
  });
  return { driver, statuses };
}

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.abort.abort();
    await r.driver.stop();
  }
});

describe('BleBeaconsDriver on noble with injected bindings', () => {
  it('scans with duplicates, parses frames from real AD bytes and hashes the address in the discover handler', async () => {
    const radio = new SimulatedBleRadio();
    const sink = new RecordingSink();
    const { driver, statuses } = await start(radio, config(), sink);
    expect(statuses[0]).toMatchObject({
      deviceId: 'ble-1',
      kind: 'ble-beacons',
      state: 'connected',
      path: 'hci0',
    });
    const adapter = radio.adapter(0);
    const adv = iBeaconAd({ uuid: UUID, major: 7, minor: 42, measuredPower: -59 });
    for (let i = 0; i < 3; i++)
      adapter.advertise({ address: 'c4:7c:8d:6a:11:22', addressType: 'public', rssi: -60 - i, adv });
    await waitFor(() => sink.readings.length === 3, '3 readings (duplicates allowed)');
    const r = sink.readings[0] as BleReading;
    expect(r.frame).toEqual({ format: 'ibeacon', uuid: UUID, major: 7, minor: 42, measuredPower: -59 });
    expect(r).toMatchObject({
      receiver: 'ble-1',
      zone: 'entrance',
      rssi: -60,
      randomized: false,
      addressKind: 'public',
    });
    expect(r.address).toEqual({ id: 'h(12)', epoch: '2026-11-24' });
    expect(JSON.stringify(sink.readings)).not.toContain('c4:7c:8d');
    expect(sink.seen[0]).toEqual({ namespace: 'ble', value: 'c47c8d6a1122' });
    expect(driver.health()).toMatchObject({ state: 'connected', readings: 3, decodeErrors: 0 });
  });

  it('flags private addresses and drops them when the sink says so', async () => {
    const radio = new SimulatedBleRadio();
    const sink = new RecordingSink(true);
    const { driver } = await start(radio, config(), sink);
    const adapter = radio.adapter(0);
    adapter.advertise({
      address: '4a:11:22:33:44:55',
      addressType: 'random',
      rssi: -70,
      adv: plainDeviceAd('phone'),
    });
    adapter.advertise({
      address: 'd1:11:22:33:44:55',
      addressType: 'random',
      rssi: -70,
      adv: plainDeviceAd('tag'),
    });
    await waitFor(() => sink.readings.length === 1, 'the static-random device');
    expect(sink.readings[0]).toMatchObject({
      addressKind: 'random-static',
      randomized: false,
      frameError: 'no-beacon',
    });
    await waitFor(() => (driver.health().ignored as { randomized: number }).randomized === 1, 'one ignored');
  });

  it('counts truncated frames as decode errors and still hands the reading on; applies offset and minRssi', async () => {
    const radio = new SimulatedBleRadio();
    const sink = new RecordingSink();
    const { driver } = await start(radio, config({ rssiOffsetDb: 5, minRssi: -80 }), sink);
    const adapter = radio.adapter(0);
    const short = eddystoneAd(
      eddystoneTlmFrame({ batteryMv: 3000, advCount: 1, uptimeSec: 1 }).subarray(0, 9),
    );
    adapter.advertise({ address: '00:11:22:33:44:55', addressType: 'public', rssi: -70, adv: short });
    adapter.advertise({ address: '00:11:22:33:44:56', addressType: 'public', rssi: -90, adv: short });
    await waitFor(() => driver.health().readings === 2, 'two advertisements');
    expect(sink.readings).toHaveLength(1);
    expect(sink.readings[0]).toMatchObject({ rssi: -65, frameError: 'truncated' });
    expect(driver.health()).toMatchObject({
      decodeErrors: 1,
      ignored: { weak: 1, randomized: 0, unattached: 0 },
    });
  });

  it('survives advertising data that makes noble’s own parser throw (an empty Tx Power structure)', async () => {
    const radio = new SimulatedBleRadio();
    const sink = new RecordingSink();
    await start(radio, config(), sink);
    const adapter = radio.adapter(0);
    adapter.advertise({
      address: '00:11:22:33:44:66',
      addressType: 'public',
      rssi: -50,
      adv: Buffer.from('02010601 0a'.replace(/ /g, ''), 'hex'),
    });
    adapter.advertise({
      address: '00:11:22:33:44:67',
      addressType: 'public',
      rssi: -50,
      adv: plainDeviceAd('after'),
    });
    await waitFor(() => sink.readings.length === 2, 'both advertisements');
    expect(sink.readings.map((r) => r.frameError)).toEqual(['no-beacon', 'no-beacon']);
  });

  it('reports unavailable while the adapter cannot be opened, then connected; disconnected when powered off', async () => {
    const radio = new SimulatedBleRadio();
    radio.adapter(0).failOpen = 'EAFNOSUPPORT, Address family not supported by protocol';
    const sink = new RecordingSink();
    const { statuses } = await start(radio, config(), sink);
    expect(statuses[0]).toMatchObject({
      state: 'unavailable',
      reason: expect.stringContaining('EAFNOSUPPORT'),
    });
    radio.adapter(0).failOpen = undefined;
    await waitFor(() => statuses.some((s) => s.state === 'connected'), 'connected after retry');
    radio.adapter(0).setPowered(false);
    await waitFor(() => statuses.at(-1)?.state === 'disconnected', 'disconnected');
    expect(statuses.at(-1)).toMatchObject({ reason: 'adapter poweredOff' });
    radio.adapter(0).setPowered(true);
    await waitFor(() => statuses.at(-1)?.state === 'connected', 'connected again');
    expect(statuses.map((s) => s.state)).toEqual(['unavailable', 'connected', 'disconnected', 'connected']);
  });

  it('scans once the presence engine attaches, even when it attaches after start began', async () => {
    const radio = new SimulatedBleRadio();
    const driver = new BleBeaconsDriver('ble-x');
    const abort = new AbortController();
    running.push({ driver, abort });
    const started = driver.start({
      config: config({ id: 'ble-x' }),
      log: silentLogger(),
      clock: systemClock,
      metrics: new Metrics(),
      signal: abort.signal,
      emit: () => {},
      transport: radio,
    });
    const sink = new RecordingSink();
    driver.attach(sink);
    await started;
    radio
      .adapter(0)
      .advertise({ address: '00:11:22:33:44:57', addressType: 'public', rssi: -50, adv: plainDeviceAd('x') });
    await waitFor(() => sink.readings.length === 1, 'reading after attach');
    expect(driver.isAttached).toBe(true);
  });
});
