import { distance, type Point } from '../src/presence/geometry.js';
import { sleep } from '../src/util/sleep.js';
import { seededRandom } from './barcodes.js';
import { iBeaconAd } from './ble-frames.js';
import { gaussian, type Shopper, shopperPosition } from './shoppers.js';
import { LOYALTY_MAJOR, LOYALTY_UUID, type StoreMap } from './store-map.js';

/** One client in a simulated Meraki post. */
export interface MerakiClient {
  mac: string;
  /** Located position (floor-plan metres); without it only `latestRecord` is sent. */
  position?: Point;
  /** AP MAC → RSSI as Meraki reports it (dB above the noise floor, a positive number). */
  rssi: Record<string, number>;
  time: number;
  /** BLE posts: raw advertising data of the beacon the device sends. */
  bleRawData?: string;
}

export interface MerakiBodyOptions {
  secret: string;
  /** "BLE" as documented, "Bluetooth" as real networks send. */
  type: 'WiFi' | 'BLE' | 'Bluetooth';
  networkId?: string;
  floorPlanId?: string;
  /** Numbers as strings, like the documentation's sample (real captures send numbers). */
  numbersAsStrings?: boolean;
}

/** A Scanning API v3 post body, shaped like the documentation and real captures. */
export function merakiBody(clients: readonly MerakiClient[], o: MerakiBodyOptions): Record<string, unknown> {
  const n = (v: number) => (o.numbersAsStrings ? String(v) : v);
  return {
    version: '3.0',
    secret: o.secret,
    type: o.type,
    data: {
      networkId: o.networkId ?? 'L_643451796760561234',
      observations: clients.map((c) => {
        const records = Object.entries(c.rssi).map(([apMac, rssi]) => ({ apMac, rssi: n(rssi) }));
        const strongest = records.reduce<{ apMac: string; rssi: number | string } | undefined>(
          (best, r) => (!best || Number(r.rssi) > Number(best.rssi) ? r : best),
          undefined,
        );
        return {
          clientMac: c.mac,
          ipv4: o.type === 'WiFi' ? '10.0.4.17' : null,
          ssid: o.type === 'WiFi' ? 'Store-Guest' : null,
          os: null,
          manufacturer: 'Apple',
          ...(c.position
            ? {
                locations: [
                  {
                    x: n(c.position[0]),
                    y: n(c.position[1]),
                    lat: 51.5355,
                    lng: -0.0699,
                    variance: n(2.3),
                    floorPlanId: o.floorPlanId ?? 'g_1234',
                    nearestApTags: [],
                    time: new Date(c.time).toISOString(),
                    rssiRecords: records,
                  },
                ],
              }
            : {
                locations: [],
                latestRecord: {
                  time: new Date(c.time).toISOString(),
                  nearestApMac: strongest?.apMac ?? null,
                  nearestApRssi: strongest ? Number(strongest.rssi) : null,
                },
              }),
          ...(c.bleRawData ? { bleBeacons: [{ rawData: c.bleRawData, bleType: 'iBeacon' }] } : {}),
        };
      }),
    },
  };
}

/**
 * Posts what Meraki would see of the simulated shoppers: every `everyMs`, a Wi-Fi post with each
 * shopper's phone (x/y with noise, RSSI per AP) and a Bluetooth post for loyalty-app phones.
 */
export class MerakiPoster {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  posts = 0;
  failures = 0;
  lastStatus: number | undefined;
  private readonly random: () => number;
  private readonly normal: () => number;

  constructor(
    private readonly o: {
      url: string;
      secret: string;
      map: StoreMap;
      shoppers: () => readonly Shopper[];
      everyMs: number;
      seed?: number;
      noiseFloorDbm?: number;
    },
  ) {
    this.random = seededRandom(o.seed ?? 7);
    this.normal = gaussian(this.random);
  }

  /** The clients Meraki would report now. */
  clients(now: number, ble: boolean): MerakiClient[] {
    const floor = this.o.noiseFloorDbm ?? -95;
    return this.o.shoppers().flatMap((s) => {
      const pos = shopperPosition(s, now);
      if (!pos || (ble && s.loyaltyMinor === undefined)) return [];
      const rssi: Record<string, number> = {};
      for (const ap of this.o.map.accessPoints) {
        const dbm = -40 - 30 * Math.log10(Math.max(distance(pos, ap.position), 0.5)) + this.normal() * 3;
        const aboveFloor = Math.round(dbm - floor);
        if (aboveFloor > 5) rssi[ap.mac] = aboveFloor;
      }
      const jitter = (): number => this.normal() * 1.0;
      return [
        {
          mac: ble ? s.bleAddress : s.wifiMac,
          position: [
            Math.round((pos[0] + jitter()) * 100) / 100,
            Math.round((pos[1] + jitter()) * 100) / 100,
          ] as Point,
          rssi,
          time: now,
          ...(ble
            ? {
                bleRawData: iBeaconAd({
                  uuid: LOYALTY_UUID,
                  major: LOYALTY_MAJOR,
                  minor: s.loyaltyMinor as number,
                  measuredPower: -59,
                }).toString('hex'),
              }
            : {}),
        },
      ];
    });
  }

  async postOnce(now = Date.now()): Promise<void> {
    for (const type of ['WiFi', 'Bluetooth'] as const) {
      const clients = this.clients(now, type === 'Bluetooth');
      if (clients.length === 0) continue;
      const body = merakiBody(clients, { secret: this.o.secret, type, numbersAsStrings: type === 'WiFi' });
      try {
        const res = await fetch(this.o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: this.abort.signal,
        });
        this.lastStatus = res.status;
        if (res.ok) this.posts++;
        else this.failures++;
        await res.arrayBuffer();
      } catch {
        this.failures++;
      }
    }
  }

  start(): void {
    this.loop = (async () => {
      while (await sleep(this.o.everyMs, this.abort.signal)) await this.postOnce();
    })();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
