import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Point } from '../src/presence/geometry.js';
import { seededRandom } from './barcodes.js';
import { eddystoneAd, eddystoneTlmFrame, eddystoneUidFrame, iBeaconAd, plainDeviceAd } from './ble-frames.js';
import { SimulatedBleRadio } from './ble-radio.js';
import { MerakiPoster } from './meraki.js';
import {
  DEFAULT_BLE_RADIO,
  gaussian,
  noisyRssi,
  type RadioModel,
  randomShoppers,
  type Shopper,
  shopperPosition,
} from './shoppers.js';
import {
  DEMO_STORE_MAP,
  LOYALTY_MAJOR,
  LOYALTY_UUID,
  receiverDevices,
  registryConfig,
  STAFF_NAMESPACE,
  type StoreMap,
  zonesConfig,
} from './store-map.js';

export interface StaffMember {
  instance: string;
  address: string;
  position: Point;
}

/**
 * The store's radio world: fixed beacons (Eddystone UID + TLM), shoppers' phones (the loyalty app's
 * iBeacon, or plain advertising), a staff badge; every BLE receiver on the map hears each of them
 * with log-distance RSSI and noise, through a simulated adapter under the real driver and noble.
 */
export class BleStoreSimulation {
  readonly radio: SimulatedBleRadio;
  private timer: NodeJS.Timeout | undefined;
  private tickNo = 0;
  private readonly random: () => number;
  private readonly normal: () => number;
  private readonly off = new Set<string>();
  private readonly bootAt = Date.now();
  advertised = 0;

  constructor(
    private readonly o: {
      map: StoreMap;
      shoppers: () => readonly Shopper[];
      staff?: readonly StaffMember[];
      radio?: SimulatedBleRadio;
      model?: RadioModel;
      seed?: number;
      everyMs?: number;
    },
  ) {
    this.radio = o.radio ?? new SimulatedBleRadio();
    this.random = seededRandom(o.seed ?? 11);
    this.normal = gaussian(this.random);
  }

  /** A beacon whose battery died: it stops advertising. */
  switchOff(beaconId: string): void {
    this.off.add(beaconId);
  }

  /** One advertising interval: every transmitter once, heard by every receiver in range. */
  step(now = Date.now()): void {
    this.tickNo++;
    const model = this.o.model ?? DEFAULT_BLE_RADIO;
    const transmitters: {
      at: Point;
      address: string;
      addressType: 'public' | 'random';
      adv: Buffer;
      rssiAt1m: number;
    }[] = [];
    for (const b of this.o.map.beacons) {
      if (this.off.has(b.id)) continue;
      const uptimeSec = (now - this.bootAt) / 1000 + 86_400;
      const frame =
        this.tickNo % 5 === 0
          ? eddystoneTlmFrame({
              batteryMv: b.batteryMv,
              temperatureC: 21.5,
              advCount: this.tickNo * 10,
              uptimeSec,
            })
          : eddystoneUidFrame({ txPower: b.txPower, namespace: b.namespace, instance: b.instance });
      transmitters.push({
        at: b.position,
        address: b.address,
        addressType: 'random',
        adv: eddystoneAd(frame),
        rssiAt1m: b.txPower - 41,
      });
    }
    for (const s of this.o.shoppers()) {
      const at = shopperPosition(s, now);
      if (!at) continue;
      const adv =
        s.loyaltyMinor === undefined
          ? plainDeviceAd('Phone')
          : iBeaconAd({
              uuid: LOYALTY_UUID,
              major: LOYALTY_MAJOR,
              minor: s.loyaltyMinor,
              measuredPower: -59,
            });
      transmitters.push({ at, address: s.bleAddress, addressType: 'random', adv, rssiAt1m: -59 });
    }
    for (const m of this.o.staff ?? []) {
      const adv = eddystoneAd(
        eddystoneUidFrame({ txPower: -18, namespace: STAFF_NAMESPACE, instance: m.instance }),
      );
      transmitters.push({ at: m.position, address: m.address, addressType: 'public', adv, rssiAt1m: -59 });
    }
    for (const r of this.o.map.receivers) {
      const adapter = this.radio.adapter(r.hciDeviceId);
      for (const t of transmitters) {
        const rssi = noisyRssi(
          t.at,
          r.position,
          { ...model, rssiAt1m: t.rssiAt1m },
          this.random,
          this.normal,
        );
        if (rssi === undefined) continue;
        if (adapter.advertise({ address: t.address, addressType: t.addressType, rssi, adv: t.adv }))
          this.advertised++;
      }
    }
  }

