import { createHmac } from 'node:crypto';
import type { EpochKey } from './key-store.js';

/** What a pseudonym stands for; part of the HMAC input, so the same bytes in two roles differ. */
export type SubjectNamespace = 'wifi' | 'ble' | 'tag' | 'payment' | 'loyalty';

export interface KeySource {
  keyFor(nowMs: number): EpochKey;
}

export interface Pseudonym {
  /** Truncated HMAC-SHA256, lower-case hex. */
  id: string;
  /** The key period, e.g. "2026-11-24": pseudonyms of different periods are unrelated. */
  epoch: string;
}

/**
 * Keyed hashing of device identifiers: HMAC-SHA256(day key, store ‖ namespace ‖ value), truncated to
 * `length` hex digits. Without the day's key (kept only on the gateway, forgotten at rotation) a
 * pseudonym cannot be linked back to an address by trying all 2^48 MACs.
 */
export class Pseudonymizer {
  constructor(
    private readonly keys: KeySource,
    private readonly opts: { storeId: string; length: number },
  ) {}

  pseudonym(namespace: SubjectNamespace, value: string, nowMs: number): Pseudonym {
    const { epoch, key } = this.keys.keyFor(nowMs);
    const id = createHmac('sha256', key)
      .update(`${this.opts.storeId}\u0000${namespace}\u0000${value}`)
      .digest('hex')
      .slice(0, this.opts.length);
    return { id, epoch };
  }

  epoch(nowMs: number): string {
    return this.keys.keyFor(nowMs).epoch;
  }
}
