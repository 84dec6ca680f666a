import { advertisedRssiAt1m, type BeaconFrame } from '../../drivers/ble-beacons/frames.js';
import type { BleReading, BleSink } from '../../drivers/ble-beacons/reading.js';
import { type MerakiOptions, merakiSightings } from '../../drivers/wifi-presence/meraki.js';
import type { MerakiPost } from '../../drivers/wifi-presence/meraki-schema.js';
import type { EventData, EventType } from '../events/catalog.js';
import { isRandomizedMac, normalizeAddress } from '../privacy/address.js';
import type { Pseudonym, Pseudonymizer, SubjectNamespace } from '../privacy/pseudonymizer.js';
import type { PresenceConfig } from './config.js';
import type { Observation, PresenceEngine, SubjectInfo, Transition } from './engine.js';
import type { BeaconHealth, BeaconHealthReport } from './health.js';
import type { SubjectIdentity } from './identity-hook.js';
import type { BeaconRegistry } from './registry.js';

/** Emits one event for a device id (gateway.emitFor(id) in the gateway; a collector in tests). */
export type EmitAs = <T extends EventType>(
  deviceId: string,
  type: T,
  data: EventData<T>,
  timeMs: number,
) => void;

export interface PresenceServiceDeps {
  engine: PresenceEngine;
  registry: BeaconRegistry;
  health: BeaconHealth;
  pseudonymizer: Pseudonymizer;
  presence: PresenceConfig;
  ignoreRandomized: boolean;
  emit: EmitAs;
  /** Who a subject is (a Wi-Fi sign-in linked it to a loyalty account): its fields join each event. */
  identify?: SubjectIdentity['identify'];
}

export interface PresenceCounts {
  ble: { tag: number; device: number; fixed: number; telemetry: number; unmatched: number };
  meraki: {
    posts: number;
    forbidden: number;
    invalid: number;
    clients: number;
    unmapped: number;
    ignored: number;
  };
  transitions: { enter: number; exit: number; dwell: number };
  health: number;
}

const iso = (ms: number) => new Date(ms).toISOString();
const clampRssi = (v: number) => Math.max(-150, Math.min(50, Math.round(v)));
const TLM_OWNERS_MAX = 4096;

/**
 * Wires readings to the engine and the engine's transitions to events: the BLE sink, the Meraki
 * ingest, the timers' tick, key rotation. Synchronous and clock-free (every call takes `now`), so
 * the whole presence path runs in unit tests without a gateway.
 */
export class PresenceService implements BleSink {
  readonly counts: PresenceCounts = {
    ble: { tag: 0, device: 0, fixed: 0, telemetry: 0, unmatched: 0 },
    meraki: { posts: 0, forbidden: 0, invalid: 0, clients: 0, unmapped: 0, ignored: 0 },
    transitions: { enter: 0, exit: 0, dwell: 0 },
    health: 0,
  };
  /** BLE address pseudonym → fixed beacon id, so a TLM frame (no identity) finds its beacon. */
  private readonly tlmOwners = new Map<string, string>();
  private epoch: string | undefined;

  constructor(private readonly d: PresenceServiceDeps) {}

  get ignoreRandomized(): boolean {
    return this.d.ignoreRandomized;
  }

  pseudonymize(namespace: SubjectNamespace, value: string, nowMs: number): Pseudonym {
    return this.d.pseudonymizer.pseudonym(namespace, value, nowMs);
  }