  start(): void {
    this.timer = setInterval(() => this.step(), this.o.everyMs ?? 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * Presence in `store-gateway demo`: the config sections (BLE receivers, zones, registry, Meraki),
 * the simulated radio for the gateway's deps, and the shoppers, beacons and Meraki poster.
 */
export class PresenceDemo {
  readonly map = DEMO_STORE_MAP;
  readonly ble: BleStoreSimulation;
  private shoppers: Shopper[] = [];
  private poster: MerakiPoster | undefined;
  private refill: NodeJS.Timeout | undefined;
  private seed = 1;
  private readonly secret = 'demo-meraki-secret';

  constructor(private readonly dir: string) {
    this.ble = new BleStoreSimulation({
      map: this.map,
      shoppers: () => this.shoppers,
      staff: [{ instance: '000000000007', address: '00:1b:dc:00:00:07', position: [15, 3] }],
    });
    this.addShoppers(Date.now());
  }

  private addShoppers(now: number): void {
    const stops = this.map.zones.map((z) => {
      const xs = z.polygon.map((p) => p[0]);
      const ys = z.polygon.map((p) => p[1]);
      return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2] as Point;
    });
    const fresh = randomShoppers({
      count: 6,
      seed: this.seed++,
      startAt: now,
      spreadMs: 60_000,
      door: this.map.door,
      stops,
    });
    this.shoppers = [
      ...this.shoppers.filter((s) => shopperPosition(s, now) !== undefined || s.startAt > now),
      ...fresh,
    ];
  }

  /** Config sections to merge into the demo config (files for the Meraki secrets go in `dir`). */
  configSections(): Record<string, unknown> {
    const validatorFile = join(this.dir, 'meraki-validator');
    const secretFile = join(this.dir, 'meraki-secret');
    writeFileSync(validatorFile, 'demo-validator-0421\n', { mode: 0o600 });
    writeFileSync(secretFile, `${this.secret}\n`, { mode: 0o600 });
    return {
      zones: zonesConfig(this.map),
      registry: registryConfig(this.map),
      wifi: { meraki: { enabled: true, validatorFile, secretFile } },
      presence: { dwellEverySec: 30, health: { missingAfterSec: 60 } },
    };
  }

  devices(): Record<string, unknown>[] {
    return receiverDevices(this.map);
  }

  /** The gateway's transports: the simulated adapters under the real BLE driver. */
  get transports(): { 'ble-beacons': SimulatedBleRadio } {
    return { 'ble-beacons': this.ble.radio };
  }

  /** Starts beacons, shoppers and the Meraki poster (posting to the gateway's local API). */
  start(apiUrl: string, path = '/v1/wifi/meraki'): void {
    this.ble.start();
    this.poster = new MerakiPoster({
      url: `${apiUrl}${path}`,
      secret: this.secret,
      map: this.map,
      shoppers: () => this.shoppers,
      everyMs: 15_000,
    });
    this.poster.start();
    // New shoppers keep coming; the dairy beacon's battery dies after two minutes.
    this.refill = setInterval(() => this.addShoppers(Date.now()), 60_000);
    setTimeout(() => this.ble.switchOff('beacon-dairy'), 120_000).unref();
  }

  /** The simulated shoppers now (the demo's captive portal signs some of them in on Wi-Fi). */
  shoppersNow(): readonly Shopper[] {
    return this.shoppers;
  }

  notes(): string[] {
    return [
      `  presence    ${this.map.receivers.length} BLE receivers (one per zone), ${this.map.beacons.length} store beacons (beacon-dairy: low battery, dies after 2 min), shoppers with the loyalty app, a staff badge`,
      '              Meraki Scanning API posts every 15 s to the local API; events/presence and events/beacon',
    ];
  }

  async stop(): Promise<void> {
    this.ble.stop();
    if (this.refill) clearInterval(this.refill);
    await this.poster?.stop();
  }
}
