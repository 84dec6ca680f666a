import { centroid, type Point } from '../src/presence/geometry.js';

/**
 * A small store floor plan (metres, the Meraki x/y frame): zones as polygons, a BLE receiver per
 * zone, Wi-Fi access points, and the store's fixed beacons. Used by the shopper simulation, the
 * Meraki poster, the demo and the tests.
 */
export interface MapZone {
  id: string;
  name: string;
  polygon: Point[];
}

export interface MapReceiver {
  deviceId: string;
  zone: string;
  hciDeviceId: number;
  position: Point;
}

export interface MapAccessPoint {
  mac: string;
  zone: string;
  tags: string[];
  position: Point;
}

export interface MapBeacon {
  id: string;
  zone: string;
  position: Point;
  namespace: string;
  instance: string;
  /** Random static address (beacons usually use one). */
  address: string;
  batteryMv: number;
  /** Tx power at 0 m, as an Eddystone beacon advertises it. */
  txPower: number;
}

export interface StoreMap {
  zones: MapZone[];
  receivers: MapReceiver[];
  accessPoints: MapAccessPoint[];
  beacons: MapBeacon[];
  /** Where shoppers come in and leave. */
  door: Point;
}

/** Loyalty app: phones advertise this iBeacon UUID with major 100 and their member token as minor. */
export const LOYALTY_UUID = 'e2c56db5-dffb-48d2-b060-d0f5a71096e0';
export const LOYALTY_MAJOR = 100;
/** Staff badges: Eddystone-UID with this namespace. */
export const STAFF_NAMESPACE = '53746166664261646765';
export const STORE_BEACON_NAMESPACE = '53746f72654265616331';

const rect = (x0: number, y0: number, x1: number, y1: number): Point[] => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
];

const ZONES: MapZone[] = [
  { id: 'entrance', name: 'Entrance', polygon: rect(0, 0, 10, 6) },
  { id: 'checkout', name: 'Checkout', polygon: rect(10, 0, 20, 6) },
  { id: 'produce', name: 'Produce', polygon: rect(0, 6, 10, 16) },
  { id: 'dairy', name: 'Dairy', polygon: rect(10, 6, 20, 16) },
];

export const DEMO_STORE_MAP: StoreMap = {
  zones: ZONES,
  receivers: ZONES.map((z, i) => ({
    deviceId: `ble-${z.id}`,
    zone: z.id,
    hciDeviceId: i,
    position: centroid(z.polygon),
  })),
  accessPoints: ZONES.map((z, i) => ({
    mac: `88:15:44:a0:00:0${i + 1}`,
    zone: z.id,
    tags: [z.id],
    position: centroid(z.polygon),
  })),
  beacons: ZONES.map((z, i) => ({
    id: `beacon-${z.id}`,
    zone: z.id,
    position: [(z.polygon[0] as Point)[0] + 1, (z.polygon[0] as Point)[1] + 1],
    namespace: STORE_BEACON_NAMESPACE,
    instance: `00000000000${i + 1}`,
    address: `d0:5e:ac:00:00:0${i + 1}`,
    batteryMv: i === 3 ? 2300 : 3000,
    txPower: -20,
  })),
  door: [5, 0],
};

/** The gateway's `zones` section for a map: polygons and the access point in each zone. */
export function zonesConfig(map: StoreMap): Record<string, unknown>[] {
  return map.zones.map((z) => ({
    id: z.id,
    name: z.name,
    polygon: z.polygon.map(([x, y]) => [x, y]),
    apMacs: map.accessPoints.filter((a) => a.zone === z.id).map((a) => a.mac),
    apTags: [z.id],
  }));
}

/** The gateway's `registry`: the fixed beacons, the loyalty app and staff badges. */
export function registryConfig(map: StoreMap): Record<string, unknown> {
  return {
    beacons: map.beacons.map((b) => ({
      id: b.id,
      zone: b.zone,
      eddystone: { namespace: b.namespace, instance: b.instance },
    })),
    tags: [
      { id: 'loyalty-app', ibeacon: { uuid: LOYALTY_UUID, major: LOYALTY_MAJOR } },
      { id: 'staff-badge', eddystone: { namespace: STAFF_NAMESPACE } },
    ],
  };
}

/** One `ble-beacons` device per receiver (simulated adapters are picked by hciDeviceId). */
export function receiverDevices(map: StoreMap): Record<string, unknown>[] {
  return map.receivers.map((r) => ({
    id: r.deviceId,
    kind: 'ble-beacons',
    hciDeviceId: r.hciDeviceId,
    zone: r.zone,
  }));
}