  /** A reading from a BLE receiver. */
  reading(r: BleReading): void {
    const frame = r.frame;
    if (frame?.format === 'eddystone-tlm') {
      const owner = this.tlmOwners.get(r.address.id);
      if (owner) {
        this.counts.ble.telemetry++;
        this.healthReports(this.d.health.telemetry(owner, r.time, frame));
      } else this.counts.ble.unmatched++;
      return;
    }
    const m = this.d.registry.match(frame);
    const tuning = this.d.presence.ble;
    if (m.role === 'fixed') {
      this.counts.ble.fixed++;
      if (this.tlmOwners.size >= TLM_OWNERS_MAX) this.tlmOwners.clear();
      this.tlmOwners.set(r.address.id, m.beacon.id);
      this.healthReports(this.d.health.heard(m.beacon.id, r.time, r.rssi));
      return;
    }
    if (m.role === 'tag') {
      this.counts.ble.tag++;
      this.observe({
        subject: this.tagSubject(m.tag.id, m.tag.identity, m.identity, r.time),
        source: 'ble',
        zone: r.zone,
        time: r.time,
        rssi: r.rssi,
        rssiAt1m: m.tag.rssiAt1m ?? (frame && advertisedRssiAt1m(frame)) ?? tuning.rssiAt1m,
        pathLossExponent: r.pathLossExponent ?? tuning.pathLossExponent,
        info: { subjectType: 'tag', tag: m.tag.id, randomized: false, epoch: r.address.epoch },
      });
      return;
    }
    if (r.unmatched !== 'track') {
      this.counts.ble.unmatched++;
      return;
    }
    this.counts.ble.device++;
    this.observe({
      subject: r.address.id,
      source: 'ble',
      zone: r.zone,
      time: r.time,
      rssi: r.rssi,
      rssiAt1m: (frame && advertisedRssiAt1m(frame)) ?? tuning.rssiAt1m,
      pathLossExponent: r.pathLossExponent ?? tuning.pathLossExponent,
      info: { subjectType: 'device', randomized: r.randomized, epoch: r.address.epoch },
    });
  }

  private tagSubject(
    tagId: string,
    identity: 'hashed' | 'clear',
    beaconIdentity: string,
    now: number,
  ): string {
    return identity === 'clear'
      ? beaconIdentity
      : this.pseudonymize('tag', `${tagId}/${beaconIdentity}`, now).id;
  }

  /**
   * A validated Meraki post: Wi-Fi clients become subjects by their hashed MAC; BLE devices only
   * when they advertise a registered tag (fixed beacons count for health).
   */
  meraki(
    post: MerakiPost,
    opts: Omit<MerakiOptions, 'nowMs'>,
    now: number,
  ): { clients: number; unmapped: number } {
    this.counts.meraki.posts++;
    const wifi = post.type === 'WiFi';
    const ns: SubjectNamespace = wifi ? 'wifi' : 'ble';
    const epoch = this.d.pseudonymizer.epoch(now);
    const result = merakiSightings(
      post,
      { ...opts, nowMs: now },
      (mac) => this.pseudonymize(ns, normalizeAddress(mac), now).id,
      (mac) => wifi && isRandomizedMac(mac),
    );
    this.counts.meraki.clients += result.clients.length;
    this.counts.meraki.unmapped += result.unmapped;
    const tuning = this.d.presence.wifi;
    for (const c of result.clients) {
      let subject = c.subject;
      let info: SubjectInfo = { subjectType: 'device', randomized: c.randomizedMac, epoch };
      let rssiAt1m = tuning.rssiAt1m;
      if (!wifi) {
        const tag = this.merakiBle(c.frames, c.subject, c.sightings, now);
        if (!tag) continue;
        subject = tag.subject;
        info = { subjectType: 'tag', tag: tag.tagId, randomized: false, epoch };
        rssiAt1m = tag.rssiAt1m ?? rssiAt1m;
      } else if (c.randomizedMac && this.d.ignoreRandomized) {
        this.counts.meraki.ignored++;
        continue;
      }
      for (const s of c.sightings) {
        this.observe({
          subject,
          source: wifi ? 'wifi' : 'meraki-ble',
          zone: s.zone,
          time: Math.min(s.time, now),
          rssi: s.rssi,
          rssiAt1m,
          pathLossExponent: tuning.pathLossExponent,
          inside: s.inside,
          info,
        });
      }
    }
    return { clients: result.clients.length, unmapped: result.unmapped };
  }

