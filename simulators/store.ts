import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Framing } from '../drivers/serial-scanner/config.js';
import { sleep } from '../src/util/sleep.js';
import { DEMO_PRODUCTS, pick, seededRandom } from './barcodes.js';
import { SimulatedSerialScanner } from './serial-scanner.js';

/** Lane scanners set up the way real ones ship (see drivers/serial-scanner/README.md). */
const LANE_PROFILES: readonly { framing: Framing; aim: boolean; note: string }[] = [
  { framing: { suffix: '\r\n' }, aim: false, note: 'CR LF suffix (Honeywell/Datalogic RS-232 default)' },
  { framing: { stx: true }, aim: true, note: 'STX…ETX with AIM ids (host mode)' },
  { framing: { idleMs: 40 }, aim: true, note: 'no terminator, idle gap (Zebra factory default)' },
];

export interface StoreOptions {
  /** Directory for the device links (like /dev/serial/by-id). */
  devDir: string;
  lanes: number;
  /** Average scans per second per lane while a shopper is at the lane. */
  rate: number;
  seed?: number;
  /** Unplug a random lane every this many seconds, for this long (0 = never). */
  unplugEverySec?: number;
  unplugForSec?: number;
}

export interface Lane {
  id: string;
  scanner: SimulatedSerialScanner;
  note: string;
}

/**
 * A simulated store: checkout lanes with serial scanners on real pseudo-terminals, shoppers
 * scanning baskets, and now and then a scanner cable pulled and pushed back in.
 */
export class SimulatedStore {
  readonly lanes: Lane[];
  private readonly abort = new AbortController();
  private loops: Promise<unknown>[] = [];
  private readonly random: () => number;

  constructor(private readonly opts: StoreOptions) {
    mkdirSync(opts.devDir, { recursive: true });
    this.random = seededRandom(opts.seed ?? 421);
    this.lanes = Array.from({ length: opts.lanes }, (_, i) => {
      const profile = LANE_PROFILES[i % LANE_PROFILES.length] as (typeof LANE_PROFILES)[number];
      const id = `lane-${i + 1}-scanner`;
      return {
        id,
        note: profile.note,
        scanner: new SimulatedSerialScanner({
          linkPath: join(opts.devDir, id),
          framing: profile.framing,
          aim: profile.aim,
        }),
      };
    });
  }

  /** Device entries for the gateway's config, one per lane. */
  deviceConfigs(): Record<string, unknown>[] {
    return this.lanes.map((l) => ({
      id: l.id,
      kind: 'serial-scanner',
      path: l.scanner.options.linkPath,
      baudRate: 9600,
      framing: l.scanner.options.framing,
      aim: l.scanner.options.aim ?? false,
    }));
  }

  async plugAll(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.scanner.plug()));
  }

  /** Starts shoppers at every lane (and cable pulls, if asked). */
  start(): void {
    const signal = this.abort.signal;
    for (const lane of this.lanes) this.loops.push(this.shoppers(lane, signal));
    if (this.opts.unplugEverySec) this.loops.push(this.cablePulls(signal));
  }

  private async shoppers(lane: Lane, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const basket = 2 + Math.floor(this.random() * 6);
      for (let i = 0; i < basket && !signal.aborted; i++) {
        if (lane.scanner.plugged) await lane.scanner.scan(pick(DEMO_PRODUCTS, this.random)).catch(() => {});
        await sleep((1000 / this.opts.rate) * (0.5 + this.random()), signal);
      }
      await sleep(1000 + this.random() * 3000, signal);
    }
  }

  private async cablePulls(signal: AbortSignal): Promise<void> {
    const every = (this.opts.unplugEverySec ?? 0) * 1000;
    while (await sleep(every, signal)) {
      const lane = pick(this.lanes, this.random);
      await lane.scanner.unplug();
      await sleep((this.opts.unplugForSec ?? 3) * 1000, signal);
      await lane.scanner.plug();
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
    await Promise.all(this.lanes.map((l) => l.scanner.unplug()));
  }
}
