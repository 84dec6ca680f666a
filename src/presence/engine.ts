import { createSmoother, logDistance, type Smoother, type SmoothingOptions } from './smoothing.js';

/**
 * The presence engine: readings in, zone transitions out. Pure and synchronous: every method takes
 * the time it runs at, nothing reads a clock or sets a timer, so scenarios replay exactly in tests.
 *
 * Per subject (a pseudonym, per source) and zone it smooths RSSI and turns it into a log-distance estimate. A
 * subject is in at most one zone at a time:
 * - **enter**: a zone whose smoothed distance is ≤ enterMeters for minDwell (shorter visits are not
 *   reported);
 * - **exit "left"**: the current zone's distance stays > exitMeters for exitAfter (enter and exit
 *   thresholds differ, so a shopper between them does not flap);
 * - **exit "moved"** then **enter**: another qualifying zone is closer by switchMargin for minDwell,
 *   or the current zone has not heard the subject since that zone began to qualify;
 * - **exit "absent"**: the current zone has not heard the subject for absence;
 * - **dwell**: every dwellEvery while in a zone.
 */

/** ble: the gateway's own receivers; wifi: Meraki Wi-Fi clients; meraki-ble: BLE tags heard by Meraki APs. */
export type Source = 'ble' | 'wifi' | 'meraki-ble';
export type ExitReason = 'left' | 'moved' | 'absent' | 'rotation' | 'shutdown' | 'evicted';

export interface Tuning extends SmoothingOptions {
  enterMeters: number;
  exitMeters: number;
  minDwellMs: number;
  exitAfterMs: number;
  absenceMs: number;
  switchMarginMeters: number;
}

export interface EngineOptions {
  ble: Tuning;
  /** Tuning of both Meraki sources (posts arrive about once a minute). */
  wifi: Tuning;
  /** 0 = no dwell events. */
  dwellEveryMs: number;
  maxSubjects: number;
}

/** What is known about a subject besides its readings; copied into its events. */
export interface SubjectInfo {
  subjectType: 'tag' | 'device';
  /** Registry tag class (loyalty-app, staff-badge…), for tags. */
  tag?: string;
  randomized: boolean;
  /** Key period of the pseudonym. */
  epoch: string;
}

export interface Observation {
  subject: string;
  source: Source;
  zone: string;
  time: number;
  /** dBm. */
  rssi: number;
  rssiAt1m: number;
  pathLossExponent: number;
  /** A located observation (x/y inside the zone's polygon): distance 0 whatever the RSSI. */
  inside?: boolean;
  info: SubjectInfo;
}

interface Base {
  time: number;
  subject: string;
  source: Source;
  zone: string;
  info: SubjectInfo;
  /** Smoothed RSSI, dBm, rounded. */
  rssi: number;
  /** Smoothed distance estimate, metres, 0.1 m resolution. */
  distanceM: number;
}

export type Transition =
  | (Base & { type: 'enter' })
  | (Base & { type: 'exit'; reason: ExitReason; enteredAt: number; lastSeenAt: number; dwellMs: number })
  | (Base & { type: 'dwell'; enteredAt: number; dwellMs: number });

interface Track {
  smoother: Smoother;
  rssi: number;
  distance: number;
  lastAt: number;
  /** Since when distance ≤ enterMeters, continuously. */
  qualifiedSince: number | undefined;
  /** Since when this zone has been closer than the current one by the margin. */
  betterSince: number | undefined;
}

interface Current {
  zone: string;
  enteredAt: number;
  lastDwellAt: number;
  /** Since when the current zone's distance has been above exitMeters. */
  outSince: number | undefined;
}

interface Subject {
  /** source + subject: the same tag seen by the gateway's receivers and by Meraki is tracked twice. */
  key: string;
  id: string;
  source: Source;
  info: SubjectInfo;
  tracks: Map<string, Track>;
  current: Current | undefined;
  lastHeard: number;
  lastEval: number;
}

