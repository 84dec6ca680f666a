import type { SubjectLoyalty } from '../presence/identity-hook.js';

/** One device linked to a loyalty account by a consented Wi-Fi sign-in. */
export interface Link {
  /** The device's presence pseudonym (source wifi). */
  subject: string;
  /** What presence events of the device carry: the loyalty id or its hash, as configured. */
  loyalty: SubjectLoyalty;
  linkedAt: number;
  /** Ends here at the latest (sign-in + ttl, capped at the end of the key day). */
  expiresAt: number;
  /** Last time presence asked for the subject (sign-in time at first). */
  lastSeenAt: number;
}

export interface LinkStoreOptions {
  ttlMs: number;
  /** A link nobody asked for in this long ends. */
  idleMs: number;
  max: number;
}

/**
 * The visit-long links of pseudonymous devices to loyalty accounts, in memory only: never written
 * to disk, the buffer or logs, gone with a restart. Clock-free (every call takes `now`), so expiry
 * is tested with an injected time. Insertion order is kept, so the oldest link goes first when the
 * store is full.
 */
export class LinkStore {
  private readonly links = new Map<string, Link>();

  constructor(private readonly opts: LinkStoreOptions) {}

  get size(): number {
    return this.links.size;
  }

  /** When a link made at `now` ends at the latest. */
  expiryFor(now: number, hardEnd = Number.POSITIVE_INFINITY): number {
    return Math.min(now + this.opts.ttlMs, hardEnd);
  }

  /** Links `subject` (replacing an earlier link of it) until `min(now + ttl, hardEnd)`. */
  link(subject: string, loyalty: SubjectLoyalty, now: number, hardEnd = Number.POSITIVE_INFINITY): Link {
    this.links.delete(subject);
    while (this.links.size >= this.opts.max) {
      const [oldest] = this.links.keys();
      if (oldest === undefined) break;
      this.links.delete(oldest);
    }
    const link: Link = {
      subject,
      loyalty: { ...loyalty },
      linkedAt: now,
      expiresAt: this.expiryFor(now, hardEnd),
      lastSeenAt: now,
    };
    this.links.set(subject, link);
    return link;
  }

  /** Ends the link of `subject` (consent withdrawn); true when there was one. */
  unlink(subject: string): boolean {
    return this.links.delete(subject);
  }

  private live(link: Link, now: number): boolean {
    return now < link.expiresAt && now - link.lastSeenAt < this.opts.idleMs && now >= link.linkedAt - 60_000;
  }

  /** The live link of `subject`, refreshing its idle time; an expired one is removed. */
  lookup(subject: string, now: number): Link | undefined {
    const link = this.links.get(subject);
    if (!link) return undefined;
    if (!this.live(link, now)) {
      this.links.delete(subject);
      return undefined;
    }
    link.lastSeenAt = Math.max(link.lastSeenAt, now);
    return link;
  }

  /** Removes every expired link; returns how many went. */
  purge(now: number): number {
    let n = 0;
    for (const [subject, link] of this.links) {
      if (!this.live(link, now)) {
        this.links.delete(subject);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.links.clear();
  }
}

/** The shopper identified last at a lane, for the lane's own lookup. */
export interface LaneIdentity {
  loyaltyId: string;
  method: 'card' | 'app';
  scheme: string;
  deviceId: string;
  at: number;
}

/** Who was identified at each lane, for `holdMs`; a new identification at a lane replaces the old. */
export class LaneIdentities {
  private readonly lanes = new Map<string, LaneIdentity>();

  constructor(private readonly holdMs: number) {}

  get size(): number {
    return this.lanes.size;
  }

  set(lane: string, who: LaneIdentity): void {
    this.lanes.set(lane, who);
  }

  get(lane: string, now: number): LaneIdentity | undefined {
    const who = this.lanes.get(lane);
    if (who && (now - who.at >= this.holdMs || now < who.at - 60_000)) {
      this.lanes.delete(lane);
      return undefined;
    }
    return who;
  }

  delete(lane: string): boolean {
    return this.lanes.delete(lane);
  }

  purge(now: number): void {
    for (const lane of [...this.lanes.keys()]) this.get(lane, now);
  }
}
