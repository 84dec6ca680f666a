import { distance, type Point } from '../src/presence/geometry.js';
import { rssiAtDistance } from '../src/presence/smoothing.js';
import { seededRandom } from './barcodes.js';

/** Standard normal samples (Box–Muller) from a uniform source. */
export function gaussian(random: () => number): () => number {
  return () => {
    const u = Math.max(random(), 1e-12);
    const v = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

export interface RadioModel {
  /** RSSI at 1 m, dBm. */
  rssiAt1m: number;
  /** Path-loss exponent. */
  n: number;
  /** Noise: Gaussian with this σ (dB), or uniform in ±`uniformDb`. */
  sigmaDb?: number;
  uniformDb?: number;
  /** Readings weaker than this are not heard. */
  sensitivityDbm: number;
}

export const DEFAULT_BLE_RADIO: RadioModel = { rssiAt1m: -59, n: 3.5, sigmaDb: 3, sensitivityDbm: -100 };

/** RSSI a receiver at `rx` sees from a transmitter at `tx`: log-distance plus noise; undefined when too weak. */
export function noisyRssi(
  tx: Point,
  rx: Point,
  model: RadioModel,
  random: () => number,
  normal: () => number,
) {
  const mean = rssiAtDistance(Math.max(distance(tx, rx), 0.1), model.rssiAt1m, model.n);
  const noise =
    model.uniformDb !== undefined ? (random() * 2 - 1) * model.uniformDb : normal() * (model.sigmaDb ?? 0);
  const rssi = Math.round(mean + noise);
  return rssi < model.sensitivityDbm ? undefined : Math.min(rssi, 0);
}

/** A walk: positions at times (ms since the shopper came in), straight lines in between. */
export interface Waypoint {
  at: number;
  position: Point;
}

export function positionAt(walk: readonly Waypoint[], t: number): Point | undefined {
  const first = walk[0];
  const last = walk.at(-1);
  if (!first || !last || t < first.at || t > last.at) return undefined;
  for (let i = 1; i < walk.length; i++) {
    const a = walk[i - 1] as Waypoint;
    const b = walk[i] as Waypoint;
    if (t <= b.at) {
      const f = b.at === a.at ? 1 : (t - a.at) / (b.at - a.at);
      return [
        a.position[0] + (b.position[0] - a.position[0]) * f,
        a.position[1] + (b.position[1] - a.position[1]) * f,
      ];
    }
  }
  return last.position;
}

export interface Shopper {
  id: string;
  /** Wall-clock ms when the walk starts. */
  startAt: number;
  walk: Waypoint[];
  /** Loyalty-app iBeacon minor (member token); undefined for a shopper without the app. */
  loyaltyMinor?: number;
  /** BLE address the phone advertises with (a random static one). */
  bleAddress: string;
  /** Wi-Fi MAC (second hex digit 2/6/A/E when randomized). */
  wifiMac: string;
}

/** Where a shopper is at wall-clock `now`, or undefined when not in the store. */
export function shopperPosition(s: Shopper, now: number): Point | undefined {
  return positionAt(s.walk, now - s.startAt);
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/**
 * Shoppers who come in at the door, visit a few zone centres (stay 20–90 s each) and leave. Half
 * carry the loyalty app; Wi-Fi MACs are mostly randomized, as phones do.
 */
export function randomShoppers(opts: {
  count: number;
  seed: number;
  startAt: number;
  spreadMs: number;
  door: Point;
  stops: readonly Point[];
}): Shopper[] {
  const random = seededRandom(opts.seed);
  return Array.from({ length: opts.count }, (_, i) => {
    const startAt = opts.startAt + Math.floor(random() * opts.spreadMs);
    const walk: Waypoint[] = [{ at: 0, position: opts.door }];
    let t = 0;
    const visits = 1 + Math.floor(random() * 3);
    for (let v = 0; v < visits; v++) {
      const stop = opts.stops[Math.floor(random() * opts.stops.length)] as Point;
      const [px, py] = (walk.at(-1) as Waypoint).position;
      t += (Math.hypot(stop[0] - px, stop[1] - py) / 1.0) * 1000;
      walk.push({ at: t, position: stop });
      t += 20_000 + random() * 70_000;
      walk.push({ at: t, position: stop });
    }
    const [lx, ly] = (walk.at(-1) as Waypoint).position;
    t += (Math.hypot(opts.door[0] - lx, opts.door[1] - ly) / 1.0) * 1000;
    walk.push({ at: t, position: opts.door });
    const randomized = random() < 0.7;
    const firstOctet = randomized ? 0x02 | (Math.floor(random() * 64) << 2) : 0x3c;
    return {
      id: `shopper-${i + 1}`,
      startAt,
      walk,
      ...(random() < 0.5 ? { loyaltyMinor: 1000 + i } : {}),
      bleAddress: `c1:5a:00:00:${hex2((i >> 8) & 0xff)}:${hex2(i & 0xff)}`,
      wifiMac: `${hex2(firstOctet)}:a4:5e:00:${hex2((i >> 8) & 0xff)}:${hex2(i & 0xff)}`,
    };
  });
}