const round1 = (v: number) => Math.round(v * 10) / 10;

export class PresenceEngine {
  private readonly subjects = new Map<string, Subject>();
  counts = { observations: 0, stale: 0, enters: 0, exits: 0, dwells: 0, evicted: 0 };

  constructor(private readonly opts: EngineOptions) {}

  private tuning(source: Source): Tuning {
    return source === 'ble' ? this.opts.ble : this.opts.wifi;
  }

  /** Adds one reading and returns the transitions it causes. */
  observe(o: Observation): Transition[] {
    const out: Transition[] = [];
    const key = `${o.source}|${o.subject}`;
    let s = this.subjects.get(key);
    if (!s) {
      if (this.subjects.size >= this.opts.maxSubjects) this.evictOne(o.time, out);
      s = {
        key,
        id: o.subject,
        source: o.source,
        info: o.info,
        tracks: new Map(),
        current: undefined,
        lastHeard: o.time,
        lastEval: o.time,
      };
      this.subjects.set(key, s);
    }
    const t = this.tuning(s.source);
    const now = Math.max(o.time, s.lastEval);
    // A reading older than the absence window cannot change anything any more (late Meraki batch).
    if (now - o.time > t.absenceMs) {
      this.counts.stale++;
      return out;
    }
    this.counts.observations++;
    s.info = o.info;
    s.lastHeard = Math.max(s.lastHeard, o.time);
    let track = s.tracks.get(o.zone);
    if (!track) {
      track = {
        smoother: createSmoother(t),
        rssi: o.rssi,
        distance: Number.POSITIVE_INFINITY,
        lastAt: o.time,
        qualifiedSince: undefined,
        betterSince: undefined,
      };
      s.tracks.set(o.zone, track);
    }
    track.rssi = track.smoother.push(o.rssi, o.time);
    track.distance = o.inside ? 0 : logDistance(track.rssi, o.rssiAt1m, o.pathLossExponent);
    track.lastAt = Math.max(track.lastAt, o.time);
    this.evaluate(s, now, out);
    return out;
  }

  /** Evaluates every subject at `now` (absence, exit delays, dwell) and forgets finished ones. */
  tick(now: number): Transition[] {
    const out: Transition[] = [];
    for (const s of this.subjects.values()) {
      if (now < s.lastEval) continue;
      this.evaluate(s, now, out);
      const t = this.tuning(s.source);
      if (!s.current && now - s.lastHeard > t.absenceMs) this.subjects.delete(s.key);
    }
    return out;
  }

  /** Exits every subject from its zone (key rotation, shutdown) and forgets all state. */
  closeAll(now: number, reason: ExitReason): Transition[] {
    const out: Transition[] = [];
    for (const s of this.subjects.values()) if (s.current) this.exit(s, now, reason, out);
    this.subjects.clear();
    return out;
  }

  get size(): number {
    return this.subjects.size;
  }

