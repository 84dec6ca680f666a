import type { EddystoneTlmFrame } from '../../drivers/ble-beacons/frames.js';
import type { FixedBeaconConfig } from './config.js';

export type BeaconStatus = 'ok' | 'battery-low' | 'missing';

export interface BeaconHealthReport {
  time: number;
  beaconId: string;
  zone?: string;
  status: BeaconStatus;
  /** Why: the status it leaves, e.g. "missing" → "ok" when heard again. */
  previous: BeaconStatus | 'unknown';
  lastSeenAt?: number;
  rssi?: number;
  batteryMv?: number;
  temperatureC?: number;
  advCount?: number;
  uptimeSec?: number;
}

interface State {
  beacon: FixedBeaconConfig;
  status: BeaconStatus | 'unknown';
  lastSeenAt: number | undefined;
  rssi: number | undefined;
  tlm: EddystoneTlmFrame | undefined;
  tlmAt: number | undefined;
}

/**
 * Health of the store's fixed beacons. Pure: readings and times in, status changes out. A beacon is
 * "missing" when not heard for missingAfter (counted from start for one never heard), "battery-low"
 * when its Eddystone-TLM battery voltage is under the threshold, and "ok" again when that ends. A
 * report is produced only when the status changes.
 */
export class BeaconHealth {
  private readonly states = new Map<string, State>();

  constructor(
    beacons: readonly FixedBeaconConfig[],
    private readonly defaults: { batteryLowMv: number; missingAfterMs: number },
    private readonly startedAt: number,
  ) {
    for (const beacon of beacons) {
      this.states.set(beacon.id, {
        beacon,
        status: 'unknown',
        lastSeenAt: undefined,
        rssi: undefined,
        tlm: undefined,
        tlmAt: undefined,
      });
    }
  }

  heard(beaconId: string, time: number, rssi: number): BeaconHealthReport[] {
    const s = this.states.get(beaconId);
    if (!s) return [];
    s.lastSeenAt = Math.max(s.lastSeenAt ?? time, time);
    s.rssi = rssi;
    return this.evaluate(s, time);
  }

  telemetry(beaconId: string, time: number, tlm: EddystoneTlmFrame): BeaconHealthReport[] {
    const s = this.states.get(beaconId);
    if (!s) return [];
    s.tlm = tlm;
    s.tlmAt = time;
    s.lastSeenAt = Math.max(s.lastSeenAt ?? time, time);
    return this.evaluate(s, time);
  }

  check(now: number): BeaconHealthReport[] {
    return [...this.states.values()].flatMap((s) => this.evaluate(s, now));
  }

  snapshot(): Record<string, { status: string; lastSeenAt?: string; batteryMv?: number }> {
    return Object.fromEntries(
      [...this.states.values()].map((s) => [
        s.beacon.id,
        {
          status: s.status,
          ...(s.lastSeenAt === undefined ? {} : { lastSeenAt: new Date(s.lastSeenAt).toISOString() }),
          ...(s.tlm?.batteryMv === undefined ? {} : { batteryMv: s.tlm.batteryMv }),
        },
      ]),
    );
  }

  private evaluate(s: State, now: number): BeaconHealthReport[] {
    const missingAfter = (s.beacon.missingAfterSec ?? 0) * 1000 || this.defaults.missingAfterMs;
    const lowMv = s.beacon.batteryLowMv ?? this.defaults.batteryLowMv;
    let next: BeaconStatus | 'unknown';
    if (now - (s.lastSeenAt ?? this.startedAt) > missingAfter) next = 'missing';
    else if (s.tlm?.batteryMv !== undefined && s.tlm.batteryMv < lowMv) next = 'battery-low';
    else if (s.lastSeenAt !== undefined) next = 'ok';
    else next = 'unknown';
    if (next === s.status || next === 'unknown') return [];
    const previous = s.status;
    s.status = next;
    // Coming into view for the first time is not news; only problems and their end are.
    if (previous === 'unknown' && next === 'ok') return [];
    const tlm = s.tlm;
    return [
      {
        time: now,
        beaconId: s.beacon.id,
        ...(s.beacon.zone ? { zone: s.beacon.zone } : {}),
        status: next,
        previous,
        ...(s.lastSeenAt === undefined ? {} : { lastSeenAt: s.lastSeenAt }),
        ...(s.rssi === undefined ? {} : { rssi: s.rssi }),
        ...(tlm?.batteryMv === undefined ? {} : { batteryMv: tlm.batteryMv }),
        ...(tlm?.temperatureC === undefined ? {} : { temperatureC: tlm.temperatureC }),
        ...(tlm ? { advCount: tlm.advCount, uptimeSec: tlm.uptimeSec } : {}),
      },
    ];
  }
}