  private merakiBle(
    frames: BeaconFrame[],
    addressId: string,
    sightings: { time: number; rssi: number }[],
    now: number,
  ): { subject: string; tagId: string; rssiAt1m?: number } | undefined {
    const last = sightings.at(-1);
    for (const frame of frames) {
      if (frame.format === 'eddystone-tlm') {
        const owner = this.tlmOwners.get(addressId);
        if (owner) this.healthReports(this.d.health.telemetry(owner, last?.time ?? now, frame));
        continue;
      }
      const m = this.d.registry.match(frame);
      if (m.role === 'fixed') {
        this.tlmOwners.set(addressId, m.beacon.id);
        this.healthReports(
          this.d.health.heard(m.beacon.id, Math.min(last?.time ?? now, now), last?.rssi ?? 0),
        );
      } else if (m.role === 'tag') {
        const rssiAt1m = m.tag.rssiAt1m ?? advertisedRssiAt1m(frame);
        return {
          subject: this.tagSubject(m.tag.id, m.tag.identity, m.identity, now),
          tagId: m.tag.id,
          ...(rssiAt1m === undefined ? {} : { rssiAt1m }),
        };
      }
    }
    this.counts.ble.unmatched++;
    return undefined;
  }

  /** Timers: absence, exit delays, dwell, beacon health, and the daily key rotation. */
  tick(now: number): void {
    const epoch = this.d.pseudonymizer.epoch(now);
    if (this.epoch !== undefined && epoch !== this.epoch) {
      // Yesterday's pseudonyms are gone with yesterday's key: close every visit now.
      this.tlmOwners.clear();
      this.transitions(this.d.engine.closeAll(now, 'rotation'));
    }
    this.epoch = epoch;
    this.transitions(this.d.engine.tick(now));
    this.healthReports(this.d.health.check(now));
  }

  /** Gateway stop: every open visit ends with reason "shutdown". */
  shutdown(now: number): void {
    this.transitions(this.d.engine.closeAll(now, 'shutdown'));
  }

  private observe(o: Observation): void {
    this.epoch ??= o.info.epoch;
    this.transitions(this.d.engine.observe(o));
  }

  private transitions(list: readonly Transition[]): void {
    const deviceId = this.d.presence.deviceId;
    for (const t of list) {
      const base = {
        subject: t.subject,
        epoch: t.info.epoch,
        subjectType: t.info.subjectType,
        ...(t.info.tag ? { tag: t.info.tag } : {}),
        source: t.source,
        randomized: t.info.randomized,
        zone: t.zone,
        rssi: clampRssi(t.rssi),
        distanceM: t.distanceM,
        ...this.d.identify?.(t.subject, t.source, t.time),
      };
      this.counts.transitions[t.type]++;
      if (t.type === 'enter') this.d.emit(deviceId, 'retail.presence.enter.v1', base, t.time);
      else if (t.type === 'exit')
        this.d.emit(
          deviceId,
          'retail.presence.exit.v1',
          {
            ...base,
            reason: t.reason,
            enteredAt: iso(t.enteredAt),
            lastSeenAt: iso(t.lastSeenAt),
            dwellMs: Math.round(t.dwellMs),
          },
          t.time,
        );
      else
        this.d.emit(
          deviceId,
          'retail.presence.dwell.v1',
          { ...base, enteredAt: iso(t.enteredAt), dwellMs: Math.round(t.dwellMs) },
          t.time,
        );
    }
  }

  private healthReports(list: readonly BeaconHealthReport[]): void {
    for (const h of list) {
      this.counts.health++;
      const { time, lastSeenAt, rssi, ...rest } = h;
      this.d.emit(
        h.beaconId,
        'retail.beacon.health.v1',
        {
          ...rest,
          ...(lastSeenAt === undefined ? {} : { lastSeenAt: iso(lastSeenAt) }),
          ...(rssi === undefined ? {} : { rssi: clampRssi(rssi) }),
        },
        time,
      );
    }
  }
}