  /** Subjects currently in each zone. */
  zoneCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of this.subjects.values()) {
      if (s.current) counts[s.current.zone] = (counts[s.current.zone] ?? 0) + 1;
    }
    return counts;
  }

  private evaluate(s: Subject, now: number, out: Transition[]): void {
    s.lastEval = now;
    const t = this.tuning(s.source);
    for (const [zone, track] of s.tracks) {
      if (now - track.lastAt > t.absenceMs) {
        if (s.current?.zone !== zone) s.tracks.delete(zone);
        track.qualifiedSince = undefined;
        continue;
      }
      if (track.distance <= t.enterMeters) track.qualifiedSince ??= track.lastAt;
      else track.qualifiedSince = undefined;
    }
    let cur = s.current;
    if (cur) {
      const track = s.tracks.get(cur.zone);
      if (!track || now - track.lastAt > t.absenceMs) {
        this.exit(s, now, 'absent', out);
        cur = undefined;
      } else if (track.distance > t.exitMeters) {
        cur.outSince ??= now;
        if (now - cur.outSince >= t.exitAfterMs) {
          this.exit(s, now, 'left', out);
          cur = undefined;
        }
      } else {
        cur.outSince = undefined;
      }
    }
    const best = this.bestCandidate(s, now, t);
    if (best && !cur) {
      this.enter(s, best, now, out);
    } else if (best && cur) {
      const curTrack = s.tracks.get(cur.zone) as Track;
      const [, cand] = best;
      if (cand.distance + t.switchMarginMeters < curTrack.distance) cand.betterSince ??= now;
      else cand.betterSince = undefined;
      const sustained = cand.betterSince !== undefined && now - cand.betterSince >= t.minDwellMs;
      // Located observations (Wi-Fi x/y) simply stop arriving for the zone that was left.
      const silent = curTrack.lastAt < (cand.qualifiedSince as number);
      if (sustained || silent) {
        this.exit(s, now, 'moved', out);
        this.enter(s, best, now, out);
      }
    }
    this.dwell(s, now, out);
  }

  /** The closest zone (other than the current one) that has qualified for at least minDwell. */
  private bestCandidate(s: Subject, now: number, t: Tuning): [string, Track] | undefined {
    let best: [string, Track] | undefined;
    for (const [zone, track] of s.tracks) {
      if (zone === s.current?.zone) continue;
      if (track.qualifiedSince === undefined || now - track.qualifiedSince < t.minDwellMs) continue;
      if (!best || track.distance < best[1].distance) best = [zone, track];
    }
    for (const [zone, track] of s.tracks) if (zone !== best?.[0]) track.betterSince = undefined;
    return best;
  }

  private base(s: Subject, zone: string, now: number): Base {
    const track = s.tracks.get(zone);
    return {
      time: now,
      subject: s.id,
      source: s.source,
      zone,
      info: s.info,
      rssi: Math.round(track?.rssi ?? 0),
      distanceM: round1(Math.min(track?.distance ?? 0, 1000)),
    };
  }

  private enter(s: Subject, [zone, track]: [string, Track], now: number, out: Transition[]): void {
    s.current = { zone, enteredAt: now, lastDwellAt: now, outSince: undefined };
    track.betterSince = undefined;
    this.counts.enters++;
    out.push({ ...this.base(s, zone, now), type: 'enter' });
  }

  private exit(s: Subject, now: number, reason: ExitReason, out: Transition[]): void {
    const cur = s.current;
    if (!cur) return;
    const track = s.tracks.get(cur.zone);
    const lastSeenAt = Math.min(track?.lastAt ?? s.lastHeard, now);
    // A subject that vanished left when it was last heard, not when the timeout noticed.
    const leftAt = reason === 'absent' || reason === 'evicted' ? lastSeenAt : now;
    s.current = undefined;
    this.counts.exits++;
    out.push({
      ...this.base(s, cur.zone, now),
      type: 'exit',
      reason,
      enteredAt: cur.enteredAt,
      lastSeenAt,
      dwellMs: Math.max(0, leftAt - cur.enteredAt),
    });
  }

  private dwell(s: Subject, now: number, out: Transition[]): void {
    const cur = s.current;
    if (!cur || this.opts.dwellEveryMs <= 0 || now - cur.lastDwellAt < this.opts.dwellEveryMs) return;
    cur.lastDwellAt = now;
    this.counts.dwells++;
    out.push({
      ...this.base(s, cur.zone, now),
      type: 'dwell',
      enteredAt: cur.enteredAt,
      dwellMs: now - cur.enteredAt,
    });
  }

  private evictOne(now: number, out: Transition[]): void {
    let oldest: Subject | undefined;
    for (const s of this.subjects.values()) if (!oldest || s.lastHeard < oldest.lastHeard) oldest = s;
    if (!oldest) return;
    this.exit(oldest, now, 'evicted', out);
    this.subjects.delete(oldest.key);
    this.counts.evicted++;
  }
}
