import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BleStoreSimulation } from '../../simulators/ble-store.js';
import { MerakiPoster } from '../../simulators/meraki.js';
import type { Shopper } from '../../simulators/shoppers.js';
import { DEMO_STORE_MAP, receiverDevices, registryConfig, zonesConfig } from '../../simulators/store-map.js';
import { type Running, startGateway } from '../../src/cli/run.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { Collector } from '../helpers/collector.js';
import { testConfig } from '../helpers/config.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'presence-it-secret';

describe('simulated BLE and Meraki → running gateway → Mosquitto', () => {
  let broker: Mosquitto;
  let collector: Collector;
  let running: Running | undefined;
  let sim: BleStoreSimulation;
  let timer: NodeJS.Timeout | undefined;
  const dir = tmpDir('sg-presence-it-');
  const now = Date.now();
  const shoppers: Shopper[] = [
    {
      id: 'loyal',
      startAt: now - 1000,
      walk: [
        { at: 0, position: [5, 11] },
        { at: 3_600_000, position: [5, 11] },
      ],
      loyaltyMinor: 4242,
      bleAddress: 'c1:5a:00:00:42:42',
      wifiMac: '3c:22:fb:00:42:42',
    },
  ];

  beforeAll(async () => {
    broker = await Mosquitto.start();
    collector = await Collector.start(broker.url);
    writeFileSync(join(dir.path, 'validator'), 'v-0421');
    writeFileSync(join(dir.path, 'secret'), SECRET);
    const checked = validateConfig(
      testConfig({
        dir: dir.path,
        mqttUrl: broker.url,
        devices: receiverDevices(DEMO_STORE_MAP),
        extra: {
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
      }),
    );
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    sim = new BleStoreSimulation({ map: DEMO_STORE_MAP, shoppers: () => shoppers, seed: 3 });
    running = await startGateway(checked.config, {
      log: silentLogger(),
      transports: { 'ble-beacons': sim.radio },
    });
    timer = setInterval(() => sim.step(), 200);
    const address = running.api?.addresses()[0] as { address: string; port: number };
    const poster = new MerakiPoster({
      url: `http://${address.address}:${address.port}/v1/wifi/meraki`,
      secret: SECRET,
      map: DEMO_STORE_MAP,
      shoppers: () => shoppers,
      everyMs: 1000,
    });
    await poster.postOnce();
    expect(poster.posts).toBe(2);
  });

  afterAll(async () => {
    if (timer) clearInterval(timer);
    await running?.stop();
    await collector?.stop();
    await broker?.dispose();
    dir.cleanup();
  });

  it('publishes presence and beacon health events, valid, with pseudonyms only', async () => {
    await collector.waitForUnique(1, 'retail.beacon.health.v1');
    const enters = () =>
      collector.unique('retail.presence.enter.v1').map((r) => r.event?.data as Record<string, unknown>);
    const bySource = (source: string) => enters().find((d) => d.source === source);
    await waitFor(
      () => bySource('ble') && bySource('wifi') && bySource('meraki-ble'),
      'enters from ble, wifi and meraki-ble',
      20_000,
    );
    expect(bySource('ble')).toMatchObject({
      zone: 'produce',
      subjectType: 'tag',
      tag: 'loyalty-app',
      randomized: false,
    });
    expect(bySource('meraki-ble')).toMatchObject({
      zone: 'produce',
      tag: 'loyalty-app',
      subject: bySource('ble')?.subject,
    });
    expect(bySource('wifi')).toMatchObject({ zone: 'produce', subjectType: 'device' });
    const health = collector.unique('retail.beacon.health.v1')[0];
    expect(health?.topic).toBe('stores/0421/gateways/gw-test/events/beacon/beacon-dairy');
    expect(health?.event?.data).toMatchObject({
      beaconId: 'beacon-dairy',
      status: 'battery-low',
      batteryMv: 2300,
    });
    const enter = collector.unique('retail.presence.enter.v1')[0];
    expect(enter?.topic).toBe('stores/0421/gateways/gw-test/events/presence/presence');
    const status = collector
      .unique('retail.device.status.v1')
      .map((r) => r.event?.data as Record<string, unknown>);
    expect(status.filter((s) => s.kind === 'ble-beacons' && s.state === 'connected')).toHaveLength(4);
    expect(collector.received.every((r) => r.issues.length === 0)).toBe(true);
    const everything = JSON.stringify(collector.received.map((r) => r.event));
    expect(everything).not.toMatch(/c1:?5a:?00:?00:?42:?42|3c:?22:?fb:?00:?42:?42|d0:?5e:?ac/i);
  });
});
