import type { Point } from '../../src/presence/geometry.js';
import { pointInPolygon } from '../../src/presence/geometry.js';
import { advertisementFromAd } from '../ble-beacons/ad.js';
import { type BeaconFrame, parseBeacon } from '../ble-beacons/frames.js';
import type { MerakiLocation, MerakiObservation, MerakiPost } from './meraki-schema.js';

/**
 * Meraki observations to zone sightings. Pure. The client MAC is handed to `pseudonymize` and to
 * nothing else: the sightings carry only the pseudonym.
 */

export interface ZoneMap {
  /** Zones with a polygon, in config order (the first that contains a point wins). */
  polygons: { id: string; polygon: readonly Point[]; floorPlanId?: string }[];
  /** AP MAC (12 lower-case hex digits) → zone. */
  apZones: Map<string, string>;
  /** AP tag → zone. */
  tagZones: Map<string, string>;
}

export interface ZoneConfigLike {
  id: string;
  polygon?: readonly (readonly [number, number])[];
  floorPlanId?: string;
  apMacs?: readonly string[];
  apTags?: readonly string[];
}

const macKey = (mac: string) => mac.toLowerCase().replace(/[^0-9a-f]/g, '');

export function buildZoneMap(zones: readonly ZoneConfigLike[]): ZoneMap {
  const map: ZoneMap = { polygons: [], apZones: new Map(), tagZones: new Map() };
  for (const z of zones) {
    if (z.polygon)
      map.polygons.push({
        id: z.id,
        polygon: z.polygon,
        ...(z.floorPlanId ? { floorPlanId: z.floorPlanId } : {}),
      });
    for (const mac of z.apMacs ?? []) map.apZones.set(macKey(mac), z.id);
    for (const tag of z.apTags ?? []) map.tagZones.set(tag, z.id);
  }
  return map;
}

export interface MerakiOptions {
  zones: ZoneMap;
  zoneBy: 'auto' | 'ap' | 'polygon';
  noiseFloorDbm: number;
  nowMs: number;
}

/** One sighting of one client in one zone. */
export interface Sighting {
  time: number;
  zone: string;
  /** dBm. */
  rssi: number;
  /** Located in the zone's polygon (distance 0). */
  inside: boolean;
}

export interface ClientSightings {
  /** The pseudonymize callback's result for this client. */
  subject: string;
  randomizedMac: boolean;
  sightings: Sighting[];
  /** BLE posts: the beacon frames the client advertised. */
  frames: BeaconFrame[];
}

export interface MerakiResult {
  clients: ClientSightings[];
  /** Observations that mapped to no zone. */
  unmapped: number;
}

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'string' ? Number(v.trim()) : typeof v === 'number' ? v : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
};

/** Meraki gives RSSI as dB above the noise floor (positive); a value ≤ 0 is taken as dBm already. */
export function toDbm(v: unknown, noiseFloorDbm: number): number | undefined {
  const n = num(v);
  if (n === undefined) return undefined;
  return n > 0 ? noiseFloorDbm + n : n;
}

function timeOf(v: unknown, fallback: number): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v < 1e12 ? v * 1000 : v;
  if (typeof v === 'string') {
    const parsed = Date.parse(v);
    if (Number.isFinite(parsed)) return parsed;
  }
  return fallback;
}

function byPolygon(loc: MerakiLocation, zones: ZoneMap): string | undefined {
  const x = num(loc.x);
  const y = num(loc.y);
  if (x === undefined || y === undefined) return undefined;
  return zones.polygons.find(
    (z) =>
      (!z.floorPlanId || !loc.floorPlanId || z.floorPlanId === loc.floorPlanId) &&
      pointInPolygon([x, y], z.polygon),
  )?.id;
}

function locationSightings(loc: MerakiLocation, o: MerakiOptions): Sighting[] {
  const time = timeOf(loc.time, o.nowMs);
  const records = (loc.rssiRecords ?? []).flatMap((r) => {
    const rssi = toDbm(r.rssi, o.noiseFloorDbm);
    return rssi === undefined ? [] : [{ ap: macKey(r.apMac), rssi }];
  });
  const strongest = records.reduce((m, r) => Math.max(m, r.rssi), Number.NEGATIVE_INFINITY);
  if (o.zoneBy !== 'ap') {
    const zone = byPolygon(loc, o.zones);
    if (zone)
      return [{ time, zone, rssi: Number.isFinite(strongest) ? strongest : o.noiseFloorDbm, inside: true }];
    if (o.zoneBy === 'polygon') return [];
  }
  const perZone = new Map<string, number>();
  for (const r of records) {
    const zone = o.zones.apZones.get(r.ap);
    if (zone) perZone.set(zone, Math.max(perZone.get(zone) ?? Number.NEGATIVE_INFINITY, r.rssi));
  }
  if (perZone.size > 0) return [...perZone].map(([zone, rssi]) => ({ time, zone, rssi, inside: false }));
  const tagZone = (loc.nearestApTags ?? []).map((t) => o.zones.tagZones.get(t)).find((z) => z !== undefined);
  if (tagZone)
    return [
      { time, zone: tagZone, rssi: Number.isFinite(strongest) ? strongest : o.noiseFloorDbm, inside: true },
    ];
  return [];
}

function latestSightings(obs: MerakiObservation, o: MerakiOptions): Sighting[] {
  const rec = obs.latestRecord;
  if (!rec?.nearestApMac || o.zoneBy === 'polygon') return [];
  const zone = o.zones.apZones.get(macKey(rec.nearestApMac));
  const rssi = toDbm(rec.nearestApRssi, o.noiseFloorDbm);
  if (!zone || rssi === undefined) return [];
  return [{ time: timeOf(rec.time, o.nowMs), zone, rssi, inside: false }];
}

function framesOf(obs: MerakiObservation): BeaconFrame[] {
  return (obs.bleBeacons ?? []).flatMap((b) => {
    if (!b.rawData) return [];
    const raw = Buffer.from(b.rawData, 'hex');
    const fromAd = parseBeacon(advertisementFromAd(raw));
    if (fromAd.ok) return [fromAd.value];
    // Some captures carry only the manufacturer data.
    const fromMd = parseBeacon({ manufacturerData: raw, serviceData: [] });
    return fromMd.ok ? [fromMd.value] : [];
  });
}

/**
 * Sightings per client, oldest first. `pseudonymize(mac)` is the only thing that sees a client MAC;
 * `isRandomized(mac)` only reads it.
 */
export function merakiSightings(
  post: MerakiPost,
  o: MerakiOptions,
  pseudonymize: (mac: string) => string,
  isRandomized: (mac: string) => boolean,
): MerakiResult {
  let unmapped = 0;
  const clients: ClientSightings[] = [];
  for (const obs of post.data.observations) {
    const located = (obs.locations ?? []).flatMap((loc) => locationSightings(loc, o));
    const sightings = (located.length > 0 ? located : latestSightings(obs, o)).sort(
      (a, b) => a.time - b.time,
    );
    const frames = post.type === 'WiFi' ? [] : framesOf(obs);
    if (sightings.length === 0) unmapped++;
    clients.push({
      subject: pseudonymize(obs.clientMac),
      randomizedMac: isRandomized(obs.clientMac),
      sightings,
      frames,
    });
  }
  return { clients, unmapped };
}
